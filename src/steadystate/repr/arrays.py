"""Array datums: one-dimensional PostgreSQL arrays, their order and their text form.

An array type is a :class:`~steadystate.repr.types.ScalarType` member (``INT4_ARRAY`` is ``int4[]``, oid 1007;
``repr/types.py`` ``_ARRAYS`` maps each element type to its array type and oid).  Its datum is an :class:`Array`,
a ``tuple`` of element datums (``None`` for a NULL element) whose lower bound is always 1.  Multi-dimensional
arrays and explicit bounds (``'[0:1]={1,2}'``) are refused with 0A000, never flattened.

Semantics follow PostgreSQL's ``array_eq``/``array_cmp``:

* equality is element-wise with NULL elements equal to each other (``ARRAY[1,NULL] = ARRAY[1,NULL]`` is true), which
  is ``tuple`` equality, so arrays hash and group as tuples do;
* order compares element by element, a NULL element sorting after every value, then the shorter array first.

Text form (``array_out``/``array_in``): ``{1,2,NULL}``; an element is double-quoted when it is empty, spells
``NULL``, or holds ``{ } , " \\`` or white space, with ``"`` and ``\\`` escaped by a backslash.
:func:`format_array` and :func:`parse_array` take the element's own formatter/parser, so the wire layer
(PostgreSQL's output functions) and casts (``expr/casts.py``) share the array syntax.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from steadystate import errors


class Array(tuple):  # type: ignore[type-arg]
    """A one-dimensional array datum: a tuple of element datums ordered as PostgreSQL orders arrays."""

    __slots__ = ()

    def _cmp(self, other: Any) -> int:
        for a, b in zip(self, other):
            if a is None or b is None:
                if a is None and b is None:
                    continue
                return 1 if a is None else -1
            if a != b:
                return -1 if a < b else 1
        return (len(self) > len(other)) - (len(self) < len(other))

    def __lt__(self, other: Any) -> bool:
        return self._cmp(other) < 0

    def __le__(self, other: Any) -> bool:
        return self._cmp(other) <= 0

    def __gt__(self, other: Any) -> bool:
        return self._cmp(other) > 0

    def __ge__(self, other: Any) -> bool:
        return self._cmp(other) >= 0

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:
        return f"Array({tuple.__repr__(self)})"


def array(values: Iterable[Any]) -> Array:
    return Array(values)


_SPECIAL = frozenset('{},"\\')
_SPACE = frozenset(" \t\n\r\v\f")  # array_isspace: PostgreSQL's white space in array literals, not Python's


def _isspace(c: str) -> bool:
    return c in _SPACE


def _quote(text: str) -> str:
    if text == "" or text.upper() == "NULL" or any(c in _SPECIAL or c in _SPACE for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def format_array(value: Iterable[Any], element_text: Callable[[Any], str]) -> str:
    """``array_out``: ``{a,b,NULL}`` with each element written by ``element_text``."""
    return "{" + ",".join("NULL" if v is None else _quote(element_text(v)) for v in value) + "}"


def _malformed(text: str, detail: str) -> errors.SteadyError:
    return errors.InvalidTextRepresentation(f'malformed array literal: "{text}"', detail=detail)


def _multidimensional() -> errors.SteadyError:
    return errors.FeatureNotSupported("multidimensional arrays are not supported")


def split_array(text: str) -> list[str | None]:
    """The element texts of a one-dimensional array literal (``None`` for an unquoted NULL)."""
    s = text.strip(" \t\n\r\v\f")
    if s.startswith("["):
        raise errors.FeatureNotSupported("array literals with explicit bounds are not supported")
    if not s.startswith("{"):
        raise _malformed(text, 'Array value must start with "{" or dimension information.')
    i, n = 1, len(s)
    out: list[str | None] = []
    while i < n and _isspace(s[i]):
        i += 1
    if i < n and s[i] == "}":
        if s[i + 1:].strip(" \t\n\r\v\f"):
            raise _malformed(text, "Junk after closing right brace.")
        return out
    while True:
        while i < n and _isspace(s[i]):
            i += 1
        if i >= n:
            raise _malformed(text, "Unexpected end of input.")
        if s[i] == "{":
            raise _multidimensional()
        chars: list[str] = []
        quoted = False
        if s[i] == '"':
            quoted = True
            i += 1
            while True:
                if i >= n:
                    raise _malformed(text, "Unexpected end of input.")
                c = s[i]
                if c == "\\":
                    if i + 1 >= n:
                        raise _malformed(text, "Unexpected end of input.")
                    chars.append(s[i + 1])
                    i += 2
                elif c == '"':
                    i += 1
                    break
                else:
                    chars.append(c)
                    i += 1
            while i < n and _isspace(s[i]):
                i += 1
        else:
            trailing = 0  # white space after the last escaped/plain character is trimmed
            while i < n and s[i] not in ',}':
                c = s[i]
                if c in '{"':
                    raise _malformed(text, f'Unexpected "{c}" character.')
                if c == "\\":
                    if i + 1 >= n:
                        raise _malformed(text, "Unexpected end of input.")
                    chars.append(s[i + 1])
                    i += 2
                    trailing = 0
                    quoted = True  # an escaped element is never NULL
                    continue
                chars.append(c)
                trailing = trailing + 1 if _isspace(c) else 0
                i += 1
            if trailing:
                del chars[-trailing:]
            if not chars and not quoted:
                raise _malformed(text, "Unexpected \",\" character." if i < n and s[i] == "," else
                                 'Unexpected "}" character.')
        element = "".join(chars)
        out.append(None if not quoted and element.upper() == "NULL" else element)
        if i >= n:
            raise _malformed(text, "Unexpected end of input.")
        if s[i] == ",":
            i += 1
            continue
        if s[i] == "}":
            if s[i + 1:].strip(" \t\n\r\v\f"):
                raise _malformed(text, "Junk after closing right brace.")
            return out
        raise _malformed(text, f'Unexpected "{s[i]}" character.')


def parse_array(text: str, element_parser: Callable[[str], Any]) -> Array:
    """``array_in``: the array ``text`` spells, each element read by ``element_parser``."""
    return Array(None if e is None else element_parser(e) for e in split_array(text))


__all__ = ["Array", "array", "format_array", "parse_array", "split_array"]
