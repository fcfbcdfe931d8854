"""Hypothesis strategies for the differential tests: schemas, data, queries and write sequences.

A *schema* is 2-3 tables ``t0..t2``; each has two small-domain integer key columns ``k`` and ``j`` (values
0..3 and NULL, so joins match and groups collide) and a few of ``s text``, ``flag bool``, ``amt numeric``.
Queries are built as SQL text by typed expression generators over a *scope* (the columns visible at that
point, each with its type), so every generated query is well typed.  Both engines read the same text: the
generated SQL keeps to the common ground of PostgreSQL and DuckDB (no division, no overflow, no
locale-dependent ordering, top-k ordered by every output column so the answer is unique).

Tables are referenced as ``<prefix>_tN AS tN`` so each hypothesis example can use fresh table names on the
one shared server while the query text stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from hypothesis import strategies as st

INT, TEXT, BOOL, NUM = "int", "text", "bool", "num"

SQL_TYPE = {INT: "int", TEXT: "text", BOOL: "bool", NUM: "numeric(10,2)"}
DUCK_TYPE = {INT: "INTEGER", TEXT: "VARCHAR", BOOL: "BOOLEAN", NUM: "DECIMAL(10,2)"}

# NULL is one value among the few of each domain (about one in five), not half of all values.
KEY_VALUES = st.sampled_from([None, 0, 1, 2, 3])
VALUE_STRATEGY: dict[str, st.SearchStrategy] = {
    INT: KEY_VALUES,
    TEXT: st.sampled_from([None, "a", "b", "ab", "ba", ""]),
    BOOL: st.sampled_from([None, True, False, True]),
    NUM: st.sampled_from([None, "0", "1.5", "-2.25", "10", "0.01"]),
}
NON_NULL_LITERALS: dict[str, st.SearchStrategy] = {
    INT: st.integers(-1, 3),
    TEXT: st.sampled_from(["a", "b", "ab", ""]),
    BOOL: st.booleans(),
    NUM: st.sampled_from(["0", "1.5", "-2.25"]),
}
EXTRA_COLUMNS = {"s": TEXT, "flag": BOOL, "amt": NUM}


@dataclass(frozen=True)
class Table:
    alias: str
    columns: tuple[tuple[str, str], ...]  # (name, kind)


@dataclass(frozen=True)
class Column:
    sql: str
    kind: str


def literal(kind: str, value: object) -> str:
    if value is None:
        return f"CAST(NULL AS {SQL_TYPE[kind]})"
    if kind == TEXT:
        return "'" + str(value).replace("'", "''") + "'"
    if kind == BOOL:
        return "true" if value else "false"
    if kind == NUM:
        return f"CAST({value} AS numeric(10,2))"
    return str(value)


def row_literal(table: Table, row: dict[str, object]) -> str:
    return "(" + ", ".join(literal(kind, row[name]) for name, kind in table.columns) + ")"


@st.composite
def schemas(draw: Callable) -> tuple[Table, ...]:
    count = draw(st.integers(2, 3))
    tables = []
    for index in range(count):
        extras = draw(st.lists(st.sampled_from(sorted(EXTRA_COLUMNS)), unique=True, min_size=1, max_size=3))
        columns = (("k", INT), ("j", INT)) + tuple((name, EXTRA_COLUMNS[name]) for name in sorted(extras))
        tables.append(Table(f"t{index}", columns))
    return tuple(tables)


@st.composite
def rows_for(draw: Callable, table: Table, min_size: int = 0, max_size: int = 5) -> list[dict[str, object]]:
    return draw(st.lists(st.fixed_dictionaries({name: VALUE_STRATEGY[kind] for name, kind in table.columns}),
                         min_size=min_size, max_size=max_size))


# ---------------------------------------------------------------------------------------------- expressions

class ExprGen:
    """Typed expression generation over a scope, drawing from a hypothesis ``draw``."""

    def __init__(self, draw: Callable, scope: list[Column]) -> None:
        self.draw = draw
        self.scope = scope

    def columns(self, kind: str) -> list[Column]:
        return [c for c in self.scope if c.kind == kind]

    def leaf(self, kind: str) -> str:
        cols = self.columns(kind)
        if cols and self.draw(st.integers(0, 3)) > 0:
            return self.draw(st.sampled_from(cols)).sql
        if kind == BOOL:
            return self.draw(st.sampled_from(["true", "false", "CAST(NULL AS bool)"]))
        if self.draw(st.integers(0, 7)) == 0:
            return literal(kind, None)
        value = self.draw(NON_NULL_LITERALS[kind])
        return literal(kind, value)

    def expr(self, kind: str, depth: int = 2) -> str:
        if depth <= 0 or self.draw(st.integers(0, 2)) == 0:
            return self.leaf(kind) if kind != BOOL else self.bool_leaf()
        return {INT: self.int_node, TEXT: self.text_node, BOOL: self.bool_node, NUM: self.num_node}[kind](depth - 1)

    def int_node(self, d: int) -> str:
        choice = self.draw(st.sampled_from(["arith", "arith", "case", "coalesce", "nullif", "abs", "length"]))
        if choice == "arith":
            op = self.draw(st.sampled_from(["+", "-", "*"]))
            return f"({self.expr(INT, d)} {op} {self.expr(INT, d)})"
        if choice == "case":
            return f"(CASE WHEN {self.expr(BOOL, d)} THEN {self.expr(INT, d)} ELSE {self.expr(INT, d)} END)"
        if choice == "coalesce":
            return f"COALESCE({self.expr(INT, d)}, {self.expr(INT, d)})"
        if choice == "nullif":
            return f"NULLIF({self.expr(INT, d)}, {self.expr(INT, d)})"
        if choice == "abs":
            return f"abs({self.expr(INT, d)})"
        return f"length({self.expr(TEXT, d)})"

    def text_node(self, d: int) -> str:
        choice = self.draw(st.sampled_from(["concat", "coalesce", "cast", "case", "upper"]))
        if choice == "concat":
            return f"({self.expr(TEXT, d)} || {self.expr(TEXT, d)})"
        if choice == "coalesce":
            return f"COALESCE({self.expr(TEXT, d)}, {self.expr(TEXT, d)})"
        if choice == "cast":
            return f"CAST({self.expr(INT, d)} AS text)"
        if choice == "case":
            return f"(CASE WHEN {self.expr(BOOL, d)} THEN {self.expr(TEXT, d)} ELSE {self.expr(TEXT, d)} END)"
        return f"upper({self.expr(TEXT, d)})"

    def num_node(self, d: int) -> str:
        choice = self.draw(st.sampled_from(["add", "cast", "coalesce"]))
        if choice == "add":
            return f"({self.expr(NUM, d)} + {self.expr(NUM, d)})"
        if choice == "cast":
            return f"CAST({self.expr(INT, d)} AS numeric(10,2))"
        return f"COALESCE({self.expr(NUM, d)}, {self.expr(NUM, d)})"

    def comparable_kind(self) -> str:
        kinds = [INT] + [k for k in (TEXT, NUM) if self.columns(k)]
        return self.draw(st.sampled_from(kinds))

    def bool_leaf(self) -> str:
        kind = self.comparable_kind()
        op = self.draw(st.sampled_from(["=", "<>", "<", "<=", ">", ">="]))
        return f"({self.leaf(kind)} {op} {self.leaf(kind)})"

    def bool_node(self, d: int) -> str:
        choice = self.draw(st.sampled_from(
            ["cmp", "cmp", "and", "or", "not", "isnull", "in", "between", "like", "flag"]))
        if choice == "cmp":
            kind = self.comparable_kind()
            op = self.draw(st.sampled_from(["=", "<>", "<", "<=", ">", ">="]))
            return f"({self.expr(kind, d)} {op} {self.expr(kind, d)})"
        if choice in ("and", "or"):
            return f"({self.expr(BOOL, d)} {choice.upper()} {self.expr(BOOL, d)})"
        if choice == "not":
            return f"(NOT {self.expr(BOOL, d)})"
        if choice == "isnull":
            kind = self.draw(st.sampled_from([INT, TEXT, BOOL, NUM]))
            negate = self.draw(st.sampled_from(["", " NOT"]))
            return f"({self.expr(kind, d)} IS{negate} NULL)"
        if choice == "in":
            items = self.draw(st.lists(KEY_VALUES, min_size=1, max_size=3))
            negate = self.draw(st.sampled_from(["", "NOT "]))
            return f"({self.expr(INT, d)} {negate}IN ({', '.join(literal(INT, i) for i in items)}))"
        if choice == "between":
            low, high = self.draw(st.integers(-1, 2)), self.draw(st.integers(0, 4))
            return f"({self.expr(INT, d)} BETWEEN {low} AND {high})"
        if choice == "like":
            pattern = self.draw(st.sampled_from(["a%", "%b", "_", "a_", "%", "ab"]))
            negate = self.draw(st.sampled_from(["", "NOT "]))
            return f"({self.expr(TEXT, d)} {negate}LIKE '{pattern}')"
        flags = self.columns(BOOL)
        return self.draw(st.sampled_from(flags)).sql if flags else self.bool_leaf()


# ---------------------------------------------------------------------------------------------- FROM clauses

@dataclass
class Source:
    """A FROM clause (as text, with ``{prefix}`` placeholders for table names) and the scope it makes."""
    sql: str
    scope: list[Column] = field(default_factory=list)


def table_source(table: Table, alias: str | None = None) -> Source:
    alias = alias or table.alias
    return Source(f"{{prefix}}_{table.alias} AS {alias}",
                  [Column(f"{alias}.{name}", kind) for name, kind in table.columns])


@st.composite
def join_source(draw: Callable, tables: tuple[Table, ...]) -> Source:
    count = draw(st.integers(2, min(3, len(tables))))
    chosen = draw(st.permutations(tables))[:count]
    source = table_source(chosen[0])
    for table in chosen[1:]:
        right = table_source(table)
        kind = draw(st.sampled_from(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "CROSS JOIN"]))
        if kind == "CROSS JOIN":
            source = Source(f"{source.sql} CROSS JOIN {right.sql}", source.scope + right.scope)
            continue
        left_keys = [c for c in source.scope if c.kind == INT and c.sql.split(".")[1] in ("k", "j")]
        conditions = []
        for key in draw(st.lists(st.sampled_from(["k", "j"]), min_size=1, max_size=2, unique=True)):
            left = draw(st.sampled_from([c for c in left_keys if c.sql.endswith("." + key)] or left_keys))
            conditions.append(f"{left.sql} = {table.alias}.{key}")
        if draw(st.booleans()):
            conditions.append(ExprGen(draw, source.scope + right.scope).expr(BOOL, 1))
        source = Source(f"{source.sql} {kind} {right.sql} ON {' AND '.join(conditions)}",
                        source.scope + right.scope)
    return source


@st.composite
def from_clause(draw: Callable, tables: tuple[Table, ...]) -> Source:
    shape = draw(st.sampled_from(["table", "join", "join", "subquery"]))
    if shape == "table":
        return table_source(draw(st.sampled_from(tables)))
    if shape == "join":
        return draw(join_source(tables))
    inner = draw(st.sampled_from([table_source(t) for t in tables] + [draw(join_source(tables))]))
    gen = ExprGen(draw, inner.scope)
    kinds = draw(st.lists(st.sampled_from([INT, INT, TEXT, BOOL, NUM]), min_size=1, max_size=3))
    items = [f"{gen.expr(kind, 1)} AS x{i}" for i, kind in enumerate(kinds)]
    where = f" WHERE {gen.expr(BOOL, 1)}" if draw(st.booleans()) else ""
    return Source(f"(SELECT {', '.join(items)} FROM {inner.sql}{where}) AS sq",
                  [Column(f"sq.x{i}", kind) for i, kind in enumerate(kinds)])


# ---------------------------------------------------------------------------------------------- queries

@dataclass(frozen=True)
class Query:
    sql: str          # with {prefix} placeholders
    width: int

    def render(self, prefix: str) -> str:
        return self.sql.replace("{prefix}", prefix)


def where_clause(draw: Callable, tables: tuple[Table, ...], source: Source, gen: ExprGen) -> str:
    parts = []
    if draw(st.integers(0, 2)) == 0:
        parts.append(gen.expr(BOOL, 2))
    if draw(st.integers(0, 4)) == 0:
        other = draw(st.sampled_from(tables))
        inner = f"SELECT u.k FROM {{prefix}}_{other.alias} AS u WHERE u.j IS NOT NULL"
        parts.append(f"{gen.expr(INT, 1)} IN ({inner})")
    if draw(st.integers(0, 4)) == 0:
        other = draw(st.sampled_from(tables))
        negate = draw(st.sampled_from(["", "NOT "]))
        correlated = [c for c in source.scope if c.kind == INT]
        condition = f"u.j = {draw(st.sampled_from(correlated)).sql}" if correlated and draw(st.booleans()) \
            else "u.k > 1"
        parts.append(f"{negate}EXISTS (SELECT 1 FROM {{prefix}}_{other.alias} AS u WHERE {condition})")
    if draw(st.integers(0, 4)) == 0:
        parts.append(f"{gen.expr(INT, 1)} NOT IN {subquery_set(draw, tables, source)}")
    if draw(st.integers(0, 4)) == 0:
        parts.append(f"{gen.expr(INT, 1)} >= {subquery_value(draw, tables, source, INT, gen)}")
    return f" WHERE {' AND '.join(parts)}" if parts else ""


def _correlation(draw: Callable, source: Source) -> str:
    """A subquery's WHERE over ``u``: correlated by equality (NULL keys included), by ``<``, or not at all."""
    ints = [c for c in source.scope if c.kind == INT]
    shape = draw(st.sampled_from(["eq", "eq", "lt", "none"])) if ints else "none"
    if shape == "none":
        return "u.k > 1"
    outer = draw(st.sampled_from(ints)).sql
    return f"u.j = {outer}" if shape == "eq" else f"u.k < {outer}"


