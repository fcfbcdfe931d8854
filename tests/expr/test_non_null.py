"""Never-NULL columns (expr/non_null.py) and the null-safe join keys made plain from them.

Random plans over two nullable tables are evaluated by the from-scratch evaluator of the dataflow tests
(tests/dataflow/dataflow_naive.py): every column :func:`non_null_columns` names must hold no NULL in any row, and
a join keyed null-safely (``is_null``/``coalesce`` equivalences, as the planner builds them) must give the same rows
once :func:`plain_null_safe_keys` has made its key plain — with NULL keys on both sides in the data.  The rewrite
must also fire where the proof holds (a key through an inner equi-join, an ``IS NOT NULL`` filter) and stay away
where it does not (a key either side may hold NULL in).
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

from hypothesis import given, settings, strategies as hs

from steadystate.expr import ir
from steadystate.expr.equality import null_safe_keys
from steadystate.expr.non_null import non_null_columns, plain_null_safe_keys
from steadystate.repr.types import ScalarType as T

_spec = importlib.util.spec_from_file_location(
    "dataflow_naive_for_non_null", Path(__file__).resolve().parent.parent / "dataflow" / "dataflow_naive.py")
assert _spec is not None and _spec.loader is not None
naive = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(naive)

TYPES = {"u1": [T.INT4, T.INT4], "u2": [T.INT4, T.INT4]}
col = ir.ColumnRef
VALUE = hs.one_of(hs.none(), hs.integers(0, 2))
ROWS = hs.lists(hs.tuples(VALUE, VALUE), max_size=5)

Plan = tuple[ir.RelationExpr, int]  # a plan and its arity


@hs.composite
def _scalar(draw: hs.DrawFn, arity: int) -> ir.ScalarExpr:
    c = col(draw(hs.integers(0, arity - 1)))
    other = col(draw(hs.integers(0, arity - 1)))
    return draw(hs.sampled_from([
        c, ir.Literal(None, T.INT4), ir.Literal(2, T.INT4), ir.CallUnary("is_null", c),
        ir.CallVariadic("coalesce", (c, ir.Literal(0, T.INT4))), ir.CallVariadic("coalesce", (c, other)),
        ir.CallBinary("add", c, ir.Literal(1, T.INT4)),
    ]))


@hs.composite
def _predicate(draw: hs.DrawFn, arity: int) -> ir.ScalarExpr:
    c = col(draw(hs.integers(0, arity - 1)))
    other = col(draw(hs.integers(0, arity - 1)))
    one = ir.Literal(1, T.INT4)
    return draw(hs.sampled_from([
        ir.CallBinary("eq", c, other), ir.CallBinary("eq", c, one), ir.CallBinary("lt", one, c),
        ir.CallUnary("is_not_null", c), ir.CallUnary("is_null", c),
        ir.CallBinary("or", ir.CallBinary("eq", c, one), ir.CallUnary("is_null", c)),  # true on a NULL c
        ir.CallBinary("and", ir.CallBinary("gte", c, one), ir.CallUnary("is_not_null", other)),
    ]))


def _extend(children: hs.SearchStrategy[Plan]) -> hs.SearchStrategy[Plan]:
    @hs.composite
    def one(draw: hs.DrawFn) -> Plan:
        expr, arity = draw(children)
        kind = draw(hs.sampled_from(["filter", "map", "project", "join", "distinct", "union", "reduce", "topk",
                                     "negate"]))
        if kind == "filter":
            return ir.Filter(expr, (draw(_predicate(arity)),)), arity
        if kind == "map":
            return ir.Map(expr, (draw(_scalar(arity)),)), arity + 1
        if kind == "project":
            outputs = tuple(draw(hs.lists(hs.integers(0, arity - 1), min_size=1, max_size=3)))
            return ir.Project(expr, outputs), len(outputs)
        if kind == "join":
            right, right_arity = draw(children)
            classes: list[tuple[ir.ScalarExpr, ...]] = []
            if draw(hs.booleans()):  # an inner equi-join: its key columns lose their NULLs
                classes.append((col(draw(hs.integers(0, arity - 1))),
                                col(arity + draw(hs.integers(0, right_arity - 1)))))
            return ir.Join((expr, right), tuple(classes)), arity + right_arity
        if kind == "union":
            other, other_arity = draw(children)
            if other_arity != arity:
                other = ir.Project(other, tuple(i % other_arity for i in range(arity)))
            return ir.Union_((expr, other)), arity
        if kind == "reduce":
            keys = tuple(col(i) for i in draw(hs.lists(hs.integers(0, arity - 1), min_size=1, max_size=2)))
            return ir.Reduce(expr, keys, ()), len(keys)
        if kind == "topk":
            return ir.TopK(expr, (draw(hs.integers(0, arity - 1)),), (ir.ColumnOrder(0),), 1), arity
        return (ir.Distinct(expr) if kind == "distinct" else ir.Negate(expr)), arity
    return one()


PLANS: hs.SearchStrategy[Plan] = hs.recursive(hs.sampled_from([(ir.Get("u1"), 2), (ir.Get("u2"), 2)]), _extend,
                                              max_leaves=3)


def _nulls_at(rows: Counter, column: int) -> list[tuple]:
    return [row for row, count in rows.items() if count and row[column] is None]


@settings(max_examples=300, deadline=None)
@given(plan=PLANS, u1=ROWS, u2=ROWS)
def test_columns_claimed_never_null_hold_no_null(plan: Plan, u1: list, u2: list) -> None:
    expr, arity = plan
    rows = naive.evaluate_plan(expr, {"u1": Counter(u1), "u2": Counter(u2)})
    claimed = non_null_columns(expr, TYPES.get)
    assert claimed <= set(range(arity))
    for column in claimed:
        assert not _nulls_at(rows, column), (column, expr)


def _null_safe_join(left: ir.RelationExpr, left_arity: int, right: ir.RelationExpr, a: int, b: int) -> ir.Join:
    """``left ⋈ right`` on ``left.a IS NOT DISTINCT FROM right.b``, keyed as the planner keys it."""
    keys = null_safe_keys(col(a), col(left_arity + b), T.INT4)
    assert keys is not None
    return ir.Join((left, right), tuple(keys))


@settings(max_examples=300, deadline=None)
@given(left=PLANS, right=PLANS, u1=ROWS, u2=ROWS, data=hs.data())
def test_a_null_safe_key_made_plain_gives_the_same_rows(left: Plan, right: Plan, u1: list, u2: list,
                                                      data: hs.DataObject) -> None:
    a, b = data.draw(hs.integers(0, left[1] - 1)), data.draw(hs.integers(0, right[1] - 1))
    join = _null_safe_join(left[0], left[1], right[0], a, b)
    rewritten = plain_null_safe_keys(join, TYPES.get)
    env = {"u1": Counter(u1 + [(None, None)]), "u2": Counter(u2 + [(None, 1)])}  # NULL keys on both sides
    assert +naive.evaluate_plan(rewritten, env) == +naive.evaluate_plan(join, env)
    known = a in non_null_columns(left[0], TYPES.get) or b in non_null_columns(right[0], TYPES.get)
    assert (rewritten.equivalences == ((col(a), col(left[1] + b)),)) == known
    if not known:
        assert rewritten is join


def _domain_top_k() -> ir.RelationExpr:
    """The decorrelated LATERAL top-k's rows: the outer keys joined with u2 on ``u2.0 = key``, top 1 per key."""
    domain = ir.Distinct(ir.Project(ir.Get("u1"), (0,)))
    per_key = ir.Project(ir.Join((domain, ir.Get("u2")), ((col(1), col(0)),)), (0, 2))
    return ir.TopK(per_key, (0,), (ir.ColumnOrder(1),), 1)


