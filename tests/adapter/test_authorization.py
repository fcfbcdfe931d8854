"""Authorization in an in-memory environment: GRANT/REVOKE, role attributes and membership, defaults, the audit
log, views that would launder access, and the privilege table's completeness.  (tests/e2e/test_security_privileges.py
checks the refusals again with psycopg against a real server.)"""

from __future__ import annotations

import asyncio
import typing
from typing import Awaitable, Callable

import pytest

from steadystate.adapter.authorization import REQUIREMENTS
from steadystate.adapter.session import ClientSession
from steadystate.errors import SteadyError
from steadystate.sql import plan as p
from steadystate.testing import MemoryEnvironment, memory_environment


def run(test: Callable[[MemoryEnvironment], Awaitable[None]]) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await test(env)

    asyncio.run(main())


async def refused(env: MemoryEnvironment, sql: str, session: ClientSession, sqlstate: str = "42501") -> str:
    with pytest.raises(SteadyError) as info:
        await env.execute(sql, session)
    assert info.value.sqlstate == sqlstate, (sql, info.value)
    return f"{info.value} {info.value.detail}"


def test_every_plan_class_has_a_requirement_entry() -> None:
    assert set(typing.get_args(p.Plan)) == set(REQUIREMENTS)


def test_select_insert_update_delete_follow_grants_and_revokes() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE TABLE t (a int, b text)")
        await env.execute("INSERT INTO t VALUES (1, 'x')")
        await env.execute("CREATE ROLE joe")
        joe = await env.session("joe")
        message = await refused(env, "SELECT a FROM t", joe)
        assert 'permission denied for TABLE "materialize.public.t"' in message
        for sql in ("INSERT INTO t VALUES (2, 'y')", "UPDATE t SET b = 'z' WHERE a = 1", "DELETE FROM t WHERE a = 1",
                    "DELETE FROM t", "COPY (SELECT a FROM t) TO STDOUT", "SUBSCRIBE t"):
            await refused(env, sql, joe)
        await env.execute("GRANT SELECT, INSERT ON TABLE t TO joe")
        assert await env.query("SELECT a FROM t", joe) == [(1,)]
        await env.execute("INSERT INTO t VALUES (2, 'y')", joe)
        await refused(env, "DELETE FROM t WHERE a = 2", joe)
        await env.execute("GRANT DELETE ON t TO joe")
        await env.execute("DELETE FROM t WHERE a = 2", joe)
        await env.execute("REVOKE SELECT ON t FROM joe")
        await refused(env, "SELECT a FROM t", joe)
        await refused(env, "DELETE FROM t WHERE a = 1", joe)  # a WHERE clause reads: SELECT is needed too
        await env.execute("GRANT ALL PRIVILEGES ON t TO PUBLIC")
        assert await env.query("SELECT count(*) FROM t", joe) == [(1,)]
        await env.execute("UPDATE t SET b = 'w' WHERE a = 1", joe)
        await env.execute("REVOKE ALL ON t FROM PUBLIC")
        await refused(env, "SELECT a FROM t", joe)
        assert (await env.query("SELECT a FROM t")) == [(1,)]  # the superuser holds everything

    run(test)


def test_creating_needs_create_on_the_schema_database_and_cluster() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE ROLE ann")
        ann = await env.session("ann")
        assert "SCHEMA \"materialize.public\"" in await refused(env, "CREATE TABLE a1 (x int)", ann)
        await refused(env, "CREATE SCHEMA s1", ann)
        await refused(env, "CREATE CLUSTER c1 (SIZE 'small')", ann)
        await env.execute("GRANT CREATE ON SCHEMA public TO ann")
        await env.execute("CREATE TABLE a1 (x int)", ann)
        await env.execute("INSERT INTO a1 VALUES (1)", ann)  # an owner holds every privilege on what it owns
        assert await env.query("SELECT x FROM a1", ann) == [(1,)]
        assert "CLUSTER \"quickstart\"" in await refused(env, "CREATE MATERIALIZED VIEW m1 AS SELECT x FROM a1", ann)
        await env.execute("GRANT CREATE ON CLUSTER quickstart TO ann")
        await env.execute("CREATE MATERIALIZED VIEW m1 AS SELECT x FROM a1", ann)
        await env.execute("GRANT CREATE ON DATABASE materialize TO ann")
        await env.execute("CREATE SCHEMA s1", ann)
        await env.execute("REVOKE USAGE ON CLUSTER quickstart FROM PUBLIC")
        assert "USAGE" in await refused(env, "SELECT x FROM a1", ann)
        assert await env.query("SELECT 1", ann) == [(1,)]  # constants need no cluster
        await env.execute("GRANT USAGE ON CLUSTER quickstart TO PUBLIC")
        assert await env.query("SELECT x FROM a1", ann) == [(1,)]
        await env.execute("ALTER ROLE ann CREATECLUSTER")
        await env.execute("CREATE CLUSTER c1 (SIZE 'small', REPLICATION FACTOR 0)", ann)
        await env.execute("DROP CLUSTER c1", ann)

    run(test)


