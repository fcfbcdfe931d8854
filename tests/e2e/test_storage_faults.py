"""Storage faults with a real ``steadystate serve``: a storage URL the coordinator cannot use ends ``serve`` with a
clear message instead of restarting the coordinator forever while clients hang."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from steadystate.supervisor import EXIT_CONFIG


@pytest.mark.parametrize("url", ["mysql://localhost/steadystate", "sqlite://relative/storage.db"])
def test_a_bad_storage_url_exits_with_a_clear_message(tmp_path: Path, url: str) -> None:
    result = subprocess.run([sys.executable, "-m", "steadystate", "serve", "--data-dir", str(tmp_path / "data"),
                             "--sql-port", "0", "--http-port", "0", "--storage-url", url],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == EXIT_CONFIG, result.stderr[-2000:]
    assert "configuration error" in result.stderr and "storage url" in result.stderr
    assert "restarting it in" not in result.stderr  # not restarted
