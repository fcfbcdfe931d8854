"""What PostgreSQL clients send that is not plain SQL over our relations: rewritten before a SELECT is planned.

psql's describe commands (``\\d``, ``\\dt``, ``\\dv``, ``\\di``, ``\\dm``) query ``pg_catalog`` with
schema-qualified function calls.  :func:`rewrite` turns, in the parsed statement:

* ``pg_catalog.f(...)`` into ``f(...)`` (our functions live in no schema; an unknown one is re-read by name so
  that, say, ``pg_catalog.lower`` plans like ``lower``);
* ``pg_get_userbyid(oid)`` into the correlated scalar subquery
  ``(SELECT rolname FROM pg_catalog.pg_roles WHERE oid = <oid>)``;
* ``pg_table_is_visible(oid)`` into ``EXISTS (...)`` over ``pg_class`` and ``pg_namespace``: the relation's schema
  is the session's schema or ``pg_catalog`` (the search path a session has here).

* what psql, SQLAlchemy, pandas and psycopg send (:func:`_rewrite_tools`): ``a OPERATOR(pg_catalog.~) b`` into
  ``a ~ b``, ``COLLATE pg_catalog.default`` dropped (the default collation is the one used); ``x = ANY (ARRAY[a, b])`` into
  ``x IN (a, b)`` and ``x <> ALL (ARRAY[...])`` into ``x NOT IN (...)`` (the same answer, NULLs included; there
  are no array values here); ``format_type(oid, typmod)`` and ``oid::regtype`` into a ``CASE`` over the scalar
  types' PostgreSQL names, ``to_regtype(name)`` into a ``CASE`` giving the type's oid or NULL;
  ``oid::regclass::text`` into a subquery over ``pg_class``; ``'name'::regclass`` into a system catalog's
  PostgreSQL oid (``'pg_catalog.pg_class'`` is 1259, what ``pg_description.classoid`` holds) or else a subquery
  over ``pg_class`` — in a JOIN's ON, a condition on the joined table alone that holds one is moved into a derived
  table's WHERE (``JOIN (SELECT * FROM t WHERE ...) AS t``), the same filter where a subquery may stand; ``pg_get_expr(expr, rel)``
  into ``expr`` (``pg_attrdef.adbin`` is already text); ``pg_get_indexdef(oid, n, pretty)`` into the index's n-th
  key (``mz_index_columns``); ``generate_subscripts`` over one of ``pg_index``'s int2vector/oidvector columns
  (arrays from 1 here) minus 1, as those start at 0; ``mz_version()`` into the version literal;
  ``mz_is_superuser()`` into a lookup of the session's role in ``pg_roles``;
  ``SELECT [mz_internal.]f(...).* FROM items`` for a table function ``f`` (dbt-materialize's
  ``mz_aclexplode(privileges).*``) into ``SELECT pg_srf.* FROM items, f(...) AS pg_srf``.

One query is replaced whole, as text, before it is parsed (:func:`client_query`): asyncpg's type introspection
(``WITH RECURSIVE typeinfo_tree(...)``, sent for every type oid it has no codec of its own for: arrays, jsonb's
array, mz_timestamp).  It walks domains, composites and ranges through ``pg_range``, ``oid[]`` and scalar
subqueries; there are none of those here, so the answer is the requested types and, for an array, its element
type (depth 1, listed first), which :data:`_ASYNCPG_TYPES` computes over ``pg_type`` with the columns asyncpg
reads (``kind`` as bytes, as asyncpg receives PostgreSQL's ``"char"``; the always-NULL ``attrtypoids`` as
text[], an array type asyncpg decodes without introspecting, where PostgreSQL has oid[]).  Its parameter is described as ``oid[]``
(1028), the one array type asyncpg encodes without introspecting.

The subqueries are decorrelated into joins like any other, so nothing here evaluates anything itself.  The
``pg_catalog`` relations are builtins (``catalog/builtins.py``) whose rows ``adapter/pg_catalog.py`` computes.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from steadystate.expr.table_functions import TABLE_FUNCTIONS
from steadystate.repr.types import ScalarType
from steadystate.sql.dialect import DIALECT

#: ``pg_catalog`` relations with no rows by construction (what they describe does not exist here): a query over
#: one of them alone is rewritten into the empty query it is; ``adapter/pg_catalog.py`` gives them no rows
ALWAYS_EMPTY: frozenset[str] = frozenset({
    "pg_constraint", "pg_attrdef", "pg_inherits", "pg_sequence", "pg_collation",
    "pg_proc", "pg_extension", "pg_enum", "pg_policy", "pg_statistic_ext", "pg_publication", "pg_publication_rel",
    "pg_publication_namespace", "pg_trigger", "pg_rewrite",
    # role membership exists (mz_catalog.mz_role_members, SHOW ROLE MEMBERSHIP) but psql's \du reads this one
    # through ARRAY(SELECT ...), which needs arrays: until they exist it stays empty here
    "pg_auth_members",
})

#: what ``mz_version()`` answers and the ``mz_version`` ParameterStatus says, in Materialize's shape (``v<semver>
#: (<build>)``): the Materialize release whose SQL and catalog steadystate follows (tools such as dbt-materialize
#: refuse a server older than the features they use), then steadystate's own version in the build's place
MZ_VERSION = "v0.130.0 (steadystate 0.1.0)"
#: PostgreSQL's internal type names (``to_regtype`` reads these as well as the display names)
_INTERNAL_NAMES = {ScalarType.INT2: "int2", ScalarType.INT4: "int4", ScalarType.INT8: "int8",
                   ScalarType.FLOAT4: "float4", ScalarType.FLOAT8: "float8", ScalarType.NUMERIC: "numeric",
                   ScalarType.TEXT: "text", ScalarType.BOOL: "bool", ScalarType.DATE: "date",
                   ScalarType.TIMESTAMP: "timestamp", ScalarType.TIMESTAMPTZ: "timestamptz", ScalarType.TIME: "time",
                   ScalarType.INTERVAL: "interval", ScalarType.JSONB: "jsonb", ScalarType.UUID: "uuid",
                   ScalarType.BYTEA: "bytea",
                   ScalarType.MZ_TIMESTAMP: "mz_timestamp"}
#: the declared types that are a scalar type plus a modifier: oid, internal name, format_type's name
_MODIFIED_NAMES = ((1043, "varchar", "character varying"), (1042, "bpchar", "character"))

_USER_BY_ID = "(SELECT pg_rr.rolname FROM pg_catalog.pg_roles AS pg_rr WHERE pg_rr.oid = 0)"
_TABLE_IS_VISIBLE = (
    "EXISTS (SELECT 1 FROM pg_catalog.pg_class AS pg_vc JOIN pg_catalog.pg_namespace AS pg_vn "
    "ON pg_vn.oid = pg_vc.relnamespace WHERE pg_vc.oid = 0 AND pg_vn.nspname IN (current_schema(), 'pg_catalog'))"
)
_TYPE_IS_VISIBLE = "EXISTS (SELECT 1 FROM pg_catalog.pg_type AS pg_tv WHERE pg_tv.oid = 0)"  # all in pg_catalog
_VIEW_DEFINITION = (
    "(SELECT pg_vd.definition FROM (SELECT oid, definition FROM mz_catalog.mz_views UNION ALL "
    "SELECT oid, definition FROM mz_catalog.mz_materialized_views) AS pg_vd WHERE pg_vd.oid = 0)"
)
_INDEX_DEFINITION = "(SELECT pg_id.create_sql FROM mz_catalog.mz_indexes AS pg_id WHERE pg_id.oid = 0)"
#: ``pg_get_indexdef(oid, n, pretty)`` for a key position n > 0: the key's expression, or its column's name
_INDEX_KEY = (
    "(SELECT COALESCE(pg_ic.on_expression, pg_icc.name) FROM mz_catalog.mz_index_columns AS pg_ic "
    "JOIN mz_catalog.mz_indexes AS pg_ix ON pg_ix.id = pg_ic.index_id LEFT JOIN mz_catalog.mz_columns AS pg_icc "
    "ON pg_icc.id = pg_ix.on_id AND pg_icc.position = pg_ic.on_position "
    "WHERE pg_ix.oid = 0 AND pg_ic.index_position = 1)"
)
_TEMPLATES = {"pg_get_userbyid": _USER_BY_ID, "pg_get_viewdef": _VIEW_DEFINITION, "pg_get_indexdef": _INDEX_DEFINITION, "pg_table_is_visible": _TABLE_IS_VISIBLE,
              "pg_type_is_visible": _TYPE_IS_VISIBLE}


def _with_argument(template: str, argument: exp.Expr, second: exp.Expr | None = None) -> exp.Expr:
    """``template`` parsed, with its placeholder literal ``0`` replaced by ``argument`` (and ``1`` by ``second``)."""
    tree = sqlglot.parse_one(f"SELECT {template}", read=DIALECT).expressions[0]
    for marker, value in (("0", argument), ("1", second)):
        if value is not None:
            placeholder = next(node for node in tree.find_all(exp.Literal) if node.this == marker and not node.is_string)
            placeholder.replace(value.copy())
    return tree


#: the schemas a table function may be qualified with (``mz_internal.mz_aclexplode``): ours live in no schema
_FUNCTION_SCHEMAS = frozenset({"pg_catalog", "mz_catalog", "mz_internal"})
_SRF_ALIAS = "pg_srf"


def _star_of_table_function(node: exp.Expr) -> exp.Anonymous | None:
    """The call in ``[schema.]f(...).*`` when ``f`` is a table function (expr/table_functions.py), else None."""
    if not (isinstance(node, exp.Dot) and isinstance(node.expression, exp.Star)):
        return None
    call = node.this
    if (isinstance(call, exp.Dot) and isinstance(call.this, exp.Identifier)
            and call.this.name.lower() in _FUNCTION_SCHEMAS):
        call = call.expression
    if isinstance(call, exp.Anonymous) and str(call.this).lower() in TABLE_FUNCTIONS:
        return call
    return None


def _lateral_table_function(node: exp.Select) -> exp.Select | None:
    """``SELECT f(...).* FROM items ...`` (dbt-materialize's ``SELECT mz_internal.mz_aclexplode(x.privileges).*
    FROM ...``) as ``SELECT pg_srf.* FROM items, f(...) AS pg_srf ...``: with one set-returning call as the whole
    select list, both give each row of ``items`` once per row ``f`` returns for it."""
    if len(node.expressions) != 1:
        return None
    call = _star_of_table_function(node.expressions[0])
    if call is None:
        return None
    out = node.copy()
    item = exp.Table(this=exp.Anonymous(this=str(call.this).lower(), expressions=[a.copy() for a in call.expressions]),
                     alias=exp.TableAlias(this=exp.to_identifier(_SRF_ALIAS)))
    out.set("expressions", [exp.Column(this=exp.Star(), table=exp.to_identifier(_SRF_ALIAS))])
    if out.args.get("from_") is None:
        out.set("from_", exp.From(this=item))
    else:
        out.append("joins", exp.Join(this=item))
    return out


def _visit(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Select):
        lateral = _lateral_table_function(node)
        if lateral is not None:
            return lateral
    if (isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier)
            and node.this.name.lower() == "pg_catalog" and isinstance(node.expression, exp.Func)):
        inner = node.expression
        if isinstance(inner, exp.Anonymous) and str(inner.this).lower() not in _TEMPLATES:
            try:  # a known function sqlglot read as anonymous because of the qualifier: read it by name
                inner = exp.func(str(inner.this), *inner.expressions, dialect=DIALECT)
            except Exception:  # noqa: BLE001 - not a function sqlglot knows: planned (and refused) as is
                pass
        return _visit(inner)
    if isinstance(node, exp.Anonymous):
        template = _TEMPLATES.get(str(node.this).lower())
        whole_index = template is _INDEX_DEFINITION and len(node.expressions) == 3 and node.expressions[1].sql() == "0"
        if template is not None and (len(node.expressions) == 1 or template is _VIEW_DEFINITION or whole_index):
            return _with_argument(template, node.expressions[0])
        if template is _INDEX_DEFINITION and len(node.expressions) == 3:  # one key of the index
            return _with_argument(_INDEX_KEY, node.expressions[0], node.expressions[1])
    return node


def _type_name(value: exp.Expr) -> exp.Expr:
    """``CASE value WHEN <oid> THEN <name> ... END``: format_type's answer for a type without a modifier."""
    case = exp.Case(this=value.copy())
    for typ in ScalarType:
        case = case.when(exp.Literal.number(typ.pg_oid), exp.Literal.string(typ.pg_name))
    for oid, _internal, name in _MODIFIED_NAMES:
        case = case.when(exp.Literal.number(oid), exp.Literal.string(name))
    return exp.Paren(this=case)


