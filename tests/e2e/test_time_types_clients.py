"""timestamptz, interval and time through real clients, in maintained views and indexes, across a restart.

The same rows go into steadystate (through psycopg, with text and with binary parameters, and through COPY) and into
a real PostgreSQL server; views and a materialized view that group by an interval, join on a timestamptz, order by
a time and do date/time arithmetic — maintained by the replicas, one read through an index — answer as PostgreSQL
does on the same rows, before and after more writes and after a coordinator restart (the values are durable).
psycopg decodes every type from both wire formats.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from typing import Any

import psycopg


def _load_postgres_fixture() -> Any:
    path = Path(__file__).resolve().parent.parent / "storage" / "conftest.py"
    spec = importlib.util.spec_from_file_location("steadystate_storage_fixtures_e2e", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.postgres_server


postgres_server = _load_postgres_fixture()

UTC = dt.timezone.utc
TABLES = [
    "CREATE TABLE ev (id int, at timestamptz, d interval, t time, ts timestamp, day date)",
    "CREATE TABLE who (at timestamptz, name text)",
]
VIEWS = {
    "by_duration": "SELECT d, count(*) AS n, max(at) AS last FROM ev GROUP BY d",
    "joined": "SELECT ev.id, who.name, ev.at + ev.d AS ends, ev.ts - ev.day AS since FROM ev JOIN who ON ev.at = who.at",
    "late": "SELECT id, t, extract(epoch FROM d) AS secs, date_trunc('hour', at) AS hour FROM ev WHERE t > '12:00'",
}
ROWS = [
    (1, dt.datetime(2024, 1, 1, 10, 0, tzinfo=UTC), dt.timedelta(days=1), dt.time(9, 30), dt.datetime(2024, 1, 2, 3),
     dt.date(2024, 1, 1)),
    (2, dt.datetime(2024, 1, 1, 12, 0, 0, 500000, tzinfo=UTC), dt.timedelta(hours=24), dt.time(13, 0, 0, 250),
     dt.datetime(2024, 3, 1), dt.date(2024, 2, 28)),
    (3, dt.datetime(2023, 12, 31, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=2))), dt.timedelta(minutes=90),
     dt.time(23, 59, 59), None, dt.date(2023, 12, 31)),
]
MORE = "INSERT INTO ev VALUES (4, '2024-01-01 10:00:00+00', '1 mon', '15:00', '2024-02-29 12:00', '2024-02-01')"
WHO = "INSERT INTO who VALUES ('2024-01-01 10:00:00Z', 'ann'), ('2023-12-31 21:59:00+00', 'bob')"


def _answers(conn: psycopg.Connection, binary: bool = False) -> dict[str, list[tuple]]:
    out = {}
    for name in VIEWS:
        cursor = conn.cursor(binary=binary)
        out[name] = sorted(cursor.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
    return out


def test_time_types_in_maintained_views_agree_with_postgresql(env, postgres_server: str) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(postgres_server, autocommit=True) as theirs, env.connect() as ours:
        theirs.execute("DROP SCHEMA IF EXISTS time_e2e CASCADE")
        theirs.execute("CREATE SCHEMA time_e2e")
        theirs.execute("SET search_path = time_e2e")
        theirs.execute("SET TimeZone = 'UTC'")
        for conn in (ours, theirs):
            for ddl in TABLES:
                conn.execute(ddl)
            for name, sql in VIEWS.items():
                kind = "MATERIALIZED VIEW" if name == "by_duration" and conn is ours else "VIEW"
                conn.execute(f"CREATE {kind} {name} AS {sql}")
        ours.execute("CREATE INDEX late_idx ON late (id)")  # read through an index, maintained by the replica
        ours.execute("CREATE INDEX ev_d ON ev (d)")
        insert = "INSERT INTO ev VALUES (%s, %s, %s, %s, %s, %s)"
        for conn in (ours, theirs):
            conn.execute(insert, ROWS[0])
            conn.execute(insert.replace("%s", "%b"), ROWS[1])
            with conn.cursor().copy("COPY ev FROM STDIN") as copy:
                copy.write_row(ROWS[2])
            conn.execute(WHO)
        expected = _answers(theirs)
        assert _answers(ours) == expected
        assert _answers(ours, binary=True) == _answers(theirs, binary=True)
        for conn in (ours, theirs):
            conn.execute(MORE)
            conn.execute("DELETE FROM ev WHERE id = 2")
        expected = _answers(theirs)
        assert _answers(ours) == expected
        point = "SELECT id, at, d, t FROM ev WHERE d = '1 day' ORDER BY at, id"  # '1 day' = '24 hours' too
        assert ours.execute(point).fetchall() == theirs.execute(point).fetchall()
        order = "SELECT t, d, at FROM ev ORDER BY t DESC, d, at"
        assert ours.execute(order).fetchall() == theirs.execute(order).fetchall()
    env.restart()
    with env.connect() as ours:
        assert _answers(ours) == expected
        row = ours.execute("SELECT at, d, t FROM ev WHERE id = 3").fetchone()
        assert row == (dt.datetime(2023, 12, 31, 21, 59, tzinfo=UTC), dt.timedelta(minutes=90), dt.time(23, 59, 59))
