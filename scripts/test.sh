#!/usr/bin/env bash
# Install everything the tests need and run the whole suite.
# Usage: bash scripts/test.sh [pytest args...]
# Works on a fresh Debian machine with Python 3.11, as root or as a user with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

# psql (client tests) and the PostgreSQL server binaries (the postgres storage backend's tests).
if ! command -v psql >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql postgresql-client >/dev/null
  fi
fi
# Chromium (the operator console's browser tests, tests/e2e/test_console_browser.py, drive it headless; they fail without it).
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
fi
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -n "$PG_BIN" ]; then export PATH="$PATH:$PG_BIN"; fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test]"

# dbt-materialize (tests/e2e/test_tools_dbt*.py run its `dbt` CLI) in its own venv: dbt-core pins protobuf, pydantic
# and click on its own schedule. Every dbt-materialize release declares a git-URL dependency in its `dev` extra, which
# pip 26 refuses for any PyPI distribution even with --no-deps, so this venv's pip is 25.0.1 (which does not check);
# the whole dependency closure is pinned in tests/e2e/dbt/requirements.txt and installed with --no-deps.
if [ ! -x .venv-dbt/bin/dbt ]; then
  "$PYTHON" -m venv .venv-dbt
  .venv-dbt/bin/python -m pip install -q pip==25.0.1 >/dev/null
  .venv-dbt/bin/python -m pip install -q --no-deps -r tests/e2e/dbt/requirements.txt
fi

# static checks first: lint (ruff) and types (mypy, configured in pyproject.toml)
.venv/bin/python -m ruff check src tests bench
.venv/bin/python -m mypy

# two test processes (pytest-xdist), each test file's tests in one of them (its module fixtures start their servers
# once); STEADYSTATE_TEST_WORKERS=0 runs everything in this process
exec .venv/bin/python -m pytest -n "${STEADYSTATE_TEST_WORKERS:-2}" --dist loadfile "$@"
