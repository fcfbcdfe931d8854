"""Sibling join-accumulates that share their state: the branches of a ``ROLLUP`` (or of ``GROUPING SETS``) over a join.

``SELECT d.region, d.tier, count(*), sum(f.amount) FROM fact f JOIN dim d ON … GROUP BY ROLLUP (d.region, d.tier)``
is planned as one ``Reduce(Join(fact, dim))`` per grouping set, each fused into a
:class:`~steadystate.dataflow.join_accumulate.JoinAccumulate`.  The branches differ only in their group columns:
their inputs, join keys and accumulations are the same, so their partial sums per join key ``P`` and their
arrangement of B are equal at all times.  Kept apart, every batch pays each branch for the same work: the
contributions of A's rows, the updates of ``P``, the lookups (and first materialisation) of B's rows, the
arrangement of B's changes.

A :class:`Cohort` links such siblings (the renderer makes one for operators with the same inputs, join keys,
accumulations and an arranged — not imported — B).  Hydration and the first round are unchanged: every member
folds its snapshot and computes its groups itself (the snapshots are folded once anyway and copied,
``render.columnar.FanOut``).  After every member's first round the followers drop their copies of ``P`` and B and
read the leader's (:meth:`Cohort.first_round_done`), and from then on the leader — the first member in the graph's
order, so the first to run in a round — folds each delta once for all of them: each A update's contribution is
added to ``P`` once and its B rows looked up once, then added to the group of each member's group columns
(:func:`generate_shared`'s ``fold_a``); each B update reads ``P`` once and is arranged once.  Every member's
touched groups emit as its own (its ``emit``); the followers' outputs wait in the cohort until their own turn in the
round (:meth:`Cohort.take`, which checks it is the round the leader ran).  The results are exactly those of the
separate operators (the property tests compare the two).  A lone join-accumulate's folds are the same source for
one grouping set (:func:`fold_sources` with ``one``).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from steadystate.dataflow.accumulate import (
    Accumulator,
    add_source,
    compile_functions,
    contribution_source,
    key_source,
    width_of,
)
from steadystate.dataflow.collection import OkDelta


def generate_shared(a_key: Sequence[int], b_key: Sequence[int], group_sets: Sequence[Sequence[int]],
                    accumulators: Sequence[Accumulator]) -> tuple[Callable[..., None], Callable[..., None]]:
    """``fold_a(items, partial, pget, bget, groups, touched)`` and ``fold_b(items, partial, arranged, groups,
    touched)`` of ``join_accumulate``, with ``groups``/``touched`` one per grouping set (``group_sets[j]``: its
    columns of B's rows): ``P`` and B are read and updated once per update, the groups of every set updated."""
    fold_a, fold_b = fold_sources(a_key, b_key, group_sets, accumulators)
    functions = compile_functions(fold_a + [""] + fold_b, "shared join accumulate", accumulators)
    return functions["fold_a"], functions["fold_b"]


def fold_sources(a_key: Sequence[int], b_key: Sequence[int], group_sets: Sequence[Sequence[int]],
                 accumulators: Sequence[Accumulator], one: bool = False) -> tuple[list[str], list[str]]:
    """The source lines of :func:`generate_shared`'s two functions; ``one``: for a single grouping set, whose
    ``groups``/``touched`` are given as they are, not in lists (``join_accumulate``'s own folds)."""
    width = width_of(accumulators)
    new_group = [0] * width + [None]
    sets = range(len(group_sets))
    prelude = [line for j in sets for line in (
        f"    g{j} = groups" if one else f"    g{j} = groups[{j}]", f"    g{j}get = g{j}.get",
        "    add0 = touched.add" if one else f"    add{j} = touched[{j}].add")]

    def into_groups(indent: str, factor: str | None, source: str) -> list[str]:
        lines: list[str] = []
        for j in sets:
            lines += [
                f"{indent}group = {key_source(group_sets[j], 'b')}",
                f"{indent}out = g{j}get(group)",
                f"{indent}if out is None:",
                f"{indent}    out = g{j}[group] = {new_group!r}",
            ]
            if source == "c":
                lines += add_source("out", width, indent, factor=factor)
            else:
                lines += [f"{indent}out[{i}] += acc[{i}] * diff" for i in range(width)]
            lines.append(f"{indent}add{j}(group)")
        return lines

    null_test = " or ".join(f"row[{c}] is None" for c in a_key)
    fold_a = [
        "def fold_a(items, partial, pget, bget, groups, touched):",
        *prelude,
        "    for row, diff in items:",
        f"        if {null_test}:",
        "            continue",
        f"        key = {key_source(a_key)}",
        *contribution_source(accumulators, "        "),
        "        acc = pget(key)",
        "        if acc is None:",
        f"            acc = partial[key] = {[0] * width!r}",
        *add_source("acc", width, "        "),
        "        if acc[0] == 0 and not any(acc):",
        "            del partial[key]",
        "        matches = bget(key)",
        "        if matches is None:",
        "            continue",
        "        for b, count in matches.items():",
        "            if count == 1:",
        *into_groups("                ", None, "c"),
        "            else:",
        *into_groups("                ", "count", "c"),
    ]
    b_null_test = " or ".join(f"b[{c}] is None" for c in b_key)
    fold_b = [
        "def fold_b(items, partial, arranged, groups, touched):",
        "    pget = partial.get",
        *prelude,
        "    for b, diff in items:",
        f"        if {b_null_test}:",
        "            continue",
        f"        key = {key_source(b_key, 'b')}",
        "        acc = pget(key)",
        "        if acc is not None:",
        *into_groups("            ", None, "acc"),
        "        if arranged is None:",  # B is an imported arrangement, read in place: nothing to keep
        "            continue",
        "        rows = arranged.get(key)",
        "        if rows is None:",
        "            arranged[key] = {b: diff}",
        "            continue",
        "        total = rows.get(b, 0) + diff",
        "        if total:",
        "            rows[b] = total",
        "        else:",
        "            del rows[b]",
        "            if not rows:",
        "                del arranged[key]",
    ]
    return fold_a, fold_b


class Cohort:
    """Join-accumulates with equal inputs, join keys and accumulations (module docstring); ``members[0]`` leads."""

    def __init__(self, leader: Any) -> None:
        self.members: list[Any] = [leader]
        self.ready = False  # every member ran its first round: the state is shared, the leader folds for all
        self._first_done: set[int] = set()
        self._outputs: dict[int, tuple[int, OkDelta]] = {}  # follower position -> (round's time, its output)
        self.fold_a: Callable[..., None] | None = None
        self.fold_b: Callable[..., None] | None = None

    @property
    def leader(self) -> Any:
        return self.members[0]

    def join(self, member: Any) -> None:
        if self.ready or self._first_done:
            raise ValueError("a cohort takes members only before it runs")
        self.members.append(member)

    def first_round_done(self, member: Any) -> None:
        """``member`` ran its first round; after the last one, the followers share the leader's ``P`` and B."""
        self._first_done.add(id(member))
        if len(self._first_done) < len(self.members):
            return
        leader = self.leader
        for follower in self.members[1:]:
            follower.partial = leader.partial
            follower.arranged = leader.arranged
        self.fold_a, self.fold_b = generate_shared(leader.a_key, leader.b_key,
                                                   [m.group_columns for m in self.members], leader.accumulators)
        self.ready = True

    def put(self, time: int, outputs: list[OkDelta]) -> None:
        """The followers' outputs of the leader's round at ``time``."""
        for position, ok in enumerate(outputs, start=1):
            self._outputs[position] = (time, ok)

    def take(self, member: Any, time: int) -> OkDelta:
        """A follower's output of this round, which the leader computed."""
        position = self.members.index(member)
        found = self._outputs.pop(position, None)
        if found is None or found[0] != time:
            raise AssertionError("a join-accumulate cohort's follower ran a round its leader did not")
        return found[1]

    def is_follower(self, member: Any) -> bool:
        return self.ready and member is not self.members[0]


def cohort_key(member: Any) -> tuple | None:
    """What members of one cohort have in common (``None``: this operator shares with nobody: B is imported)."""
    if member.shared_b is not None:
        return None
    return (member.inputs, member.a_key, member.b_key, tuple((a.kind, a.column) for a in member.accumulators),
            member.b_arity)


__all__ = ["Cohort", "cohort_key", "fold_sources", "generate_shared"]
