"""A join-accumulate's A deltas folded as columns against B's rows still in its snapshot table
(``dataflow.join_accumulate_columns``), and into ``P``'s columns (``LazyPartial.add_columns``), against the unfused
delta join + reduce fed only rows: star aggregates and the branches of a ROLLUP hydrated from columns, then random
batches (duplicates, NULL keys and values, keys the snapshot lacks, dimension rows moving between groups, values
whose sums could leave int64), with every delta taking the columnar fold where it applies."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.dataflow import join_accumulate, join_accumulate_columns
from steadystate.dataflow.join_accumulate import JoinAccumulate
from steadystate.dataflow.join_accumulate_columns import LazyPartial
from steadystate.expr import ir
from steadystate.render import RenderedDataflow
from steadystate.repr.types import RelationDesc, ScalarType as T

from star_support import agg, hydrate, render_star, rollup, run_script, script_steps

FACT = RelationDesc.of(("dim_id", T.INT8), ("amount", T.INT8), ("qty", T.INT4))
DIM = RelationDesc.of(("id", T.INT8), ("region", T.TEXT), ("tier", T.INT4))
col = ir.ColumnRef
STAR = ir.Join((ir.Get("fact"), ir.Get("dim")), ((col(0), col(3)),))  # fact 0-2, dim 3-5
COUNT = ir.AggregateExpr("count_star", ir.Literal(True, T.BOOL))


PLANS = {
    "star": ir.Reduce(STAR, (col(4),), (COUNT, agg("sum", col(1)), agg("avg", col(2)), agg("count", col(1)),
                                        agg("sum", col(2)))),
    "global_star": ir.Reduce(STAR, (), (COUNT, agg("sum", col(1)))),
    "by_region_and_tier": ir.Reduce(STAR, (col(5), col(4)), (COUNT, agg("sum", col(2)))),
    "rollup": rollup(STAR, (COUNT, agg("sum", col(1)))),
    "rollup_avg": rollup(STAR, (agg("avg", col(2)), agg("count", col(1)))),
}

BIG = 2 ** 62
fact_rows = st.tuples(st.sampled_from([0, 1, 2, 3, 7, None]), st.sampled_from([1, 5, -3, None, BIG]),
                      st.sampled_from([2, None]))
dim_rows = st.tuples(st.sampled_from([0, 1, 2, 3, None]), st.sampled_from(["x", "y", None]),
                     st.sampled_from([1, 2, None]))
steps = script_steps(fact_rows, dim_rows, 8)  # steps of timestamps of (table, row, insert?) choices


def render(plan: ir.RelationExpr, fuse: bool) -> RenderedDataflow:
    return render_star(plan, fuse, FACT, DIM)


@pytest.fixture
def columnar_always(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Every A delta (not only those of 64 updates and more) offered to the columnar fold, P always kept as
    columns; counts the deltas the columnar fold took."""
    monkeypatch.setattr(join_accumulate_columns, "VECTOR_ROWS", 1)
    monkeypatch.setattr(join_accumulate, "LAZY_PARTIAL_KEYS", 0)
    taken: Counter = Counter()
    real = join_accumulate.fold_into_groups

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real(*args, **kwargs)
        taken[result is not None] += 1
        return result

    monkeypatch.setattr(join_accumulate, "fold_into_groups", counting)
    return taken


@pytest.mark.parametrize("name", sorted(PLANS))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(facts=st.lists(fact_rows, max_size=20), dims=st.lists(dim_rows, max_size=8),
       extra_facts=st.lists(fact_rows, max_size=6), extra_dims=st.lists(dim_rows, max_size=2), script=steps)
def test_deltas_folded_as_columns_equal_the_unfused_rows(columnar_always: Counter, name: str, facts, dims,  # type: ignore[no-untyped-def]
                                                         extra_facts, extra_dims, script) -> None:
    """Snapshots as columns with a few rows beside them (the first round's row deltas, folded against B's
    snapshot table too), then random batches."""
    fused, unfused = render(PLANS[name], True), render(PLANS[name], False)
    hydrate(fused, unfused, {"fact": facts, "dim": dims}, {"fact": extra_facts, "dim": extra_dims})
    assert Counter(fused.arrangement("i").peek()) == Counter(unfused.arrangement("i").peek())
    live = {"fact": Counter(facts + extra_facts), "dim": Counter(dims + extra_dims)}
    run_script(fused, unfused, live, script, 2)


