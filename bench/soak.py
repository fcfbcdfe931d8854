"""The long chaos soak: the workload of ``tests/e2e/chaos_workload.py`` for minutes, not seconds.

    python bench/soak.py [--minutes 10] [--seed 1] [--query-threads 2]

Starts a fresh ``steadystate serve`` (the e2e ``Environment``) in a temporary directory, runs the write-and-query
workload against a sealed two-replica cluster while a seeded injector ``kill -9``s replicas and the coordinator
at random moments, and prints the same table as the CI test: acknowledged writes lost, answers that differ
from the model / DuckDB, recoveries needing a manual step, failed/blocked queries by fault kind.  Exits 1 if any
of the three must-be-zero figures is not zero.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))

from chaos_workload import ChaosRun  # noqa: E402
from conftest import Environment  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run the workload (10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--query-threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="steadystate-soak-") as tmp:
        env = Environment(Path(tmp) / "data")
        env.start()
        try:
            report = ChaosRun(env, args.seed, args.minutes * 60, query_threads=args.query_threads).run()
        finally:
            env.stop()
            env.reap_replicas()
    print(report.table())
    for wrong in report.wrong[:10]:
        print(f"  wrong answer: {wrong}")
    return 0 if report.lost == 0 and not report.wrong and report.manual_recoveries == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