def test_a_view_does_not_launder_access() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE TABLE secret (a int)")
        await env.execute("CREATE ROLE eve")
        await env.execute("GRANT CREATE ON SCHEMA public TO eve")
        eve = await env.session("eve")
        await refused(env, "CREATE VIEW peek AS SELECT a FROM secret", eve)
        await env.execute("GRANT SELECT ON secret TO eve")
        await env.execute("CREATE VIEW peek AS SELECT a FROM secret", eve)
        await env.execute("REVOKE SELECT ON secret FROM eve")
        message = await refused(env, "SELECT a FROM peek", eve)  # eve owns the view but no longer reads the table
        assert "secret" in message
        await env.execute("CREATE ROLE bob")
        bob = await env.session("bob")
        await env.execute("GRANT SELECT ON peek TO bob", eve)  # the owner grants on what it owns
        await refused(env, "SELECT a FROM peek", bob)  # the view's owner still lacks SELECT on the table
        await env.execute("GRANT SELECT ON secret TO eve")
        assert await env.query("SELECT a FROM peek", bob) == []
        await refused(env, "GRANT SELECT ON secret TO bob", eve)  # not the owner

    run(test)


def test_role_attributes_superuser_and_membership() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE ROLE admin CREATEROLE")
        await env.execute("CREATE ROLE plain")
        admin, plain = await env.session("admin"), await env.session("plain")
        await refused(env, "CREATE ROLE r1", plain)
        await env.execute("CREATE ROLE r1 CREATEDB", admin)
        await refused(env, "CREATE ROLE boss SUPERUSER", admin)  # superuser only by a superuser
        await refused(env, "ALTER ROLE plain SUPERUSER", admin)
        await refused(env, "ALTER ROLE materialize PASSWORD 'x'", admin)
        await env.execute("ALTER ROLE plain CREATECLUSTER", admin)
        assert env.coordinator.catalog.role_by_name("plain").createcluster  # type: ignore[union-attr]
        # membership: plain inherits what readers holds
        await env.execute("CREATE TABLE shared (a int)")
        await env.execute("CREATE ROLE readers", admin)
        await env.execute("GRANT SELECT ON shared TO readers")
        await refused(env, "SELECT a FROM shared", plain)
        await refused(env, "GRANT readers TO plain", plain)
        await env.execute("GRANT readers TO plain", admin)
        assert await env.query("SELECT a FROM shared", plain) == []
        await env.execute("REVOKE readers FROM plain", admin)
        await refused(env, "SELECT a FROM shared", plain)
        await refused(env, "DROP ROLE materialize", admin)
        await env.execute("DROP ROLE r1", admin)
        # grants go with a dropped role: a new role of the same name does not inherit them
        await env.execute("DROP ROLE readers", admin)
        await env.execute("CREATE ROLE readers", admin)
        await env.execute("GRANT readers TO plain", admin)
        await refused(env, "SELECT a FROM shared", plain)
        # a role that owns objects cannot be dropped
        await env.execute("GRANT CREATE ON SCHEMA public TO plain")
        await env.execute("CREATE TABLE plains (a int)", plain)
        await refused(env, "DROP ROLE plain", admin, "2BP01")

    run(test)


