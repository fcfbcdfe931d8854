"""Fast planning of the simplest, most frequent writes, without the general parser.

Bulk writes arrive as plain SQL text: ``INSERT INTO t [(cols)] VALUES (...), (...)`` with hundreds of rows,
``DELETE FROM t WHERE k IN (...)``, ``UPDATE t SET c = v WHERE k = v``.  Tokenizing and parsing those with
sqlglot costs milliseconds per statement in pure Python, which dominated write latency.  This module
recognizes exactly these shapes with regular expressions (C speed) when every value is a plain literal
(numbers, quoted strings, NULL, TRUE/FALSE), converts the literals to the target columns' types, and builds
the same plans the planner would.  Anything else — an expression, a cast, a column default, a literal that
does not convert cleanly, a name that does not resolve — returns ``None``, and the statement takes the
general path, which produces the proper plan or the proper error.
"""

from __future__ import annotations

import decimal
import re
from typing import Any, Callable

from steadystate.errors import SteadyError
from steadystate.expr.casts import parse_bool, parse_date, parse_timestamp
from steadystate.expr.ir import CallBinary, CallVariadic, ColumnRef, Constant, literal
from steadystate.repr import typmod
from steadystate.repr.types import Column, RelationDesc, ScalarType
from steadystate.sql import plan as p
from steadystate.sql.catalog_api import PlanContext, ResolvedItem
from steadystate.repr.objects import ItemKind

_IDENT = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")'
_NAME = rf"{_IDENT}(?:\s*\.\s*{_IDENT}){{0,2}}"
_LITERAL = r"(?:'(?:[^']|'')*'|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|NULL|TRUE|FALSE)"
_ROW = rf"\(\s*{_LITERAL}(?:\s*,\s*{_LITERAL})*\s*\)"

_INSERT = re.compile(
    rf"\s*INSERT\s+INTO\s+(?P<table>{_NAME})\s*(?:\((?P<columns>\s*{_IDENT}(?:\s*,\s*{_IDENT})*\s*)\))?"
    rf"\s*VALUES\s*(?P<rows>{_ROW}(?:\s*,\s*{_ROW})*)\s*;?\s*",
    re.IGNORECASE,
)
_DELETE = re.compile(
    rf"\s*DELETE\s+FROM\s+(?P<table>{_NAME})\s+WHERE\s+(?P<column>{_IDENT})\s*"
    rf"(?:=\s*(?P<value>{_LITERAL})|IN\s*\((?P<values>\s*{_LITERAL}(?:\s*,\s*{_LITERAL})*\s*)\))\s*;?\s*",
    re.IGNORECASE,
)
_ASSIGNMENT = rf"{_IDENT}\s*=\s*{_LITERAL}"
_UPDATE = re.compile(
    rf"\s*UPDATE\s+(?P<table>{_NAME})\s+SET\s+(?P<assignments>{_ASSIGNMENT}(?:\s*,\s*{_ASSIGNMENT})*)\s+"
    rf"WHERE\s+(?P<column>{_IDENT})\s*=\s*(?P<value>{_LITERAL})\s*;?\s*",
    re.IGNORECASE,
)
_LITERALS = re.compile(_LITERAL, re.IGNORECASE)
_ROWS = re.compile(_ROW, re.IGNORECASE)
_IDENTS = re.compile(_IDENT)
_ASSIGNMENTS = re.compile(rf"(?P<column>{_IDENT})\s*=\s*(?P<value>{_LITERAL})", re.IGNORECASE)


class _NotSimple(Exception):
    """The statement is not one of the simple shapes after all: use the general path."""


def _ident(text: str) -> str:
    text = text.strip()
    if text.startswith('"'):
        return text[1:-1].replace('""', '"')
    return text.lower()


def _name(text: str) -> tuple[str, ...]:
    return tuple(_ident(part) for part in _IDENTS.findall(text))


def _number(text: str) -> int | decimal.Decimal:
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    number = decimal.Decimal(text)
    return number.copy_abs() if number.is_zero() else number  # a numeric constant has no negative zero


_INT_RANGE = {ScalarType.INT4: 2**31, ScalarType.INT8: 2**63}
_FROM_TEXT: dict[ScalarType, Callable[[str], Any]] = {
    ScalarType.TEXT: lambda s: s,
    ScalarType.DATE: parse_date,
    ScalarType.TIMESTAMP: parse_timestamp,
    ScalarType.BOOL: parse_bool,
}


def _convert(token: str, typ: ScalarType) -> Any:
    upper = token.upper()
    if upper == "NULL":
        return None
    if upper in ("TRUE", "FALSE"):
        if typ is not ScalarType.BOOL:
            raise _NotSimple
        return upper == "TRUE"
    if token.startswith("'"):
        parse = _FROM_TEXT.get(typ)
        if parse is None:
            raise _NotSimple
        try:
            return parse(token[1:-1].replace("''", "'"))
        except SteadyError:
            raise _NotSimple from None
    number = _number(token)
    if typ in _INT_RANGE and isinstance(number, int) and -_INT_RANGE[typ] <= number < _INT_RANGE[typ]:
        return number
    if typ is ScalarType.FLOAT8:
        return float(number)
    if typ is ScalarType.NUMERIC:
        return decimal.Decimal(number)
    raise _NotSimple