def subquery_set(draw: Callable, tables: tuple[Table, ...], source: Source) -> str:
    other = draw(st.sampled_from(tables))
    return f"(SELECT u.k FROM {{prefix}}_{other.alias} AS u WHERE {_correlation(draw, source)})"


def subquery_value(draw: Callable, tables: tuple[Table, ...], source: Source, kind: str, gen: ExprGen) -> str:
    """A (possibly correlated) subquery used as a value: an aggregate (one row per outer row, also when no
    inner row matches: the count bug), or IN / NOT IN / EXISTS with their three-valued answers."""
    other = draw(st.sampled_from(tables))
    where = _correlation(draw, source)
    if kind == INT:
        aggregate = draw(st.sampled_from(["count(*)", "count(u.j)", "max(u.k)", "sum(u.k)", "count(*) + min(u.j)"]))
        return f"(SELECT {aggregate} FROM {{prefix}}_{other.alias} AS u WHERE {where})"
    form = draw(st.sampled_from(["IN", "NOT IN", "EXISTS", "NOT EXISTS", "IN max", "EXISTS having"]))
    if form == "IN max":  # decorrelated as a whole: an aggregate's one row per outer row
        return f"({gen.expr(INT, 1)} IN (SELECT max(u.k) FROM {{prefix}}_{other.alias} AS u WHERE {where}))"
    if form == "EXISTS having":
        return (f"(EXISTS (SELECT u.k FROM {{prefix}}_{other.alias} AS u WHERE {where} "
                f"GROUP BY u.k HAVING count(*) > 1))")
    if form.endswith("EXISTS"):
        return f"({form} (SELECT 1 FROM {{prefix}}_{other.alias} AS u WHERE {where}))"
    return f"({gen.expr(INT, 1)} {form} {subquery_set(draw, tables, source)})"