_FORMAT_TYPE = ("COALESCE((SELECT min(pg_ft.type) FROM mz_catalog.mz_columns AS pg_ft "
                "WHERE pg_ft.type_oid = pg_arg.t AND pg_ft.type_mod = pg_arg.m), pg_arg.n)")


def _format_type(oid: exp.Expr, typmod: exp.Expr) -> exp.Expr:
    """``format_type(oid, typmod)``: a modified type as some column declares it (``mz_columns.type``, e.g.
    ``character varying(3)``), else the type's plain name."""
    tree = sqlglot.parse_one(f"SELECT {_FORMAT_TYPE}", read=DIALECT).expressions[0]
    arguments = {"t": oid, "m": typmod, "n": _type_name(oid)}
    for column in list(tree.find_all(exp.Column)):
        if column.table == "pg_arg":
            column.replace(arguments[column.name].copy())
    return tree


def _type_oid(name: exp.Expr) -> exp.Expr:
    """``CASE lower(name) WHEN 'int4' THEN 23 WHEN 'integer' THEN 23 ... END``: to_regtype's answer."""
    case = exp.Case(this=exp.Lower(this=exp.Cast(this=name.copy(), to=exp.DataType.build("text"))))
    for typ in ScalarType:
        for spelling in dict.fromkeys((_INTERNAL_NAMES.get(typ, typ.value), typ.pg_name)):
            case = case.when(exp.Literal.string(spelling), exp.Literal.number(typ.pg_oid))
    for oid, internal, display in _MODIFIED_NAMES:
        for spelling in (internal, display):
            case = case.when(exp.Literal.string(spelling), exp.Literal.number(oid))
    return exp.Paren(this=case)


