"""A from-scratch evaluator of relation plans over plain multisets: the oracle for the differential tests.

It recomputes the whole plan on the accumulated input with nested loops and sorting (no incremental state),
sharing only scalar evaluation with the engine (tested on its own in tests/expr) — including numeric division,
so ``avg`` rounds to PostgreSQL's result scale (``numeric.mean``) as the engine does, whatever the decimal context.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections import Counter

from steadystate.expr import ir
from steadystate.expr.eval import compile_key, compile_predicates, compile_scalar
from steadystate.repr import numeric


def _positive(rows: dict) -> list:
    out = []
    for row, count in rows.items():
        out.extend([row] * max(count, 0))
    return out


def _aggregate(func: str, values: list, distinct: bool):
    if func == "count_star":
        return len(values)
    values = [v for v in values if v is not None]
    if distinct:
        values = list(set(values))
    if func == "count":
        return len(values)
    if not values:
        return None
    if func == "sum":
        return sum(values)
    if func == "min":
        return min(values)
    if func == "max":
        return max(values)
    if func == "avg":
        return numeric.mean(sum(values), len(values))
    if func == "bool_and":
        return all(values)
    if func == "bool_or":
        return any(values)
    if func in ("bit_and", "bit_or", "bit_xor"):
        return functools.reduce({"bit_and": operator.and_, "bit_or": operator.or_, "bit_xor": operator.xor}[func],
                                values)
    raise AssertionError(func)


def _compare(order, a, b) -> int:
    for o in order:
        x, y = a[o.column], b[o.column]
        if x == y:
            continue
        if x is None or y is None:
            null_first = not o.nulls_last
            return (-1 if null_first else 1) * (1 if x is None else -1)
        less = x < y
        result = -1 if less else 1
        return -result if o.desc else result
    ka = tuple((v is None, v if v is not None else 0) for v in a)
    kb = tuple((v is None, v if v is not None else 0) for v in b)
    return (ka > kb) - (ka < kb)


def evaluate_plan(expr: ir.RelationExpr, env: dict[str, dict]) -> Counter:
    if isinstance(expr, ir.Get):
        return Counter(env[expr.id])
    if isinstance(expr, ir.Constant):
        out = Counter()
        for row, diff in expr.updates():
            out[row] += diff
        return out
    if isinstance(expr, ir.Map):
        fs = [compile_scalar(s) for s in expr.scalars]
        out = Counter()
        for row, c in evaluate_plan(expr.input, env).items():
            ext = list(row)
            for f in fs:
                ext.append(f(tuple(ext)))
            out[tuple(ext)] += c
        return out
    if isinstance(expr, ir.Filter):
        keep = compile_predicates(expr.predicates)
        return Counter({r: c for r, c in evaluate_plan(expr.input, env).items() if keep(r)})
    if isinstance(expr, ir.Project):
        out = Counter()
        for row, c in evaluate_plan(expr.input, env).items():
            out[tuple(row[i] for i in expr.outputs)] += c
        return out
    if isinstance(expr, ir.Join):
        inputs = [list(evaluate_plan(i, env).items()) for i in expr.inputs]
        classes = [[compile_scalar(e) for e in cls] for cls in expr.equivalences]
        out = Counter()
        for combo in itertools.product(*inputs):
            row = tuple(v for r, _ in combo for v in r)
            ok = True
            for cls in classes:
                vals = [f(row) for f in cls]
                if any(x is None for x in vals) or any(x != vals[0] for x in vals):
                    ok = False
                    break
            if ok:
                count = 1
                for _, c in combo:
                    count *= c
                out[row] += count
        return out
    if isinstance(expr, ir.Reduce):
        rows = _positive(evaluate_plan(expr.input, env))
        key_fn = compile_key(expr.group_key)
        groups: dict = {}
        for row in rows:
            groups.setdefault(key_fn(row), []).append(row)
        if not expr.group_key and not groups:
            groups[()] = []
        out = Counter()
        for key, members in groups.items():
            aggs = []
            for a in expr.aggregates:
                f = compile_scalar(a.expr)
                aggs.append(_aggregate(a.func, [f(r) for r in members], a.distinct))
            out[tuple(key) + tuple(aggs)] += 1
        return out
    if isinstance(expr, ir.TopK):
        rows = _positive(evaluate_plan(expr.input, env))
        groups = {}
        for row in rows:
            groups.setdefault(tuple(row[i] for i in expr.group_key), []).append(row)
        out = Counter()
        for members in groups.values():
            members.sort(key=functools.cmp_to_key(lambda a, b: _compare(expr.order_key, a, b)))
            end = None if expr.limit is None else expr.offset + expr.limit
            for row in members[expr.offset:end]:
                out[row] += 1
        return out
    if isinstance(expr, ir.Distinct):
        return Counter({r: 1 for r, c in evaluate_plan(expr.input, env).items() if c > 0})
    if isinstance(expr, ir.Threshold):
        return Counter({r: c for r, c in evaluate_plan(expr.input, env).items() if c > 0})
    if isinstance(expr, ir.Negate):
        return Counter({r: -c for r, c in evaluate_plan(expr.input, env).items()})
    if isinstance(expr, ir.Union_):
        out = Counter()
        for child in expr.inputs:
            for r, c in evaluate_plan(child, env).items():
                out[r] += c
        return out
    if isinstance(expr, ir.ArrangeBy):
        return evaluate_plan(expr.input, env)
    raise AssertionError(expr)