AGGREGATES = {
    "count_star": (None, "count(*)"), "count": ("any", "count({})"), "count_distinct": ("any", "count(DISTINCT {})"),
    "sum_int": (INT, "sum({})"), "sum_num": (NUM, "sum({})"), "min": ("ord", "min({})"), "max": ("ord", "max({})"),
    "avg_int": (INT, "avg({})"), "avg_num": (NUM, "avg({})"), "bool_and": (BOOL, "bool_and({})"),
    "bool_or": (BOOL, "bool_or({})"),
}


def aggregate_call(draw: Callable, gen: ExprGen) -> str:
    name = draw(st.sampled_from(sorted(AGGREGATES)))
    arg_kind, template = AGGREGATES[name]
    if arg_kind is None:
        return template
    if arg_kind == "any":
        kind = draw(st.sampled_from([INT, TEXT, BOOL, NUM]))
    elif arg_kind == "ord":
        kind = gen.comparable_kind()
    else:
        kind = arg_kind
    if kind == NUM and not gen.columns(NUM):
        kind = INT
        template = template if "avg" in name or "sum" in name else template
    return template.format(gen.expr(kind, 1))


@st.composite
def select_query(draw: Callable, tables: tuple[Table, ...]) -> Query:
    source = draw(from_clause(tables))
    gen = ExprGen(draw, source.scope)
    where = where_clause(draw, tables, source, gen)
    shape = draw(st.sampled_from(["project", "project", "distinct", "group", "group", "global", "topk"]))
    if shape in ("project", "distinct", "topk"):
        kinds = draw(st.lists(st.sampled_from([INT, INT, TEXT, BOOL, NUM]), min_size=1, max_size=3))
        items = [f"{gen.expr(kind, 2)} AS c{i}" for i, kind in enumerate(kinds)]
        if draw(st.integers(0, 3)) == 0:
            kind = draw(st.sampled_from([INT, BOOL]))
            items.append(f"{subquery_value(draw, tables, source, kind, gen)} AS c{len(kinds)}")
            kinds.append(kind)
        distinct = "DISTINCT " if shape == "distinct" else ""
        body = f"SELECT {distinct}{', '.join(items)} FROM {source.sql}{where}"
        if shape == "topk":
            direction = draw(st.sampled_from(["", " DESC"]))
            order = ", ".join(f"c{i}{direction}" for i in range(len(kinds)))
            offset = f" OFFSET {draw(st.integers(1, 2))}" if draw(st.integers(0, 3)) == 0 else ""
            body = f"SELECT * FROM ({body}) AS tk ORDER BY {order} LIMIT {draw(st.integers(1, 4))}{offset}"
        return Query(body, len(kinds))
    aggregates = [aggregate_call(draw, gen) for _ in range(draw(st.integers(1, 3)))]
    if shape == "global":
        items = [f"{a} AS c{i}" for i, a in enumerate(aggregates)]
        return Query(f"SELECT {', '.join(items)} FROM {source.sql}{where}", len(items))
    keys = draw(st.lists(st.sampled_from([c for c in source.scope if c.kind != NUM] or source.scope),
                         min_size=1, max_size=2, unique=True))
    items = [f"{k.sql} AS c{i}" for i, k in enumerate(keys)]
    items += [f"{a} AS c{len(keys) + i}" for i, a in enumerate(aggregates)]
    int_keys = [k for k in keys if k.kind == INT]
    if int_keys and draw(st.integers(0, 3)) == 0:  # a subquery correlated to a group key, after the Reduce
        other = draw(st.sampled_from(tables))
        items.append(f"(SELECT count(*) FROM {{prefix}}_{other.alias} AS u WHERE u.j = {int_keys[0].sql}) "
                     f"AS c{len(items)}")
    having = ""
    if draw(st.booleans()):
        having = f" HAVING count(*) > {draw(st.integers(0, 2))}"
    elif int_keys and draw(st.integers(0, 3)) == 0:
        other = draw(st.sampled_from(tables))
        having = f" HAVING count(*) >= (SELECT count(*) FROM {{prefix}}_{other.alias} AS u WHERE u.k = {int_keys[-1].sql})"
    group_by = ", ".join(k.sql for k in keys)
    return Query(f"SELECT {', '.join(items)} FROM {source.sql}{where} GROUP BY {group_by}{having}", len(items))


