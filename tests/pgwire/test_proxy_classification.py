"""The supervisor's statement classifier agrees with the parser.

``pgwire/proxy_rules.classify_sql`` decides, from the text alone, whether a query may be sent again to a new
coordinator (docs/architecture.md "Readers of SQL text" says why it cannot ask the parser).  Here every statement
form the parser reads is classified both ways: by the proxy, and from the parsed statement (:func:`parsed_kind`,
the meaning).  The proxy may be more careful than the meaning (call a harmless statement a write: it is then not
resent, the client gets an error instead), never less: what it calls a read or a session setting is one.
"""

from __future__ import annotations

from hypothesis import given, strategies as hs
from sqlglot import exp

from steadystate.pgwire.proxy_rules import Kind, classify_sql, statement_kind
from steadystate.sql import statements as st
from steadystate.sql.parser import parse

# one statement of every form the parser reads (tables t(a int, b text) and view v are assumed, not needed)
CORPUS = [
    "SELECT 1", "select a from t where b = 'x; DELETE FROM t'", "VALUES (1), (2)", "TABLE t",
    "WITH x AS (SELECT 1 AS a) SELECT * FROM x", "(SELECT 1) UNION (SELECT 2)",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r",
    "WITH MUTUALLY RECURSIVE (RETURN AT RECURSION LIMIT 3) r(n int) AS (SELECT 1 UNION SELECT n + 1 FROM r)"
    " SELECT n FROM r",
    "SHOW cluster", "SHOW ALL", "SHOW TABLES", "SHOW CLUSTERS", "SHOW INDEXES ON t",
    "EXPLAIN SELECT 1", "EXPLAIN VIEW v", "EXPLAIN RESTART CLUSTER quickstart",
    "BEGIN", "START TRANSACTION", "COMMIT", "END", "ROLLBACK", "ABORT",
    "SET cluster = quickstart", "SET LOCAL cluster = quickstart", "RESET cluster", "DEALLOCATE s1",
    "DEALLOCATE ALL", "DISCARD ALL",
    "INSERT INTO t VALUES (1, 'a')", "UPDATE t SET b = 'c' WHERE a = 1", "DELETE FROM t WHERE a = 1",
    "CREATE TABLE u (a int)", "CREATE VIEW w AS SELECT 1", "CREATE MATERIALIZED VIEW m AS SELECT 1",
    "CREATE INDEX i ON t (a)", "CREATE CLUSTER c (SIZE = '2xsmall')",
    "CREATE CLUSTER REPLICA quickstart.r9 SIZE '2xsmall'",
    "CREATE ROLE r", "CREATE ROLE r LOGIN PASSWORD 'p'", "ALTER ROLE r PASSWORD 'q'", "DROP TABLE t", "DROP VIEW v", "DROP INDEX i", "DROP CLUSTER c", "DROP CLUSTER REPLICA c.r1",
    "DROP ROLE r", "ALTER CLUSTER quickstart SEAL", "ALTER CLUSTER quickstart RESTART",
    "CREATE SCHEMA s", "DROP SCHEMA s CASCADE", "COMMENT ON TABLE t IS 'x'", "ALTER SCHEMA s SWAP WITH s2",
    "ALTER VIEW v RENAME TO w", "CREATE DATABASE d", "DROP DATABASE d", "SAVEPOINT sp", "RELEASE SAVEPOINT sp", "ROLLBACK TO SAVEPOINT sp",
    "SUBSCRIBE t", "COPY t FROM STDIN", "COPY (SELECT 1) TO STDOUT",
    "SHOW CREATE TABLE t", "SHOW COLUMNS FROM t", "EXPLAIN PHYSICAL PLAN AS JSON FOR SELECT 1",
    # a cursor lives in its coordinator's session: DECLARE, FETCH and CLOSE are never resent
    "DECLARE c CURSOR FOR SUBSCRIBE t", "FETCH ALL c", "CLOSE c",
    "GRANT SELECT ON t TO r", "REVOKE ALL ON CLUSTER quickstart FROM PUBLIC", "GRANT r TO s", "REVOKE r FROM s",
    "ALTER SYSTEM SET max_clusters = 3", "ALTER SYSTEM RESET ALL",
    "ALTER DEFAULT PRIVILEGES FOR ROLE r IN SCHEMA s GRANT SELECT ON TABLES TO t",
]

# where the proxy is more careful than the meaning, and why that is fine
CAREFUL = {
    "DISCARD ALL": "a session reset the proxy does not replay: not resent, the client sees the connection fail",
    "(SELECT 1) UNION (SELECT 2)": "the proxy reads the first word, here \"(SELECT\", which it does not know: "
                                   "not resent",
}


def parsed_kind(node: st.Node) -> Kind:
    """What a parsed statement does, for the question "may it run twice?"."""
    match node:
        case exp.Query() | exp.Values():
            return Kind.WRITE if any(node.find_all(exp.Insert, exp.Update, exp.Delete)) else Kind.READ
        case st.ShowVariable() | st.ShowObjects() | st.Explain() | st.ShowCreate() | st.ShowColumns():
            return Kind.READ
        case st.Transaction(action=st.TransactionAction.BEGIN):
            return Kind.READ
        case st.SetVariable() | st.ResetVariable() | st.Deallocate() | st.Discard():
            return Kind.SESSION
        case _:
            return Kind.WRITE


def test_the_corpus_covers_every_statement_class() -> None:
    parsed = {type(s.node) for sql in CORPUS for s in parse(sql)}
    custom = set(st.Custom.__args__)  # type: ignore[attr-defined]
    assert custom <= parsed, f"add statements of these classes to CORPUS: {custom - parsed}"


def test_the_proxy_classifies_each_statement_as_the_parser_reads_it() -> None:
    for sql in CORPUS:
        [statement] = parse(sql)
        meaning, proxy = parsed_kind(statement.node), statement_kind(sql)
        if sql in CAREFUL:
            assert (meaning, proxy) != (Kind.WRITE, Kind.WRITE) and proxy is Kind.WRITE, sql
        else:
            assert proxy is meaning, sql


@given(hs.lists(hs.sampled_from(CORPUS), min_size=1, max_size=5))
def test_a_query_is_retryable_only_if_none_of_its_statements_writes(statements: list[str]) -> None:
    sql = "; ".join(statements)
    meanings = [parsed_kind(s.node) for s in parse(sql)]
    if classify_sql(sql).retryable:
        assert Kind.WRITE not in meanings, sql
    elif not any(s in CAREFUL for s in statements):
        assert Kind.WRITE in meanings, sql