def _subquery(template: str, argument: exp.Expr) -> exp.Expr:
    return _with_argument(template, argument)


_REL_NAME = "(SELECT pg_rc.relname FROM pg_catalog.pg_class AS pg_rc WHERE pg_rc.oid = 0)"
_IS_SUPERUSER = "(SELECT coalesce(bool_or(pg_r.rolsuper), false) FROM pg_catalog.pg_roles AS pg_r WHERE pg_r.rolname = 0)"
_REL_OID = "(SELECT pg_rc.oid FROM pg_catalog.pg_class AS pg_rc WHERE pg_rc.relname = 0)"


def _is_cast_to(node: exp.Expr, name: str) -> bool:
    return (isinstance(node, exp.Cast) and isinstance(node.args.get("to"), exp.ObjectIdentifier)
            and str(node.args["to"].this).lower() == name)


def _is_all(node: exp.Expr) -> bool:
    return isinstance(node, exp.All) or (isinstance(node, exp.Anonymous) and str(node.this).upper() == "ALL"
                                         and len(node.expressions) == 1)


def _array_items(node: exp.Expr) -> list[exp.Expr] | None:
    inner = node.this if isinstance(node, (exp.Any, exp.All)) else node.expressions[0] if _is_all(node) else None
    while isinstance(inner, exp.Paren):
        inner = inner.this
    return list(inner.expressions) if isinstance(inner, exp.Array) else None