@st.composite
def set_operation_query(draw: Callable, tables: tuple[Table, ...]) -> Query:
    kinds = draw(st.lists(st.sampled_from([INT, INT, TEXT, BOOL]), min_size=1, max_size=2))

    def branch() -> str:
        source = draw(from_clause(tables))
        gen = ExprGen(draw, source.scope)
        items = [f"{gen.expr(kind, 1)} AS c{i}" for i, kind in enumerate(kinds)]
        where = f" WHERE {gen.expr(BOOL, 1)}" if draw(st.booleans()) else ""
        return f"SELECT {', '.join(items)} FROM {source.sql}{where}"

    op = draw(st.sampled_from(["UNION", "UNION ALL", "EXCEPT", "EXCEPT ALL", "INTERSECT", "INTERSECT ALL"]))
    return Query(f"{branch()} {op} {branch()}", len(kinds))


@st.composite
def with_query(draw: Callable, tables: tuple[Table, ...]) -> Query:
    inner = draw(select_query(tables))
    outer_cols = ", ".join(f"w.c{i}" for i in range(inner.width))
    return Query(f"WITH w AS ({inner.sql}) SELECT {outer_cols} FROM w", inner.width)


@st.composite
def queries(draw: Callable, tables: tuple[Table, ...]) -> Query:
    return draw(st.one_of(select_query(tables), select_query(tables), set_operation_query(tables),
                          with_query(tables)))


# ---------------------------------------------------------------------------------------------- writes

@dataclass(frozen=True)
class Write:
    sql: str  # with {prefix}

    def render(self, prefix: str) -> str:
        return self.sql.replace("{prefix}", prefix)


@st.composite
def writes(draw: Callable, tables: tuple[Table, ...]) -> Write:
    table = draw(st.sampled_from(tables))
    name = f"{{prefix}}_{table.alias}"
    kind = draw(st.sampled_from(["insert", "insert", "update", "delete"]))
    key = draw(st.sampled_from(["k", "j"]))
    value = draw(KEY_VALUES)
    condition = f"{key} IS NULL" if value is None else f"{key} = {value}"
    if kind == "insert":
        rows = draw(rows_for(table, min_size=1, max_size=3))
        return Write(f"INSERT INTO {name} VALUES {', '.join(row_literal(table, r) for r in rows)}")
    if kind == "delete":
        return Write(f"DELETE FROM {name} WHERE {condition}")
    column, column_kind = draw(st.sampled_from(table.columns))
    new_value = draw(VALUE_STRATEGY[column_kind])
    return Write(f"UPDATE {name} SET {column} = {literal(column_kind, new_value)} WHERE {condition}")
