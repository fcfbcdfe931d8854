"""The data that flows between operators: deltas (ok part + error part) and errors as data.

Within one timestamp, a collection's change is a :data:`Delta`: a pair of dicts ``(ok, err)``, where ``ok`` maps
row → diff and ``err`` maps :class:`EvalError` → diff.  Dicts consolidate by construction (equal rows sum their
diffs) and zero diffs are dropped, so a delta is always consolidated.  Operators never mutate a delta they
receive (several consumers may share it); they build new dicts.

:class:`EvalError` is an evaluation error (``1/0`` in a view) turned into a hashable, ordered value, so it can
be counted and retracted like a row.  Like Materialize, a dataflow keeps running when a row fails to evaluate;
the error travels downstream and makes peeks of the affected arrangement fail until the row is deleted.
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple

from steadystate import errors

# the same shape as ``steadystate.repr.Row``; spelled here because the engine imports only ``errors``
Row = tuple[Any, ...]
Update = tuple[Row, int, int]
OkDelta = dict[Row, int]


class EvalError(NamedTuple):
    """An error as data: comparable, hashable, and re-raisable as the original error class."""

    message: str
    sqlstate: str
    kind: str = "SteadyError"
    detail: str = ""
    hint: str = ""

    @classmethod
    def from_exception(cls, exc: BaseException) -> "EvalError":
        if isinstance(exc, errors.SteadyError):
            return cls(exc.message, exc.sqlstate, type(exc).__name__, exc.detail or "", exc.hint or "")
        return cls(f"internal error evaluating expression: {exc}", "XX000", "InternalError")

    def to_exception(self) -> errors.SteadyError:
        error_class = getattr(errors, self.kind, errors.SteadyError)
        if not (isinstance(error_class, type) and issubclass(error_class, errors.SteadyError)):
            error_class = errors.SteadyError
        return error_class(self.message, sqlstate=self.sqlstate, detail=self.detail or None, hint=self.hint or None)

    def to_fields(self) -> errors.ErrorFields:
        """The error as it leaves the dataflow (a peek's error)."""
        return errors.ErrorFields(self.sqlstate, self.message, self.detail or None, self.hint or None)


ErrDelta = dict[EvalError, int]
Delta = tuple[OkDelta, ErrDelta]

EMPTY: Delta = ({}, {})


def add_into(target: dict, key: object, diff: int) -> None:
    """``target[key] += diff``, deleting the entry when it reaches zero."""
    total = target.get(key, 0) + diff
    if total:
        target[key] = total
    else:
        del target[key]


def merge_into(target: dict, source: dict, sign: int = 1) -> None:
    for key, diff in source.items():
        total = target.get(key, 0) + diff * sign
        if total:
            target[key] = total
        else:
            del target[key]


def consolidate(updates: Iterable[Update]) -> list[Update]:
    """Sum diffs per (row, time), drop zeros, sort by time (stable within a time by first appearance)."""
    totals: dict[tuple[Row, int], int] = {}
    for row, time, diff in updates:
        key = (row, time)
        totals[key] = totals.get(key, 0) + diff
    out = [(row, time, diff) for (row, time), diff in totals.items() if diff]
    out.sort(key=lambda u: u[1])
    return out


def first_error(err: ErrDelta) -> EvalError | None:
    """The deterministic representative of a non-empty error collection (least by message, then code)."""
    live = [e for e, count in err.items() if count]
    return min(live) if live else None
