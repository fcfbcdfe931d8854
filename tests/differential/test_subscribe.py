"""SUBSCRIBE exactness: folding a subscription's updates reproduces the view at every timestamp.

A thread runs ``COPY (SUBSCRIBE v) TO STDOUT`` through psycopg and collects (mz_timestamp, mz_diff, row).
The main thread applies hypothesis-generated writes to the server and to DuckDB, recording DuckDB's answer
after each write.  Each write commits at its own timestamp, so folding the updates in timestamp order must
step through those answers in order: the state after every timestamp equals DuckDB's answer after some
write, never going back, and ends at the answer after the last write.  Within one timestamp the updates
must be consolidated (no row both added and retracted, no multiplicity driven below zero).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from decimal import Decimal, InvalidOperation

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from diff_support import Mirror, normalize_rows

COUNTER = itertools.count()

SCHEMA = "k int, v int, s text"
VALUES = st.tuples(st.sampled_from([None, 0, 1, 2]), st.sampled_from([None, 1, 2, 5]),
                   st.sampled_from([None, "a", "b"]))


def sql_value(value: object) -> str:
    return "NULL" if value is None else f"'{value}'" if isinstance(value, str) else str(value)


WRITES = st.one_of(
    st.lists(VALUES, min_size=1, max_size=3).map(
        lambda rows: "INSERT INTO {t} VALUES " + ", ".join("(" + ", ".join(map(sql_value, r)) + ")" for r in rows)),
    st.sampled_from([0, 1, 2]).map(lambda k: f"DELETE FROM {{t}} WHERE k = {k}"),
    st.tuples(st.sampled_from([0, 1, 2]), st.sampled_from([None, 1, 5])).map(
        lambda kv: f"UPDATE {{t}} SET v = {sql_value(kv[1])} WHERE k = {kv[0]}"),
)

QUERIES = [
    "SELECT k, v, s FROM {t} WHERE v IS NULL OR v > 1",
    "SELECT k, count(*) AS n, sum(v) AS total, max(s) AS top FROM {t} GROUP BY k",
    "SELECT count(*) AS n, count(DISTINCT s) AS ds FROM {t}",
    "SELECT * FROM (SELECT k, v FROM {t}) AS q ORDER BY v DESC, k LIMIT 2",
    "SELECT a.k, b.s FROM {t} AS a LEFT JOIN {t} AS b ON a.k = b.v",
    # join forms: a comma binds looser than JOIN, FULL JOIN USING's merged column, IS NOT DISTINCT FROM as a key
    "SELECT a.k AS ak, b.v AS bv, c.s AS cs FROM {t} AS a, {t} AS b FULL JOIN {t} AS c ON b.k = c.v",
    "SELECT k, a.v AS av, b.s AS bs FROM {t} AS a FULL JOIN {t} AS b USING (k)",
    "SELECT a.k AS ak, b.s AS bs FROM {t} AS a JOIN {t} AS b ON a.k IS NOT DISTINCT FROM b.v",
    # aggregates: FILTER, DISTINCT, string_agg in its own order, variance; DISTINCT ON
    "SELECT k, count(*) FILTER (WHERE v > 1) AS n, string_agg(s, ',' ORDER BY s) AS ss, var_pop(DISTINCT v) AS vp"
    " FROM {t} GROUP BY k",
    "SELECT DISTINCT ON (k) k, v, s FROM {t} ORDER BY k, v NULLS FIRST, s",
    # correlated count and three-valued NOT IN (as 1 / 0 / NULL: the COPY text of booleans is not parsed here)
    "SELECT a.k, (SELECT count(*) FROM {t} AS b WHERE b.v = a.k) AS n,"
    " CASE WHEN a.v NOT IN (SELECT k FROM {t}) THEN 1 WHEN a.v IN (SELECT k FROM {t}) THEN 0 END AS ni FROM {t} AS a",
    # window functions: each change recomputes its partition and emits the difference
    "SELECT k, v, s, rank() OVER (PARTITION BY k ORDER BY v) AS r, sum(v) OVER (PARTITION BY k ORDER BY v, s"
    " ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS w, lag(s) OVER (PARTITION BY k ORDER BY v, s) AS p FROM {t}",
    # ROLLUP: a union of plain GROUP BYs, grouping() a constant per branch
    "SELECT k, s, count(*) AS n, sum(v) AS total, grouping(k, s) AS g FROM {t} GROUP BY ROLLUP (k, s)",
    # LATERAL: the top 2 per key, a TopK grouped by the outer key
    "SELECT a.k, a.s, l.v FROM {t} AS a, LATERAL (SELECT b.v FROM {t} AS b WHERE b.k = a.k ORDER BY b.v DESC NULLS LAST,"
    " b.s LIMIT 2) AS l",
]


def parse_text(field: str) -> object:
    if field == "\\N":
        return None
    try:
        return Decimal(field)
    except InvalidOperation:
        return field


class Subscription:
    """COPY (SUBSCRIBE ...) TO STDOUT in a thread, collecting (timestamp, diff, row)."""

    def __init__(self, conn: psycopg.Connection, target: str) -> None:
        self.conn = conn
        self.target = target
        self.updates: list[tuple[int, int, tuple]] = []
        self.failure: BaseException | None = None
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        buffer = b""
        try:
            with self.conn.cursor().copy(f"COPY (SUBSCRIBE {self.target}) TO STDOUT") as copy:
                for data in copy:
                    buffer += bytes(data)
                    *lines, buffer = buffer.split(b"\n")
                    with self.lock:
                        for line in lines:
                            fields = line.decode().split("\t")
                            row = tuple(parse_text(f) for f in fields[2:])
                            self.updates.append((int(fields[0]), int(fields[1]), row))
        except psycopg.errors.QueryCanceled:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.failure = exc

    def snapshot(self) -> list[tuple[int, int, tuple]]:
        with self.lock:
            return list(self.updates)

    def stop(self) -> None:
        self.conn.cancel()
        self.thread.join(10)


def fold_by_timestamp(updates: list[tuple[int, int, tuple]]) -> list[tuple[int, list[tuple]]]:
    """The multiset after each timestamp, checking per-timestamp consolidation and non-negativity."""
    state: Counter = Counter()
    states = []
    for time_, group in itertools.groupby(sorted(updates, key=lambda u: u[0]), key=lambda u: u[0]):
        seen: dict[tuple, int] = {}
        for _, diff, row in group:
            assert diff != 0, f"zero diff at {time_}: {row}"
            assert row not in seen or (seen[row] > 0) == (diff > 0), f"unconsolidated updates of {row} at {time_}"
            seen[row] = diff
            state[row] += diff
            assert state[row] >= 0, f"multiplicity of {row} below zero at {time_}"
        states.append((time_, normalize_rows(state.elements())))
    return states


@pytest.mark.parametrize("query", QUERIES)
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(initial=st.lists(VALUES, max_size=4), steps=st.lists(WRITES, min_size=1, max_size=5))
def test_subscribe_folds_to_the_view_at_every_timestamp(server, mirror: Mirror, query: str, initial, steps) -> None:  # type: ignore[no-untyped-def]
    table = f"s{next(COUNTER)}_t"
    view_sql = query.format(t=table)
    mirror.both(f"CREATE TABLE {table} ({SCHEMA})")
    subscription = None
    try:
        if initial:
            mirror.both(f"INSERT INTO {table} VALUES " + ", ".join("(" + ", ".join(map(sql_value, r)) + ")" for r in initial))
        mirror.server(f"CREATE VIEW {table}_v AS {view_sql}")
        expected = [normalize_rows(mirror.duckdb(view_sql))]
        subscription = Subscription(server.connect(), f"{table}_v")
        for step in steps:
            mirror.both(step.format(t=table))
            expected.append(normalize_rows(mirror.duckdb(view_sql)))
        deadline = time.monotonic() + 15
        while True:
            states = fold_by_timestamp(subscription.snapshot())
            if (states[-1][1] if states else []) == expected[-1]:
                break
            assert subscription.failure is None, subscription.failure
            assert time.monotonic() < deadline, f"subscription never reached the final state {expected[-1]}: {states}"
            time.sleep(0.05)
        position = 0
        for time_, state in states:
            later = [i for i in range(position, len(expected)) if expected[i] == state]
            assert later, f"state at {time_} is no answer at or after write {position}: {state}; expected {expected}"
            position = later[0]
    finally:
        if subscription is not None:
            subscription.stop()
        mirror.server(f"DROP TABLE IF EXISTS {table} CASCADE")