def _assign(value: Any, column: Column) -> Any:
    """``value`` brought to its column's type modifier (PostgreSQL's assignment rules; errors propagate)."""
    return value if column.mod is None else typmod.coercer(column.mod, explicit=False)(value)


def _resolve_table(ctx: PlanContext, text: str) -> ResolvedItem:
    try:
        item = ctx.catalog.resolve_item(_name(text))
    except SteadyError:
        raise _NotSimple from None
    if item.kind != ItemKind.TABLE or item.desc is None:
        raise _NotSimple
    return item


def _table(ctx: PlanContext, text: str) -> tuple[str, RelationDesc]:
    item = _resolve_table(ctx, text)
    assert item.desc is not None
    return item.id, item.desc


def _column(desc: RelationDesc, text: str) -> int:
    index = desc.index_of(_ident(text))
    if index is None:
        raise _NotSimple
    return index


def _insert(match: re.Match[str], ctx: PlanContext) -> p.InsertPlan:
    item = _resolve_table(ctx, match["table"])
    table_id, desc = item.id, item.desc
    assert desc is not None
    if match["columns"]:
        positions = [_column(desc, c) for c in _IDENTS.findall(match["columns"])]
        if len(set(positions)) != len(positions):
            raise _NotSimple
        if item.defaults and len(positions) < desc.arity:
            raise _NotSimple  # omitted columns take their DEFAULT: the general planner evaluates it
    else:
        positions = list(range(desc.arity))
    types = [desc.columns[i].type for i in positions]
    rows = []
    for row_text in _ROWS.findall(match["rows"]):
        tokens = _LITERALS.findall(row_text)
        if len(tokens) != len(positions):
            raise _NotSimple
        values = [_assign(_convert(token, typ), desc.columns[i]) for token, typ, i in zip(tokens, types, positions)]
        if len(positions) == desc.arity and positions == list(range(desc.arity)):
            rows.append(tuple(values))
        else:
            full: list[Any] = [None] * desc.arity
            for position, value in zip(positions, values):
                full[position] = value
            rows.append(tuple(full))
    return p.InsertPlan(table_id, Constant.of(rows, desc.arity), desc)


def _delete(match: re.Match[str], ctx: PlanContext) -> p.DeletePlan:
    table_id, desc = _table(ctx, match["table"])
    index = _column(desc, match["column"])
    typ = desc.columns[index].type
    if desc.columns[index].mod is not None:
        raise _NotSimple  # a literal compared with a char(n)/varchar(n) column: the general planner types it
    tokens = [match["value"]] if match["value"] else _LITERALS.findall(match["values"])
    values = [literal(_convert(token, typ), typ) for token in tokens]
    predicate: CallBinary | CallVariadic
    if len(values) == 1:
        predicate = CallBinary("eq", ColumnRef(index), values[0])
    else:
        predicate = CallVariadic("in_list", (ColumnRef(index), *values))
    return p.DeletePlan(table_id, (predicate,), desc)


def _update(match: re.Match[str], ctx: PlanContext) -> p.UpdatePlan:
    table_id, desc = _table(ctx, match["table"])
    assignments = []
    for assignment in _ASSIGNMENTS.finditer(match["assignments"]):
        index = _column(desc, assignment["column"])
        typ = desc.columns[index].type
        value = _assign(_convert(assignment["value"], typ), desc.columns[index])
        assignments.append((index, literal(value, typ)))
    if len({index for index, _ in assignments}) != len(assignments):
        raise _NotSimple
    index = _column(desc, match["column"])
    typ = desc.columns[index].type
    if desc.columns[index].mod is not None:
        raise _NotSimple
    predicate = CallBinary("eq", ColumnRef(index), literal(_convert(match["value"], typ), typ))
    return p.UpdatePlan(table_id, (predicate,), tuple(assignments), desc)


_SHAPES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], PlanContext], Any]], ...] = (
    (_INSERT, _insert),
    (_DELETE, _delete),
    (_UPDATE, _update),
)


def plan_simple_write(sql: str, ctx: PlanContext) -> p.InsertPlan | p.DeletePlan | p.UpdatePlan | None:
    """The plan of a simple literal INSERT/DELETE/UPDATE, or None to use the general parser and planner."""
    head = sql.lstrip()[:6].upper()
    if head not in ("INSERT", "DELETE", "UPDATE") or ctx.params:
        return None
    for pattern, build in _SHAPES:
        match = pattern.fullmatch(sql)
        if match is not None:
            try:
                return build(match, ctx)
            except (_NotSimple, decimal.InvalidOperation, ValueError):
                return None
    return None
