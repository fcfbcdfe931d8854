"""Storage faults with a real ``steadystate serve``: a storage URL the coordinator cannot use ends ``serve`` with a
clear message instead of restarting the coordinator forever while clients hang; a corrupted catalog keeps the
coordinator from starting, and readyz says so (503 with the reason) instead of hanging."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from steadystate.supervisor import EXIT_CONFIG
from steadystate.testing.ports import free_port


@pytest.mark.parametrize("url", ["mysql://localhost/steadystate", "sqlite://relative/storage.db"])
def test_a_bad_storage_url_exits_with_a_clear_message(tmp_path: Path, url: str) -> None:
    result = subprocess.run([sys.executable, "-m", "steadystate", "serve", "--data-dir", str(tmp_path / "data"),
                             "--sql-port", "0", "--http-port", "0", "--storage-url", url],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == EXIT_CONFIG, result.stderr[-2000:]
    assert "configuration error" in result.stderr and "storage url" in result.stderr
    assert "restarting it in" not in result.stderr  # not restarted


def test_readyz_answers_503_with_the_reason_while_the_coordinator_cannot_start(make_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A corrupted catalog record: the coordinator refuses to start (XX001) and is restarted, and meanwhile
    readyz answers 503 naming the corruption instead of hanging."""
    env = make_env()
    env.execute("CREATE TABLE sf_t (a int)")
    env.stop()
    with sqlite3.connect(env.data_dir / "catalog.db") as conn:
        (record_id, value), = conn.execute("SELECT id, value FROM records WHERE kind = 'item'")
        damaged = bytearray(value)
        damaged[-2] ^= 0x01
        conn.execute("UPDATE records SET value = ? WHERE id = ?", (bytes(damaged), record_id))
    http_port, sql_port = free_port(), free_port()
    with open(tmp_path / "serve.log", "wb") as log:
        serve = subprocess.Popen([sys.executable, "-m", "steadystate", "serve", "--data-dir", str(env.data_dir),
                                  "--sql-port", str(sql_port), "--http-port", str(http_port)],
                                 stdout=log, stderr=log, start_new_session=True)
    try:
        deadline, answer = time.monotonic() + 90, None
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/readyz", timeout=20)
                pytest.fail("readyz answered 200 with a corrupted catalog")
            except urllib.error.HTTPError as error:
                answer = json.loads(error.read())
                assert error.code == 503 and answer["ready"] is False
                if "corrupted" in answer["reason"]:
                    break
            except OSError:
                pass  # between two coordinators nobody answers for a moment
            time.sleep(0.2)
        assert answer is not None and "corrupted" in answer["reason"] and record_id in answer["reason"], answer
    finally:
        os.killpg(serve.pid, signal.SIGKILL)
        serve.wait()
