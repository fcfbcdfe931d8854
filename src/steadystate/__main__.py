"""``python -m steadystate`` and the ``steadystate`` console script: the command line of ``steadystate.cli``, run as
a process that keeps pandas out.

pyarrow imports pandas, where it is installed (as it is for the tests), the first time it builds an array from
Python values, only to ask whether they are pandas objects: about 0.4 s of CPU and 40 MB in every server, coordinator
and replica process, none of which uses pandas.  :func:`run` refuses the import before anything of steadystate is
loaded (``steadystate.cli`` already reaches pyarrow through the supervisor's proxy); pyarrow then takes pandas as not
installed.  Code that calls ``steadystate.cli.main`` in its own process (the tests) is left alone.
"""

from __future__ import annotations

import importlib.abc
import sys


class NoPandas(importlib.abc.MetaPathFinder):
    """A finder that refuses ``pandas`` and its submodules."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not used by steadystate's processes")
        return None


def run() -> int:
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, NoPandas())
    from steadystate.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