_DEFAULT_COLLATIONS = frozenset({"default", "pg_catalog.default", '"default"', 'pg_catalog."default"', '"c"', "c"})


def _operator(node: exp.Operator) -> exp.Expr:
    """``a OPERATOR(pg_catalog.~) b`` as ``a ~ b``: the operator re-read from text with placeholder operands."""
    symbol = str(node.args.get("operator", "")).split(".")[-1].strip()
    tree = sqlglot.parse_one(f"SELECT pg_op.l {symbol} pg_op.r", read=DIALECT).expressions[0]
    for column in list(tree.find_all(exp.Column)):
        if column.table == "pg_op":
            column.replace((node.this if column.name == "l" else node.expression).copy().transform(_rewrite_tools))
    return tree


def _unqualified_cast(node: exp.Cast) -> exp.Expr:
    """``x::pg_catalog.text`` as ``x::text`` (types live in pg_catalog), the operand rewritten too."""
    bare = node.to.sql(dialect="postgres").split(".", 1)[1].strip('"')
    target = sqlglot.parse_one(f"CAST(NULL AS {bare})", read=DIALECT)
    assert isinstance(target, exp.Cast)
    return _rewrite_tools(exp.Cast(this=node.this.transform(_rewrite_tools), to=target.to))


#: pg_index's int2vector/oidvector columns (arrays here, whose subscripts start at 1; PostgreSQL's start at 0)
_VECTOR_COLUMNS = frozenset({"indkey", "indclass", "indoption", "indcollation"})


