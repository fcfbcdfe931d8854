"""Recursive bindings (a LetRec) maintained by recomputing their fixed point on each change of their inputs.

:class:`LetRecOperator` owns an *inner program* (:class:`InnerProgram`): an incremental dataflow of its own that
computes every binding's next value from the current values of all bindings and from the LetRec's outer inputs
(the collections its bindings read from outside).  The program is incremental, so feeding it the *change* of a
binding gives the change of every value it feeds: that is semi-naive evaluation, for any operator the engine has
(joins, reductions, DISTINCT, negation), because each operator is already a correct incremental operator.

Per outer time (one round of the outer graph):

1. the outer inputs' changes are fed in, and every binding is reset to empty (its current value retracted), so the
   fixed point is always the one reached *from empty*, as Materialize's WITH MUTUALLY RECURSIVE defines it (starting
   from the old fixed point would be wrong after a deletion: a cycle would keep unreachable rows alive);
2. bindings are then updated in order, each from the current values of all of them (a later binding sees the
   update an earlier one got in the same iteration), until an iteration changes none (converged) or ``limit``
   iterations have run: then ``RETURN AT`` keeps the last iterate and ``ERROR AT`` (and the default limit) makes
   the bindings' result an error;
3. the output is the difference between the new values and those emitted before, as rows ``(binding index, row)``
   (:class:`SelectBinding` splits them).  An evaluation error in a value stops the iteration: the result is then
   that error, in every binding, until a later change removes its cause.

So per change the work is a whole semi-naive evaluation of the recursion (the outer inputs are not re-read: the
program keeps its own state), and the state is the program's plus the output.  True differential iteration
(reusing the iterates of earlier times) would cost less for small changes; it is not done.

One exception, exact by Kleene's theorem: when the bindings are *monotone* (``monotone``: built only from maps,
filters, projections, inner joins, unions and DISTINCT, with no explicit limit, whose iteration count would change)
and a change only inserts, the new least fixed point contains the old one, and iterating from the old one (which
``f`` maps into itself or above) climbs to it: the step then starts from the current values, and its cost is that
of the new rows only (semi-naive).  Any deletion, error or non-monotone binding restarts from empty.
"""

from __future__ import annotations

from typing import Protocol

from steadystate import errors
from steadystate.dataflow.collection import EMPTY, Delta, ErrDelta, EvalError, OkDelta, Row, merge_into
from steadystate.dataflow.operators import Operator


class InnerProgram(Protocol):
    def push(self, feed: dict[str, Delta]) -> list[Delta]:
        """Feed changes of the named inputs (outer inputs and bindings) at a new inner time; the resulting change
        of each binding's next value, in binding order."""
        ...


def _difference(new: OkDelta, old: OkDelta) -> OkDelta:
    out = {row: diff - old.get(row, 0) for row, diff in new.items() if diff != old.get(row, 0)}
    for row, diff in old.items():
        if row not in new:
            out[row] = -diff
    return out


class LetRecOperator(Operator):
    """Inputs: the outer collections ``input_names`` (in order); output: ``(index, row)`` rows of every binding."""

    def __init__(self, inputs: tuple[int, ...], input_names: tuple[str, ...], binding_ids: tuple[str, ...],
                 binding_names: tuple[str, ...], program: InnerProgram, limit: int, return_at_limit: bool,
                 monotone: bool = False) -> None:
        self.inputs = inputs
        self.input_names = input_names
        self.binding_ids = binding_ids
        self.binding_names = binding_names
        self.program = program
        self.limit = limit
        self.return_at_limit = return_at_limit
        count = len(binding_ids)
        self.values: list[OkDelta] = [{} for _ in range(count)]  # each binding's current value, as fed
        self.pending: list[OkDelta] = [{} for _ in range(count)]  # next value minus current value
        self.value_errors: list[ErrDelta] = [{} for _ in range(count)]  # errors in the next values
        self.emitted: list[Delta] = [EMPTY for _ in range(count)]
        self.iterations = 0  # of the last fixed point (introspection, tests)
        self.monotone = monotone
        self.settled = True  # the values are the least fixed point of the inputs so far (no error, no limit)
        self.restarts = 0  # fixed points computed from empty because an input changed (introspection, tests)

    def _push(self, feed: dict[str, Delta]) -> None:
        for index, (ok, err) in enumerate(self.program.push(feed)):
            merge_into(self.pending[index], ok)
            merge_into(self.value_errors[index], err)

    def _set(self, index: int, change: OkDelta) -> None:
        merge_into(self.values[index], change)
        merge_into(self.pending[index], change, -1)
        self._push({self.binding_ids[index]: (change, {})})

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        feed = {name: delta for name, delta in zip(self.input_names, deltas) if delta[0] or delta[1]}
        inserts_only = all(not err and all(diff > 0 for diff in ok.values()) for ok, err in feed.values())
        if not (self.monotone and self.settled and inserts_only):
            self.restarts += bool(feed)  # the first fixed point over unchanged (empty) inputs is no restart
            for index, value in enumerate(self.values):  # restart from empty
                if value:
                    retract = {row: -diff for row, diff in value.items()}
                    feed[self.binding_ids[index]] = (retract, {})
                    merge_into(self.pending[index], value)
                    self.values[index] = {}
        self._push(feed)
        failure = self._iterate()
        self.settled = failure is None and not any(self.pending)
        return self._emit(failure)

    def _iterate(self) -> ErrDelta | None:
        iterations = 0
        while True:
            failure: ErrDelta = {}
            for err in self.value_errors:
                merge_into(failure, err)
            if failure:
                self.iterations = iterations
                return failure
            if not any(self.pending):
                self.iterations = iterations
                return None
            if iterations >= self.limit:
                self.iterations = iterations
                if self.return_at_limit:
                    return None
                return {self._limit_error(): 1}
            for index in range(len(self.values)):
                change = self.pending[index]
                if change:
                    self._set(index, dict(change))
            iterations += 1

    def _limit_error(self) -> EvalError:
        names = ", ".join(errors.quote_ident(name) for name in self.binding_names)
        return EvalError.from_exception(errors.RecursionLimitExceeded(
            f"recursive query exceeded the recursion limit {self.limit}",
            detail=f"the bindings {names} still changed after {self.limit} iterations",
            hint="use RETURN AT RECURSION LIMIT to return the last iterate instead, or raise the limit "
                 "(WITH MUTUALLY RECURSIVE (ERROR AT RECURSION LIMIT n))"))

    def _emit(self, failure: ErrDelta | None) -> Delta:
        ok: dict[Row, int] = {}
        err: ErrDelta = {}
        for index, (old_ok, old_err) in enumerate(self.emitted):
            new: Delta = ({}, failure) if failure is not None else (self.values[index], {})
            for row, diff in _difference(new[0], old_ok).items():
                ok[(index, row)] = diff
            merge_into(err, _difference(new[1], old_err))  # type: ignore[arg-type]
            self.emitted[index] = (dict(new[0]), dict(new[1]))
        return ok, err


class SelectBinding(Operator):
    """The rows of one binding out of a :class:`LetRecOperator`'s output (errors go to every binding)."""

    def __init__(self, input: int, index: int) -> None:
        self.inputs = (input,)
        self.index = index

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        index = self.index
        return {row: diff for (tag, row), diff in ok_in.items() if tag == index}, err_in
