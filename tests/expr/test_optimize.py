"""Optimizer passes must not change results: optimized and original plans agree on random data.

Plans come from the real planner over a two-table schema; both versions are evaluated by the from-scratch
evaluator of the dataflow tests (tests/dataflow/dataflow_naive.py), and the passes must also fire where
they are meant to (a keyed join instead of a cross product, filters below the join).
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as hs

from steadystate.expr import ir
from steadystate.expr.optimize import optimize
from steadystate.repr.types import Column, RelationDesc, ScalarType as T
from steadystate.sql.catalog_api import PlanContext, QualifiedName, ResolvedItem
from steadystate.sql.parser import parse_one
from steadystate.sql.planner import plan

_spec = importlib.util.spec_from_file_location(
    "dataflow_naive_for_optimize", Path(__file__).resolve().parent.parent / "dataflow" / "dataflow_naive.py")
assert _spec is not None and _spec.loader is not None
naive = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(naive)

FACT = RelationDesc((Column("id", T.INT4), Column("dim_id", T.INT4), Column("amount", T.INT4)))
DIM = RelationDesc((Column("id", T.INT4), Column("region", T.TEXT)))
ITEMS = {"fact": ("u1", FACT), "dim": ("u2", DIM)}
TYPES = {"u1": FACT.types, "u2": DIM.types}


class Catalog:
    def resolve_item(self, parts: tuple[str, ...]) -> ResolvedItem:
        item_id, desc = ITEMS[parts[-1]]
        return ResolvedItem(item_id, QualifiedName("materialize", "public", parts[-1]), "table", desc)

    def resolve_cluster(self, name: str) -> tuple[str, str]:
        return ("c1", name)

    def qualify(self, parts: tuple[str, ...]) -> QualifiedName:
        return QualifiedName("materialize", "public", parts[-1])


QUERIES = [
    "SELECT d.region, count(*), sum(f.amount) FROM fact f JOIN dim d ON f.dim_id = d.id GROUP BY d.region",
    "SELECT d.region, f.amount, count(f.id), min(f.id), max(f.amount) FROM fact f JOIN dim d ON f.dim_id = d.id "
    "GROUP BY d.region, f.amount",
    "SELECT d.id, sum(f.amount) FROM fact f, dim d WHERE f.dim_id = d.id AND d.region <> 'x' GROUP BY d.id",
    "SELECT f.id, d.region FROM fact f, dim d WHERE f.dim_id = d.id AND f.amount > 1",
    "SELECT count(*), sum(f.amount) FROM fact f JOIN dim d ON f.dim_id = d.id",
    "SELECT d.region, avg(f.amount) FROM fact f JOIN dim d ON f.dim_id = d.id GROUP BY d.region",
]

FACT_ROWS = hs.lists(hs.tuples(hs.integers(0, 5), hs.one_of(hs.none(), hs.integers(0, 3)),
                               hs.one_of(hs.none(), hs.integers(-3, 3))), max_size=10)
DIM_ROWS = hs.lists(hs.tuples(hs.one_of(hs.none(), hs.integers(0, 3)), hs.sampled_from(["x", "y", None])),
                    max_size=6)


def _plans(sql: str) -> tuple[ir.RelationExpr, ir.RelationExpr]:
    original = plan(parse_one(sql), PlanContext(Catalog())).expr  # type: ignore[union-attr]
    return original, optimize(original, TYPES.get)


@pytest.mark.parametrize("sql", QUERIES)
@settings(max_examples=60, deadline=None)
@given(fact=FACT_ROWS, dim=DIM_ROWS)
def test_optimized_plans_give_the_same_results(sql: str, fact: list, dim: list) -> None:
    original, optimized = _plans(sql)
    env = {"u1": Counter(fact), "u2": Counter(dim)}
    assert +naive.evaluate_plan(optimized, env) == +naive.evaluate_plan(original, env)


def _nodes(expr: ir.RelationExpr) -> list[ir.RelationExpr]:
    out = [expr]
    for child in ir.children(expr):
        out.extend(_nodes(child))
    return out


def test_where_equalities_become_join_keys_and_filters_move_below_the_join() -> None:
    _, optimized = _plans(QUERIES[2])
    joins = [n for n in _nodes(optimized) if isinstance(n, ir.Join)]
    assert joins and all(j.equivalences for j in joins)
    assert any(isinstance(n, ir.Filter) and isinstance(n.input, ir.Get) and n.input.id == "u2"
               for n in _nodes(optimized))


@pytest.mark.parametrize("sql", QUERIES)
def test_optimized_plans_keep_column_types(sql: str) -> None:
    from steadystate.expr.infer import relation_types

    original, optimized = _plans(sql)
    assert relation_types(optimized, TYPES.get) == relation_types(original, TYPES.get)
