"""The ``steadystate`` process entry point keeps pandas out: pyarrow would import it on its first array built from
Python values only to ask whether they are pandas objects (~0.4 s of CPU and ~40 MB in every server and replica
process).  Checked in a fresh interpreter, with the Arrow work a replica does, since the refusal is process-wide."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from steadystate.__main__ import run
sys.argv = ["steadystate", "--help"]  # the whole entry point, which prints its help and exits
try:
    run()
except SystemExit as done:
    assert done.code == 0
import pyarrow as pa, pyarrow.compute as pc
from steadystate.pgwire import batch  # noqa: F401  (builds an Arrow scalar when imported)
table = pa.table({"a": pa.array([1, None, 3]), "b": pa.array(["x", "y", None])})
assert pc.sum(table["a"]).as_py() == 4 and table.to_pylist()[1] == {"a": None, "b": "y"}
try:
    import pandas  # noqa: F401
except ImportError:
    pass
else:
    raise AssertionError("pandas was importable")
print("pandas" in sys.modules)
"""


def test_the_process_entry_point_refuses_pandas_and_arrow_still_works() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "False"