def test_the_audit_log_is_for_superusers_and_roles_granted_it() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE ROLE auditor")
        auditor = await env.session("auditor")
        assert await env.query("SELECT count(*) > 0 FROM mz_catalog.mz_audit_events") == [(True,)]
        assert "mz_audit_events" in await refused(env, "SELECT * FROM mz_catalog.mz_audit_events", auditor)
        assert await env.query("SELECT count(*) > 0 FROM mz_catalog.mz_tables", auditor) is not None
        await env.execute("GRANT SELECT ON mz_catalog.mz_audit_events TO auditor")
        assert await env.query("SELECT count(*) > 0 FROM mz_catalog.mz_audit_events", auditor) == [(True,)]

    run(test)


def test_grant_refuses_what_it_does_not_support() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE TABLE t (a int)")
        await env.execute("CREATE VIEW v AS SELECT a FROM t")
        await env.execute("CREATE ROLE r")
        for sql, sqlstate in (("GRANT SELECT ON t TO r WITH GRANT OPTION", "0A000"),
                              ("GRANT SELECT ON ALL TABLES IN SCHEMA public TO r", "0A000"),
                              ("GRANT INSERT ON v TO r", "0LP01"),
                              ("GRANT USAGE ON t TO r", "0LP01"),
                              ("GRANT SELECT ON t TO nobody", "42704"),
                              ("GRANT SELECT ON nosuch TO r", "42P01"),
                              ("GRANT USAGE ON CLUSTER nosuch TO r", "42704")):
            with pytest.raises(SteadyError) as info:
                await env.execute(sql)
            assert info.value.sqlstate == sqlstate, (sql, info.value)

    run(test)


def test_privilege_inquiry_functions_answer_from_the_catalog() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE TABLE t (a int)")
        await env.execute("CREATE ROLE kim")
        kim = await env.session("kim")

        async def ask(sql: str, session: ClientSession | None = None) -> object:
            return (await env.query(sql, session))[0][0]

        assert await ask("SELECT has_table_privilege('kim', 't', 'SELECT')") is False
        assert await ask("SELECT has_table_privilege('t', 'SELECT')", kim) is False
        assert await ask("SELECT has_table_privilege('materialize', 'public.t', 'INSERT')") is True
        await env.execute("GRANT INSERT ON t TO kim")
        assert await ask("SELECT has_table_privilege('t', 'select, insert')", kim) is True
        assert await ask("SELECT has_table_privilege('kim', 'materialize.public.t', 'SELECT')") is False
        assert await ask("SELECT has_schema_privilege('kim', 'public', 'USAGE')") is True
        assert await ask("SELECT has_schema_privilege('kim', 'public', 'CREATE')") is False
        assert await ask("SELECT has_database_privilege('kim', 'materialize', 'USAGE')") is True
        assert await ask("SELECT has_cluster_privilege('kim', 'quickstart', 'USAGE')") is True
        assert await ask("SELECT has_cluster_privilege('kim', 'quickstart', 'CREATE')") is False
        assert await ask("SELECT has_table_privilege('kim', 'mz_catalog.mz_audit_events', 'SELECT')") is False
        for sql, sqlstate in (("SELECT has_table_privilege('kim', 'nosuch', 'SELECT')", "42P01"),
                              ("SELECT has_table_privilege('nobody', 't', 'SELECT')", "42704"),
                              ("SELECT has_table_privilege('kim', 't', 'FLY')", "22023"),
                              ("SELECT has_table_privilege(name, 'SELECT') FROM mz_catalog.mz_tables", "0A000")):
            with pytest.raises(SteadyError) as info:
                await env.execute(sql)
            assert info.value.sqlstate == sqlstate, (sql, info.value)

    run(test)