def _vector_subscripts(node: exp.Expr) -> bool:
    """``generate_subscripts(<pg_index vector column>, 1)``, which SQLAlchemy's index query numbers keys with."""
    return (isinstance(node, exp.Anonymous) and str(node.this).lower() == "generate_subscripts"
            and len(node.expressions) == 2 and isinstance(node.expressions[0], exp.Column)
            and node.expressions[0].name.lower() in _VECTOR_COLUMNS)


#: PostgreSQL's oids of the system catalogs tools name with ``'pg_catalog.<name>'::regclass`` (pg_description's
#: classoid says which catalog a comment's object is in: adapter/comments.py)
_CATALOG_OIDS = {"pg_class": 1259, "pg_namespace": 2615, "pg_database": 1262, "pg_constraint": 2606,
                 "pg_type": 1247, "pg_proc": 1255, "pg_attribute": 1249, "pg_index": 2610}


def _regclass(argument: exp.Expr) -> exp.Expr:
    """``argument::regclass``: a system catalog's oid, else the user's relation by name (a subquery)."""
    case = exp.Case(this=exp.Cast(this=argument.copy(), to=exp.DataType.build("text")))
    for name, oid in _CATALOG_OIDS.items():
        for spelling in (name, f"pg_catalog.{name}"):
            case = case.when(exp.Literal.string(spelling), exp.Literal.number(oid))
    return exp.Paren(this=case.else_(_subquery(_REL_OID, argument)))


def _table_only(conjunct: exp.Expr, alias: str) -> bool:
    columns = list(conjunct.find_all(exp.Column))
    return bool(columns) and all(c.table.lower() == alias for c in columns)


def _push_regclass_filters(select: exp.Select) -> None:
    """``JOIN t ON p AND t.c = 'name'::regclass`` as ``JOIN (SELECT * FROM t WHERE t.c = ...) AS t ON p``, in place:
    the lookup is a subquery, which ON may not hold; a condition on the joined table alone filters it the same."""
    for join in select.args.get("joins") or []:
        right, on = join.this, join.args.get("on")
        if not isinstance(right, exp.Table) or not isinstance(right.this, exp.Identifier) or on is None:
            continue
        alias = (right.alias or right.name).lower()
        conjuncts = list(on.flatten()) if isinstance(on, exp.And) else [on]
        pushed = [c for c in conjuncts if _table_only(c, alias)
                  and any(_is_cast_to(n, "regclass") for n in c.find_all(exp.Cast))]
        if not pushed or len(pushed) == len(conjuncts):
            continue
        derived = exp.select("*").from_(right.copy()).where(exp.and_(*(c.copy() for c in pushed)))
        join.set("this", exp.Subquery(this=derived, alias=exp.TableAlias(this=exp.to_identifier(alias))))
        join.set("on", exp.and_(*(c.copy() for c in conjuncts if c not in pushed)))
        for column in select.find_all(exp.Column):
            if column.table.lower() == alias and column.find_ancestor(exp.Subquery) is None:
                column.set("db", None)
                column.set("catalog", None)


