"""``substring(s FROM pattern)``: PostgreSQL's regular-expression form (a text or string-literal pattern), beside
the character form (``FROM n [FOR m]``), against the PostgreSQL server.  It failed with 22P02, reading the pattern
as a start position.  Skipped when the PostgreSQL binaries are absent."""

from __future__ import annotations

import asyncio
from typing import Iterator

import psycopg
import pytest

from steadystate.testing import memory_environment

QUERIES = [
    "SELECT substring('abcdef' from 'c.e'), substring('abcdef' from 'b(.)d'), substring('abcdef' from 'z'), "
    "substring('abcdef' from 2), substring('abcdef' from 2 for 3)",
    "SELECT substring('abcdef', 'c.e'), substring('abcdef', 3), substring('abc' from NULL), substring(NULL from 'a')",
    "SELECT substring('a1b2' from '[0-9]+'), substring('ab' from '(x)|a'), substring('abc2' from '2'), "
    "substring('abc' from '2'::text)",
    "SELECT v, substring(v from '[aeiou].'), substring(v from p), substring(v from 2 for 2) FROM sr_t",
]


@pytest.fixture(scope="module")
def postgres(postgres_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS sr_t")
        conn.execute("CREATE TABLE sr_t (v text, p text)")
        conn.execute("INSERT INTO sr_t VALUES ('banana', 'n(a)'), ('kiwi', 'w.'), (NULL, 'a'), ('fig', NULL)")
        yield conn


def test_substring_from_a_pattern_answers_as_postgresql(postgres: psycopg.Connection) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await env.execute("CREATE TABLE sr_t (v text, p text)")
            await env.execute("INSERT INTO sr_t VALUES ('banana', 'n(a)'), ('kiwi', 'w.'), (NULL, 'a'), ('fig', NULL)")
            for query in QUERIES:
                want = sorted(postgres.execute(query).fetchall(), key=repr)  # type: ignore[arg-type]
                assert sorted(await env.query(query), key=repr) == want, query
            await env.execute("CREATE VIEW sr_v AS SELECT v, substring(v from '[aeiou].') AS s FROM sr_t")
            await env.execute("CREATE DEFAULT INDEX ON sr_v")
            await env.execute("INSERT INTO sr_t VALUES ('plum', 'u')")
            postgres.execute("INSERT INTO sr_t VALUES ('plum', 'u')")
            want = sorted(postgres.execute("SELECT v, substring(v from '[aeiou].') FROM sr_t").fetchall(), key=repr)
            assert sorted(await env.query("SELECT * FROM sr_v"), key=repr) == want
    asyncio.run(main())