def test_show_privileges_role_membership_and_catalog_columns() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE TABLE t (a int)")
        await env.execute("CREATE ROLE ro")
        await env.execute("CREATE ROLE team")
        await env.execute("GRANT SELECT ON t TO ro")
        await env.execute("GRANT CREATE ON CLUSTER quickstart TO team")
        await env.execute("GRANT team TO ro")
        rows = await env.query("SHOW PRIVILEGES FOR ro")
        assert ("materialize", "ro", "materialize", "public", "t", "table", "SELECT") in rows
        assert all(r[1] in ("ro", "public") for r in rows)
        assert ("mz_system", "public", None, None, "quickstart", "cluster", "USAGE") in rows
        clusters = await env.query("SHOW PRIVILEGES ON CLUSTERS")
        assert ("materialize", "team", None, None, "quickstart", "cluster", "CREATE") in clusters
        assert {r[5] for r in clusters} == {"cluster"}
        assert await env.query("SHOW ROLE MEMBERSHIP FOR ro") == [("team", "ro", "mz_system")]
        ids = dict(await env.query("SELECT name, id FROM mz_catalog.mz_roles"))
        mz, ro, team = ids["materialize"], ids["ro"], ids["team"]
        assert len({mz, ro, team}) == 3
        # Materialize's mz_aclitem[]: grantee=privileges/grantor with role ids, PUBLIC the empty grantee
        assert await env.query("SELECT privileges FROM mz_catalog.mz_tables WHERE name = 't'") == [
            ((f"{mz}=arwd/{mz}", f"{ro}=r/{mz}"),)]
        await env.execute("CREATE VIEW v AS SELECT a FROM t")
        await env.execute("GRANT SELECT ON v TO PUBLIC")
        assert await env.query("SELECT privileges FROM mz_catalog.mz_views WHERE name = 'v'") == [
            ((f"{mz}=r/{mz}", f"=r/{mz}"),)]
        assert await env.query("SELECT privileges FROM mz_catalog.mz_clusters WHERE name = 'quickstart'") == [
            ((f"{mz}=UC/{mz}", "=U/s1", f"{team}=C/{mz}"),)]
        members = await env.query("SELECT r.name, m.name FROM mz_catalog.mz_role_members rm JOIN mz_catalog.mz_roles r "
                                  "ON rm.role_id = r.id JOIN mz_catalog.mz_roles m ON rm.member = m.id")
        assert members == [("team", "ro")]

    run(test)


def test_statements_added_beside_authorization_are_checked_too() -> None:
    """RETURNING, UPDATE ... FROM, DELETE ... USING, DECLARE, COMMENT ON, RENAME/SWAP and databases: each refused
    without the privilege or ownership it needs, and allowed once it is granted."""

    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE TABLE t (a int)")
        await env.execute("CREATE TABLE secret (a int)")
        await env.execute("INSERT INTO t VALUES (1)")
        await env.execute("INSERT INTO secret VALUES (1)")
        await env.execute("CREATE SCHEMA s")
        await env.execute("CREATE ROLE joe")
        joe = await env.session("joe")
        await env.execute("GRANT INSERT, UPDATE, DELETE ON t TO joe")
        await refused(env, "INSERT INTO t VALUES (2) RETURNING a", joe)  # RETURNING reads: SELECT
        await refused(env, "DELETE FROM t RETURNING a", joe)
        await env.execute("GRANT SELECT ON t TO joe")
        assert await env.query("INSERT INTO t VALUES (2) RETURNING a", joe) == [(2,)]
        message = await refused(env, "UPDATE t SET a = secret.a FROM secret WHERE t.a = 2", joe)
        assert '"materialize.public.secret"' in message
        await refused(env, "DELETE FROM t USING secret WHERE t.a = secret.a", joe)
        await env.execute("BEGIN", joe)
        await refused(env, "DECLARE c CURSOR FOR SELECT * FROM secret", joe)
        await env.execute("ROLLBACK", joe)
        for sql in ("COMMENT ON TABLE secret IS 'mine'", "COMMENT ON SCHEMA s IS 'mine'",
                    "ALTER TABLE secret RENAME TO stolen", "ALTER SCHEMA s RENAME TO s2",
                    "ALTER SCHEMA s SWAP WITH public", "DROP DATABASE materialize", "CREATE DATABASE d"):
            await refused(env, sql, joe)
        assert await env.query("SELECT name FROM mz_tables WHERE name IN ('secret', 'stolen')") == [("secret",)]
        assert await env.query("SELECT count(*) FROM mz_comments") == [(0,)]
        await env.execute("ALTER ROLE joe CREATEDB")
        await env.execute("CREATE DATABASE d", joe)
        await env.execute("COMMENT ON DATABASE d IS 'joe''s'", joe)  # the creator owns it
        await env.execute("DROP DATABASE d", joe)
        assert "d" not in {name for (name,) in await env.query("SELECT name FROM mz_databases")}

    run(test)