def test_the_lateral_join_back_is_keyed_on_plain_columns_and_agrees() -> None:
    join = _null_safe_join(ir.Get("u1"), 2, _domain_top_k(), 0, 0)
    rewritten = plain_null_safe_keys(join, TYPES.get)
    assert rewritten.equivalences == ((col(0), col(2)),)
    env = {"u1": Counter([(None, 1), (None, 2), (1, 5), (2, None)]),
           "u2": Counter([(None, 7), (1, 3), (1, None), (2, 4), (3, 1)])}
    rows = +naive.evaluate_plan(rewritten, env)
    assert rows == +naive.evaluate_plan(join, env)
    assert rows == Counter({(1, 5, 1, 3): 1, (2, None, 2, 4): 1})  # the NULL outer keys meet nothing


def test_a_key_either_side_may_hold_null_in_stays_null_safe() -> None:
    # the domain itself (NULL included) against the outer rows: NULL must still meet NULL
    domain = ir.Distinct(ir.Project(ir.Get("u1"), (0,)))
    join = _null_safe_join(ir.Get("u1"), 2, domain, 0, 0)
    assert plain_null_safe_keys(join, TYPES.get) is join
    env = {"u1": Counter([(None, 1), (2, 3)]), "u2": Counter()}
    assert +naive.evaluate_plan(join, env) == Counter({(None, 1, None): 1, (2, 3, 2): 1})
    # a union with a branch that may carry NULL keys (an aggregate's rows for keys without a match) claims nothing
    either = ir.Union_((_domain_top_k(), ir.Map(domain, (ir.Literal(None, T.INT4),))))
    assert plain_null_safe_keys(_null_safe_join(ir.Get("u1"), 2, either, 0, 0), TYPES.get).equivalences != \
        ((col(0), col(2)),)


def test_is_not_null_filters_and_coalesce_prove_non_null() -> None:
    filtered = ir.Filter(ir.Get("u2"), (ir.CallUnary("is_not_null", col(1)),))
    assert non_null_columns(filtered, TYPES.get) == {1}
    mapped = ir.Map(ir.Get("u2"), (ir.CallVariadic("coalesce", (col(0), ir.Literal(0, T.INT4))), col(1)))
    assert non_null_columns(mapped, TYPES.get) == {2}
    join = _null_safe_join(ir.Get("u1"), 2, filtered, 1, 1)
    assert plain_null_safe_keys(join, TYPES.get).equivalences == ((col(1), col(3)),)
