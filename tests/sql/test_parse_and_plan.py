"""Parsing of the statement surface and planning against a dict catalog (see conftest.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as hs

from steadystate import errors
from steadystate.expr.ir import ColumnRef, Constant, Distinct, Filter, Get, Join, Reduce, Threshold, TopK, Union_
from steadystate.repr.types import ScalarType as T
from steadystate.sql import plan as p
from steadystate.sql import statements as st
from steadystate.sql.parser import parse, parse_one
from steadystate.sql.planner import plan


@pytest.mark.parametrize("sql,cls", [
    ("CREATE CLUSTER c (SIZE = 'small', REPLICATION FACTOR = 2)", st.CreateCluster),
    ("CREATE CLUSTER c REPLICAS (r1 (SIZE 'small'), r2 (SIZE = 'small'))", st.CreateCluster),
    ("CREATE CLUSTER REPLICA c.r SIZE 'small'", st.CreateClusterReplica),
    ("DROP CLUSTER IF EXISTS c CASCADE", st.DropCluster),
    ("DROP CLUSTER REPLICA c.r", st.DropClusterReplica),
    ("ALTER CLUSTER c SEAL WITH (RESTART = false, TIMEOUT = '5m')", st.AlterCluster),
    ("ALTER CLUSTER c OWNER TO r", st.AlterCluster),
    ("CREATE ROLE r WITH SUPERUSER", st.CreateRole),
    ("CREATE MATERIALIZED VIEW IF NOT EXISTS mv IN CLUSTER c AS SELECT 1", st.CreateView),
    ("CREATE INDEX i IN CLUSTER c ON t (a, b + 1)", st.CreateIndex),
    ("DROP TABLE IF EXISTS a, b.c CASCADE", st.DropObjects),
    ("SET cluster TO c", st.SetVariable),
    ("SHOW INDEXES ON t IN CLUSTER c", st.ShowObjects),
    ("SUBSCRIBE (SELECT a FROM t) WITH (SNAPSHOT = false)", st.Subscribe),
    ("COPY t (a, b) FROM STDIN WITH (FORMAT csv, HEADER, DELIMITER '|')", st.CopyFrom),
    ("COPY (SUBSCRIBE t) TO STDOUT", st.CopyTo),
    ("EXPLAIN PLAN FOR MATERIALIZED VIEW m", st.Explain),
    ("START TRANSACTION", st.Transaction),
    ("DISCARD ALL", st.Discard),
])
def test_statements_parse_to_their_class(sql: str, cls: type) -> None:
    assert isinstance(parse_one(sql).node, cls)


def test_option_values_and_spans() -> None:
    stmts = parse("CREATE CLUSTER c (SIZE = 'small', REPLICATION FACTOR = 2); SELECT 1")
    assert stmts[0].node.options == (("SIZE", "small"), ("REPLICATION FACTOR", 2))
    assert stmts[1].sql == "SELECT 1" and stmts[1].start == stmts[0].end + 2


@pytest.mark.parametrize("sql,message,position", [
    ("SELECT * FORM t", 'syntax error at or near "FORM"', 10),
    ("selec 1", 'syntax error at or near "selec"', 1),
    ("select * from t where", "syntax error at end of input", None),
    ("select 'abc", "unterminated quoted string at or near \"'abc\"", 8),
])
def test_syntax_errors(sql: str, message: str, position: int | None) -> None:
    with pytest.raises(errors.SyntaxError_) as info:
        parse(sql)
    assert info.value.message == message
    if position is not None:
        assert info.value.position == position


def test_select_plan_shape_and_desc(ctx) -> None:
    sp = plan(parse_one("select a, b from t where a > 1 order by b desc limit 3"), ctx)
    assert isinstance(sp, p.SelectPlan) and isinstance(sp.expr.input, Filter)
    assert sp.desc.names == ("a", "b") and sp.desc.types == (T.INT4, T.TEXT)
    assert sp.finishing.limit == 3 and sp.finishing.order_by[0].column == 1 and sp.finishing.order_by[0].desc


def test_names_and_types(ctx) -> None:
    sp = plan(parse_one("select 1, count(*), sum(a), avg(c), upper(b), a::text, version() from t group by a, b"), ctx)
    assert sp.desc.names == ("?column?", "count", "sum", "avg", "upper", "a", "version")
    assert sp.desc.types == (T.INT4, T.INT8, T.INT8, T.FLOAT8, T.TEXT, T.TEXT, T.TEXT)
    assert isinstance(sp.expr.input.input, Reduce) if not isinstance(sp.expr, Reduce) else True


def test_joins_and_set_operations(ctx) -> None:
    inner = plan(parse_one("select * from t join u on t.a = u.a"), ctx).expr
    assert isinstance(inner, Join) and inner.equivalences == ((ColumnRef(0), ColumnRef(3)),)
    left = plan(parse_one("select * from t left join u on t.a = u.a"), ctx)
    assert isinstance(left.expr, Union_) and left.desc.columns[3].nullable
    union = plan(parse_one("select a from t union select x from v"), ctx)
    assert isinstance(union.expr, Distinct) and union.desc.types == (T.INT8,)
    assert isinstance(plan(parse_one("select a from t except select a from u"), ctx).expr, Threshold)
    sub = plan(parse_one("select x from (select a as x from t order by a limit 2) s"), ctx)
    assert isinstance(sub.expr, TopK) and sub.expr.limit == 2


def test_dml_and_ddl(ctx) -> None:
    ins = plan(parse_one("insert into t (b, a) values ('x', '5')"), ctx)
    assert isinstance(ins.expr, Constant) and ins.expr.updates() == [((5, "x", None), 1)]
    upd = plan(parse_one("update t set a = a + 1 where b = 'x'"), ctx)
    assert upd.table_id == "u1" and upd.assignments[0][0] == 0
    mv = plan(parse_one("create materialized view m in cluster prod as select a from t"), ctx)
    assert isinstance(mv, p.CreateMaterializedViewPlan) and mv.cluster_id == "c2" and mv.sql_text == "select a from t"
    idx = plan(parse_one("create default index on t"), ctx)
    assert idx.key == (ColumnRef(0), ColumnRef(1), ColumnRef(2)) and idx.cluster_id == "c1"
    drop = plan(parse_one("drop table if exists t, nope"), ctx)
    assert [i.id for i in drop.items] == ["u1"] and drop.missing == ("nope",)
    assert isinstance(plan(parse_one("select * from mz_clusters"), ctx).expr, Get)


def test_parameters(ctx) -> None:
    described = plan(parse_one("select $1 + a from t where b = $2"), ctx)
    assert described.param_types == (T.INT4, T.TEXT)
    from dataclasses import replace

    bound = plan(parse_one("select a from t where a = $1"), replace(ctx, params=("7",)))
    assert bound.expr.input.predicates[0].right.value == 7


@pytest.mark.parametrize("sql,sqlstate", [
    ("select zz from t", "42703"),
    ("select a from t, u", "42702"),
    ("select b + 1 from t", "42883"),
    ("select * from t where 1", "42804"),
    ("insert into t values (1, 'x', 2, 4)", "42601"),
    ("select * from nope", "42P01"),
    ("select a, count(*) from t", "42803"),
    ("select * from t where a = 'x'", "22P02"),
    ("create materialized view m in cluster nope as select 1", "42704"),
    ("select * from t where a in (select a, d from u)", "42601"),
    # refused, never accepted and ignored
    ("create index i on t using gin (a)", "0A000"),
    ("create temporary view v as select 1", "0A000"),
    ("create unique index i on t (a)", "0A000"),
])
def test_errors(ctx, sql: str, sqlstate: str) -> None:
    with pytest.raises(errors.SteadyError) as info:
        plan(parse_one(sql), ctx)
    assert info.value.sqlstate == sqlstate


_atoms = hs.sampled_from(["a", "b", "c", "1", "2.5", "'x'", "'3'", "null", "true", "$1", "u.d"])
_exprs = hs.recursive(_atoms, lambda inner: hs.one_of(
    hs.tuples(inner, hs.sampled_from(["+", "-", "*", "/", "%", "=", "<", "and", "or", "||", "like"]), inner)
    .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    inner.map(lambda e: f"not {e}"), inner.map(lambda e: f"coalesce({e}, {e})"),
    inner.map(lambda e: f"case when {e} then {e} end"), inner.map(lambda e: f"cast({e} as text)"),
    inner.map(lambda e: f"abs({e})"), inner.map(lambda e: f"{e} is null"), inner.map(lambda e: f"{e} in (1, 2)"),
), max_leaves=6)


@settings(max_examples=150, deadline=None)
@given(_exprs)
def test_random_expressions_plan_or_raise_steady_errors(expr: str) -> None:
    from sql_catalog import DictCatalog
    from steadystate.sql.catalog_api import PlanContext

    ctx = PlanContext(DictCatalog())
    try:
        plan(parse_one(f"select {expr} from t left join u on t.a = u.a where {expr} is not null"), ctx)
    except errors.SteadyError:
        pass