def _rewrite_tools(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Select) and any(_is_cast_to(n, "regclass") for j in node.args.get("joins") or []
                                            for n in j.find_all(exp.Cast)):
        _push_regclass_filters(node)
    if _vector_subscripts(node):  # int2vector's subscripts start at 0: what follows (pg_get_indexdef's n) counts on it
        return exp.Paren(this=exp.Sub(this=node.copy(), expression=exp.Literal.number(1)))
    if isinstance(node, exp.Cast) and node.to.sql(dialect="postgres").lower().startswith("pg_catalog."):
        return _unqualified_cast(node)
    if isinstance(node, exp.Operator):
        return _operator(node)
    if isinstance(node, exp.Collate) and node.expression.sql().lower() in _DEFAULT_COLLATIONS:
        return node.this.copy()  # the default collation is the one comparisons use
    if isinstance(node, exp.Select) and _joins_on_null_columns(node):
        _join_null_matches_on_false(node)  # in place: the joins' sources are still rewritten below
    if isinstance(node, exp.Select) and _over_an_empty_relation(node):
        return _emptied(node)
    if (isinstance(node, exp.Array) and len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Select)
            and _over_an_empty_relation(node.expressions[0])):
        return exp.Literal.string("{}")  # ARRAY(subquery) of no rows: the empty array, in its text form
    if (isinstance(node, exp.Join) and node.side.upper() == "LEFT" and isinstance(node.this, exp.Table)
            and _is_empty_source(node.this) and node.args.get("on") is not None):
        joined = node.copy()  # no row of an empty relation matches, whatever the condition
        joined.set("on", _false_keeping_parameters(node.args["on"]))
        return joined
    if isinstance(node, (exp.EQ, exp.NEQ)) and (isinstance(node.expression, exp.Any) or _is_all(node.expression)):
        items = _array_items(node.expression)
        wanted = exp.EQ if isinstance(node.expression, exp.Any) else exp.NEQ
        if items is not None and isinstance(node, wanted) and items:
            membership = exp.In(this=node.this.copy(), expressions=[item.copy() for item in items])
            return membership if wanted is exp.EQ else exp.Not(this=membership)
    if _is_cast_to(node, "oid"):  # oids are int8 here
        return exp.Cast(this=node.this.copy(), to=exp.DataType.build("bigint"))
    if _is_cast_to(node, "regtype"):
        return _type_name(node.this)
    if isinstance(node, exp.Cast) and _is_cast_to(node.this, "regclass") and node.to.is_type("text"):
        return _subquery(_REL_NAME, node.this.this)
    if _is_cast_to(node, "regclass") and isinstance(node.this, (exp.Literal, exp.Parameter, exp.Placeholder)):
        return _regclass(node.this)  # the user's relations by name (builtins have no pg_class row)
    if isinstance(node, exp.ArrayToString) and isinstance(node.this, exp.Column) and node.this.name.endswith("acl"):
        return exp.Cast(this=exp.Null(), to=exp.DataType.build("text"))  # no privileges are granted here
    if isinstance(node, exp.Anonymous):
        name, args = str(node.this).lower(), node.expressions
        if name == "format_type" and len(args) == 2:
            return _format_type(args[0], args[1])
        if name == "to_regtype" and len(args) == 1:
            return _type_oid(args[0])
        if name == "pg_get_expr" and len(args) in (2, 3):
            return args[0].copy()
        if name == "pg_encoding_to_char" and len(args) == 1:
            return exp.Paren(this=exp.Case(this=args[0].copy()).when(exp.Literal.number(6), exp.Literal.string("UTF8")))
        if name == "array_to_string" and args and isinstance(args[0], exp.Column) and args[0].name.endswith("acl"):
            return exp.Cast(this=exp.Null(), to=exp.DataType.build("text"))  # no privileges are granted here
        if name == "pg_get_constraintdef":
            return exp.Cast(this=exp.Null(), to=exp.DataType.build("text"))  # pg_constraint is empty
        if name == "pg_get_serial_sequence" and len(args) == 2:
            return exp.Cast(this=exp.Null(), to=exp.DataType.build("text"))  # no column has a sequence
        if name == "mz_version" and not args:
            return exp.Literal.string(MZ_VERSION)
        if name == "mz_is_superuser" and not args:  # Materialize's: whether the session's role is a superuser
            return _subquery(_IS_SUPERUSER, exp.CurrentUser())
    return node


def _is_empty_source(source: exp.Expr | None) -> bool:
    if isinstance(source, exp.Table):
        return source.name.lower() in ALWAYS_EMPTY and (not source.db or source.db.lower() == "pg_catalog")
    if isinstance(source, exp.Subquery) and isinstance(source.this, exp.Select):
        return _over_an_empty_relation(source.this)
    return False


def _over_an_empty_relation(select: exp.Select) -> bool:
    """Whether a SELECT gives no row because it reads an ``ALWAYS_EMPTY`` relation: its FROM and joins, left to
    right, are empty (an inner join with an empty side, a left join whose left side is empty, ...), and no
    aggregate without GROUP BY makes a row of nothing."""
    source = select.args.get("from_") or select.args.get("from")
    if source is None:
        return False
    empty = _is_empty_source(source.this)
    for join in select.args.get("joins") or []:
        side, joined = join.side.upper(), _is_empty_source(join.this)
        if side == "RIGHT":
            empty = joined
        elif side == "FULL":
            empty = empty and joined
        elif side != "LEFT":
            empty = empty or joined
    if not empty:
        return False
    own_aggregates = (agg for e in select.expressions for agg in e.find_all(exp.AggFunc)
                      if agg.find_ancestor(exp.Select) is select)
    return bool(select.args.get("group")) or next(own_aggregates, None) is None