def test_the_columnar_fold_runs_and_leaves_b_and_p_in_their_columns(columnar_always: Counter) -> None:
    """A large batch over a hydrated star and ROLLUP: the columnar fold takes it, no key of B or P it reads becomes
    a Python entry, and the results still equal the unfused plan's."""
    facts = [(i % 40, (i * 7) % 13 - 3, i % 3 or None) for i in range(400)]
    dims = [(i, "xyz"[i % 3], i % 2) for i in range(40)]
    script = [[[("fact", (i % 45, i % 11, None), i % 3 != 0) for i in range(120)]],
              [[("dim", (5, "w", 1), True), ("dim", (5, "x", 0), False)], [("fact", (5, 9, 1), True)] + [("fact", (6, 9, 1), True)] * 2]]
    for name in ("star", "rollup"):
        columnar_always.clear()
        fused, unfused = render(PLANS[name], True), render(PLANS[name], False)
        hydrate(fused, unfused, {"fact": facts, "dim": dims})
        run_script(fused, unfused, {"fact": Counter(facts), "dim": Counter(dims)}, script, 2)
        assert columnar_always[True] >= 2
        leader = next(n for n in fused.graph.nodes if isinstance(n, JoinAccumulate))
        assert type(leader.partial) is LazyPartial
        # key 5 (read by the dimension update, then by the row fold), keys 40-44 (not in the snapshot)
        assert set(dict.keys(leader.partial)) <= {(5,), (40,), (41,), (42,), (43,), (44,)}
        assert set(dict.keys(leader.arranged)) == {(5,)}


def test_partial_columns_add_in_place_refuse_overflow_and_drop_zeroed_keys() -> None:
    import numpy as np
    import pyarrow as pa

    table = pa.table({"k0": pa.array([1, 2, 3], pa.int64()), "s0": pa.array([2, 1, 1], pa.int64()),
                      "s1": pa.array([10, 2 ** 40, 0], pa.int64())})
    lazy = LazyPartial.of(table)
    assert lazy is not None
    copy = lazy.unused_copy()
    keys = np.array([1, 2, 9, 1], dtype=np.int64)
    done = lazy.add_columns(keys, [np.array([1, -1, 1, 1]), np.array([5, -(2 ** 40), 1, 5])])
    assert done.tolist() == [True, True, False, True]
    assert lazy.get((1,)) == [4, 20] and (2,) not in lazy and lazy.get((2,)) is None  # key 2 summed to zero
    assert copy.get((1,)) == [2, 10] and copy.get((2,)) == [1, 2 ** 40]  # the copy's columns are untouched
    with pytest.raises(ValueError):
        lazy.unused_copy()
    near = lazy.add_columns(np.array([3], dtype=np.int64), [np.array([1]), np.array([2 ** 62])])  # still int64
    assert near.tolist() == [True] and lazy.get((3,)) == [2, 2 ** 62]
    # sums that could leave int64: nothing added, the row fold takes them (Python ints)
    refused = copy.add_columns(np.array([2, 2], dtype=np.int64), [np.array([1, 1]), np.array([2 ** 62, 2 ** 62])])
    assert refused.tolist() == [False, False] and copy.get((2,)) == [1, 2 ** 40]
    assert copy.add_columns(np.array([1], dtype=np.int64), [np.array([1]), np.array([5])]).tolist() == [False]
    assert copy.get((1,)) == [2, 10]  # a key materialised (read above) is the row fold's
    fresh = LazyPartial.of(table)
    assert fresh is not None
    one = np.array([1], dtype=np.int64)
    assert fresh.add_columns(one, [np.array([0]), np.array([2 ** 63 - 10])]).tolist() == [False]  # 2 ** 63
    assert fresh.add_columns(one, [np.array([0]), np.array([2 ** 63 - 11])]).tolist() == [True]
    assert fresh.get((1,)) == [2, 2 ** 63 - 1]
    assert lazy == {(1,): [4, 20], (3,): [2, 2 ** 62]}


@given(keys=st.sets(st.integers(-(2 ** 63), 2 ** 63 - 1), max_size=40),
       dense=st.sets(st.integers(-5, 200), max_size=60),
       probes=st.lists(st.integers(-(2 ** 63), 2 ** 63 - 1) | st.integers(-10, 210), min_size=17, max_size=40))
def test_sorted_keys_find_positions_by_map_or_binary_search(keys, dense, probes) -> None:  # type: ignore[no-untyped-def]
    """``SortedKeys.find`` (a direct map for dense keys, binary search otherwise) against a dict."""
    import numpy as np

    from steadystate.dataflow.columns import SortedKeys

    for chosen in (keys, dense, keys | dense):
        ordered = sorted(chosen)
        finder = SortedKeys(np.array(ordered, dtype=np.int64))
        where = {key: at for at, key in enumerate(ordered)}
        for _ in range(2):  # the map is built by the first search
            found = finder.find(np.array(probes, dtype=np.int64)).tolist()
            assert found == [where.get(probe, -1) for probe in probes]