def test_mz_aclexplode_shows_the_grants_made() -> None:
    """mz_aclexplode over every privileges column gives (grantor, grantee, privilege_type, is_grantable) with role
    ids, in the select-list form dbt-materialize sends and in FROM; REVOKE takes a grant back out."""
    async def test(env: MemoryEnvironment) -> None:
        for sql in ("CREATE TABLE t (a int)", "CREATE SCHEMA s", "CREATE CLUSTER c (SIZE = 'small')", "CREATE ROLE ro",
                    "CREATE ROLE team", "GRANT SELECT, INSERT ON t TO ro", "GRANT USAGE ON SCHEMA s TO ro",
                    "GRANT CREATE ON SCHEMA s TO team", "GRANT USAGE ON CLUSTER c TO team",
                    "GRANT CREATE ON DATABASE materialize TO team"):
            await env.execute(sql)

        async def explode(relation: str, where: str) -> set[tuple[object, ...]]:
            rows = await env.query(
                "WITH p AS (SELECT mz_internal.mz_aclexplode(x.privileges).* FROM mz_catalog." + relation
                + " AS x WHERE " + where + ") SELECT COALESCE(g.name, p.grantor), COALESCE(r.name, p.grantee), "
                "p.privilege_type, p.is_grantable FROM p LEFT JOIN mz_catalog.mz_roles AS g ON p.grantor = g.id "
                "LEFT JOIN mz_catalog.mz_roles AS r ON p.grantee = r.id")
            return set(rows)

        assert await explode("mz_tables", "x.name = 't'") == {
            ("materialize", "materialize", kind, False) for kind in ("SELECT", "INSERT", "UPDATE", "DELETE")} | {
            ("materialize", "ro", "SELECT", False), ("materialize", "ro", "INSERT", False)}
        schema = await explode("mz_schemas", "x.name = 's'")
        assert {row for row in schema if row[1] != "materialize"} == {
            ("materialize", "ro", "USAGE", False), ("materialize", "team", "CREATE", False)}
        assert ("materialize", "team", "USAGE", False) in await explode("mz_clusters", "x.name = 'c'")
        database = await explode("mz_databases", "x.name = 'materialize'")
        assert ("materialize", "team", "CREATE", False) in database
        assert ("s1", "p", "USAGE", False) in database  # PUBLIC's default, from mz_system (ids s1 and p)
        await env.execute("REVOKE INSERT ON t FROM ro")
        assert {row[2] for row in await explode("mz_tables", "x.name = 't'") if row[1] == "ro"} == {"SELECT"}
        in_from = await env.query("SELECT a.privilege_type FROM mz_catalog.mz_tables AS x, "
                                  "mz_aclexplode(x.privileges) AS a JOIN mz_catalog.mz_roles AS r ON a.grantee = r.id "
                                  "WHERE x.name = 't' AND r.name = 'ro'")
        assert in_from == [("SELECT",)]
        assert await env.query("SELECT * FROM mz_aclexplode(ARRAY['=rU/s1'])") == [
            ("s1", "p", "SELECT", False), ("s1", "p", "USAGE", False)]
        with pytest.raises(SteadyError) as info:
            await env.query("SELECT * FROM mz_aclexplode(ARRAY['nonsense'])")
        assert info.value.sqlstate == "22P02"
        assert await env.query("SELECT * FROM mz_internal.mz_show_default_privileges") == []
        await env.execute("ALTER DEFAULT PRIVILEGES FOR ROLE ro IN SCHEMA s GRANT SELECT ON TABLES TO team")
        assert await env.query("SELECT * FROM mz_internal.mz_show_default_privileges") == [
            ("ro", "materialize", "s", "table", "team", "SELECT")]  # (tests/adapter/test_privileges_leftovers.py)

    run(test)