def _null_sides(select: exp.Select) -> set[str]:
    """The names (aliases) of the ``ALWAYS_EMPTY`` tables a SELECT left-joins: their columns are NULL in every row."""
    return {(join.alias_or_name or join.this.name).lower() for join in select.args.get("joins") or []
            if join.side.upper() == "LEFT" and isinstance(join.this, exp.Table) and _is_empty_source(join.this)}


def _matches_a_null(join: exp.Join, null_sides: set[str]) -> bool:
    """Whether a LEFT JOIN's ON condition requires equality with a column that is always NULL (one conjunct
    ``x = empty.c``): it never holds, as when SQLAlchemy joins pg_description on pg_constraint's oid."""
    on = join.args.get("on")
    if join.side.upper() != "LEFT" or on is None or (isinstance(join.this, exp.Table) and _is_empty_source(join.this)):
        return False
    conjuncts = list(on.flatten()) if isinstance(on, exp.And) else [on]
    return any(isinstance(c, exp.EQ) and any(isinstance(side, exp.Column) and side.table.lower() in null_sides
                                             for side in (c.this, c.expression)) for c in conjuncts)


def _joins_on_null_columns(select: exp.Select) -> bool:
    null_sides = _null_sides(select)
    return bool(null_sides) and any(_matches_a_null(j, null_sides) for j in select.args.get("joins") or [])


def _join_null_matches_on_false(select: exp.Select) -> None:
    """Join each LEFT JOIN that can only match a NULL ``ON false`` (its parameters kept), in place."""
    null_sides = _null_sides(select)
    for join in select.args.get("joins") or []:
        if _matches_a_null(join, null_sides):
            join.set("on", _false_keeping_parameters(join.args["on"]))


def _false_keeping_parameters(node: exp.Expr) -> exp.Expr:
    """``false``, still referring to ``node``'s parameters (with their casts), so the statement keeps declaring
    and typing them."""
    kept: exp.Expr = exp.false()
    for parameter in node.find_all(exp.Parameter, exp.Placeholder):
        cast = parameter.parent
        object_type = isinstance(cast, exp.Cast) and cast.to.sql().lower().startswith(("reg", "oid"))
        typed = cast if isinstance(cast, exp.Cast) and not object_type else parameter
        kept = exp.and_(kept, exp.Is(this=typed.copy(), expression=exp.Null()))
    return kept


def _emptied(select: exp.Select) -> exp.Select:
    """The same empty answer with nothing left to plan but plain columns: ``WHERE false``, every join ``ON true``,
    no GROUP BY, HAVING or ORDER BY, and every output that is not a plain column a NULL under its name."""
    emptied = select.copy()
    outputs: list[exp.Expr] = []
    for output in emptied.expressions:
        inner = output.this if isinstance(output, exp.Alias) else output
        if isinstance(inner, (exp.Column, exp.Star)):
            outputs.append(output)
        else:
            outputs.append(exp.alias_(exp.Cast(this=exp.Null(), to=exp.DataType.build("text")),
                                      output.alias if isinstance(output, exp.Alias) else "?column?"))
    emptied.set("expressions", outputs)
    # the parameters stay referenced (with their casts), so the statement still declares and types them
    kept: exp.Expr = exp.false()
    for parameter in select.find_all(exp.Parameter, exp.Placeholder):
        cast = parameter.parent
        object_type = isinstance(cast, exp.Cast) and cast.to.sql().lower().startswith(("reg", "oid"))
        typed = cast if isinstance(cast, exp.Cast) and not object_type else parameter
        kept = exp.and_(kept, exp.Is(this=typed.copy(), expression=exp.Null()))
    emptied.set("where", exp.Where(this=kept))
    for join in emptied.args.get("joins") or []:
        if join.args.get("on") is not None:
            join.set("on", exp.true())
        join.set("this", join.this.transform(_rewrite_tools))  # the sources are rewritten too
    source = emptied.args.get("from_")
    if source is not None:
        source.set("this", source.this.transform(_rewrite_tools))
    for clause in ("group", "having", "order"):
        emptied.set(clause, None)
    return emptied


_TOOL_FUNCTIONS = frozenset({"generate_subscripts", "format_type", "to_regtype", "pg_get_expr", "pg_get_serial_sequence", "mz_version",
                             "mz_is_superuser",
                             "all", "pg_get_constraintdef", "pg_encoding_to_char", "array_to_string"})


