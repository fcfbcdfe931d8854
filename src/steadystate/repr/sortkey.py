"""NaN in orderings: PostgreSQL sorts a float or numeric NaN after every other value and equal to itself.

Python's ``<`` says a NaN is neither below nor above anything (a sort with NaN keys is arbitrary) and raises for a
numeric NaN; so every sort key of a datum goes through :func:`nan_last`, which replaces a NaN (the only datum unequal
to itself) by :data:`NAN_KEY`, an object above every value and equal only to itself.  ``expr.functions`` orders and
compares with it (``<``, ``greatest``, ``least``), ``expr.finishing`` and ``dataflow.topk`` sort with it.
"""

from __future__ import annotations

from typing import Any


class _AboveAll:
    """The sort key of a NaN: above every value, equal to itself."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return other is not self

    def __le__(self, other: object) -> bool:
        return other is self

    def __ge__(self, other: object) -> bool:
        return True

    def __repr__(self) -> str:
        return "NaN"


NAN_KEY = _AboveAll()


def nan_last(value: Any) -> Any:
    """``value`` as a sort key: itself, or :data:`NAN_KEY` for a NaN (float or numeric)."""
    return value if value == value else NAN_KEY


__all__ = ["NAN_KEY", "nan_last"]