def _needs_tools(node: exp.Expr) -> bool:
    for n in node.find_all(exp.Any, exp.All, exp.Cast, exp.Anonymous, exp.Table, exp.Operator, exp.Collate):
        if isinstance(n, exp.Cast) and n.to.sql(dialect="postgres").lower().startswith("pg_catalog."):
            return True
        if isinstance(n, (exp.Any, exp.All, exp.Operator, exp.Collate)) or any(_is_cast_to(n, t) for t in ("regtype", "regclass", "oid")):
            return True
        if isinstance(n, exp.Table) and n.name.lower() in ALWAYS_EMPTY:
            return True
        if isinstance(n, exp.Anonymous) and str(n.this).lower() in _TOOL_FUNCTIONS:
            return True
    return False


def rewrite(node: exp.Expr) -> exp.Expr:
    """``node`` with the rewrites of the module docstring applied (``node`` itself when none applies)."""
    if any(
        isinstance(n, exp.Dot) or (isinstance(n, exp.Anonymous) and str(n.this).lower() in _TEMPLATES)
        for n in node.find_all(exp.Dot, exp.Anonymous)
    ):
        node = node.transform(_visit)
    if _needs_tools(node):
        node = node.transform(_rewrite_tools)
    if any(_is_current_role(c) for c in node.find_all(exp.Column)):
        node = node.transform(lambda n: exp.CurrentUser() if _is_current_role(n) else n)
    return node


#: asyncpg's introspection query (asyncpg/introspection.py INTRO_LOOKUP_TYPES and its PostgreSQL 13 variant): the
#: marks that identify it, whitespace-normalized
_ASYNCPG_MARKS = ("WITH RECURSIVE typeinfo_tree(", "ti.oid = any($1::oid[])", "range_subtype::regtype::text AS "
                  "range_subtype_name")
#: what it asks, answered over our pg_type: no domains, composites or ranges exist here
_ASYNCPG_TYPES = """
SELECT DISTINCT t.oid AS oid, ns.nspname AS ns, t.typname AS name, CAST(t.typtype AS bytea) AS kind,
  CAST(NULL AS bigint) AS basetype, t.typelem AS elemtype, elem_t.typdelim AS elemdelim,
  CAST(NULL AS bigint) AS range_subtype, CAST(NULL AS text[]) AS attrtypoids, CAST(NULL AS text[]) AS attrnames,
  wanted.depth AS depth, CAST(NULL AS text) AS basetype_name,
  CASE WHEN t.typelem <> 0 THEN CAST(CAST(t.typelem AS regtype) AS text) END AS elemtype_name,
  CAST(NULL AS text) AS range_subtype_name
FROM (SELECT w.oid AS oid, 0 AS depth FROM pg_catalog.pg_type AS w WHERE w.oid = ANY(CAST($1 AS bigint[]))
      UNION ALL
      SELECT w.typelem AS oid, 1 AS depth FROM pg_catalog.pg_type AS w
      WHERE w.oid = ANY(CAST($1 AS bigint[])) AND w.typelem <> 0) AS wanted
  JOIN pg_catalog.pg_type AS t ON t.oid = wanted.oid
  JOIN pg_catalog.pg_namespace AS ns ON ns.oid = t.typnamespace
  LEFT JOIN pg_catalog.pg_type AS elem_t ON t.typelem <> 0 AND elem_t.oid = t.typelem
ORDER BY depth DESC
"""
#: its parameter's type: oid[] (pgwire reads it as integers)
_OID_ARRAY = 1028


def client_query(sql: str) -> tuple[str, dict[int, int]]:
    """``sql``, or the query that answers it here when it is one a client sends whole (asyncpg's type
    introspection), with the oids its parameters are described as (by position from 0; usually none)."""
    if "typeinfo_tree" not in sql:
        return sql, {}
    normalized = " ".join(sql.split())
    if all(mark in normalized for mark in _ASYNCPG_MARKS):
        return _ASYNCPG_TYPES, {0: _OID_ARRAY}
    return sql, {}


def _is_current_role(node: exp.Expr) -> bool:
    """``current_role`` (a reserved word in PostgreSQL, read by sqlglot as a column): the session's role."""
    return (isinstance(node, exp.Column) and not node.table and isinstance(node.this, exp.Identifier)
            and not node.this.quoted and node.name.lower() == "current_role")


__all__ = ["MZ_VERSION", "client_query", "rewrite"]
