"""Planning the jsonb, uuid and bytea operators and functions (``->``, ``@>``, ``jsonb_build_object``, ``encode``,
``gen_random_uuid``, ...) into the IR calls ``expr/jsonb_functions.py`` implements.

``sql/scalar.py`` owns the dispatch and hooks this module in three places: :func:`handlers` gives the sqlglot node
handlers (the JSON operators, ``encode``/``decode``, ``gen_random_uuid``), :func:`functions` the functions sqlglot
leaves anonymous (by name), and :func:`plan_operator` takes ``-`` and ``||`` when an operand is jsonb or bytea. Each
takes the planner's ``plan_expr`` so this module does not import ``sql/scalar.py``.

Operand typing follows PostgreSQL's operator table: ``jsonb -> text``/``jsonb -> integer`` (an untyped literal
operand is text, a number literal an integer), ``#>``/``#>>`` take a ``text[]`` (here an array literal or
``ARRAY[...]`` of text: there is no array type yet), ``?|``/``?&`` likewise. An operator or function applied to
types it has no signature for is 42883 naming what the user wrote.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import CallBinary, CallUnary, CallVariadic, Literal
from steadystate.repr.types import ScalarType
from steadystate.sql import session_zone
from steadystate.sql.typed import ExprEnv, Typed, coerce, nullable_of, operator_error

T = ScalarType
Plan = Callable[[exp.Expr, ExprEnv], Typed]

_HINT = "No function matches the given name and argument types. You might need to add explicit type casts."


def _no_function(name: str, args: list[Typed]) -> errors.SteadyError:
    shown = ", ".join("unknown" if a.is_untyped else a.type.pg_name for a in args)
    return errors.UndefinedFunction(f"function {name}({shown}) does not exist", hint=_HINT)


def _jsonb(value: Typed, env: ExprEnv, symbol: str, other: Typed) -> Typed:
    if value.is_untyped:
        return coerce(value, T.JSONB, env)
    if value.type is not T.JSONB:
        raise operator_error(symbol, value.type, other.type)
    return value


def _key_or_index(node: exp.Expr, plan: Plan, env: ExprEnv) -> Typed:
    """The right operand of ``->``/``->>``: sqlglot turns a literal into a JSON path of one step."""
    if isinstance(node, exp.JSONPath):
        steps = [s for s in node.expressions if not isinstance(s, exp.JSONPathRoot)]
        if len(steps) != 1 or not isinstance(steps[0], (exp.JSONPathKey, exp.JSONPathSubscript)):
            raise errors.FeatureNotSupported(f"JSON path {node.sql(dialect='postgres')} is not supported")
        step = steps[0]
        if isinstance(step, exp.JSONPathKey):
            return Typed(Literal(str(step.this), T.TEXT), T.TEXT, nullable=False)
        return Typed(Literal(int(step.this), T.INT4), T.INT4, nullable=False)
    value = plan(node, env)
    if value.is_untyped:
        return coerce(value, T.TEXT, env)
    return value


def _arrow(as_text: bool) -> Callable[[Plan], Plan]:
    symbol = "->>" if as_text else "->"

    def make(plan: Plan) -> Plan:
        def handle(node: exp.Expr, env: ExprEnv) -> Typed:
            doc, key = plan(node.this, env), _key_or_index(node.expression, plan, env)
            doc = _jsonb(doc, env, symbol, key)
            if key.type is T.TEXT:
                func = "jsonb_get_key"
            elif key.type.is_integer:
                key, func = coerce(key, T.INT4, env), "jsonb_get_index"
            else:
                raise operator_error(symbol, doc.type, key.type)
            if as_text:
                func += "_text"
            return Typed(CallBinary(func, doc.expr, key.expr), T.TEXT if as_text else T.JSONB, True)

        return handle

    return make


def _text_array(node: exp.Expr, plan: Plan, env: ExprEnv, symbol: str, doc: Typed) -> list[Typed]:
    """A ``text[]`` operand: ``ARRAY['a', 'b']`` (its elements), or a text value holding an array literal
    (``'{a,b}'``, returned as one text to parse at run time)."""
    if isinstance(node, exp.Array):
        return [coerce(plan(e, env), T.TEXT, env) for e in node.expressions]
    value = plan(node, env)
    if value.is_untyped or value.type is T.TEXT:
        return [coerce(value, T.TEXT, env)]
    raise operator_error(symbol, doc.type, value.type)


def _path(as_text: bool) -> Callable[[Plan], Plan]:
    symbol = "#>>" if as_text else "#>"

    def make(plan: Plan) -> Plan:
        def handle(node: exp.Expr, env: ExprEnv) -> Typed:
            doc = plan(node.this, env)
            if isinstance(node.expression, exp.Array):
                raise errors.FeatureNotSupported(f"{symbol} with ARRAY[...] is not supported",
                                                 hint="Write the path as a text array literal: '{a,0}'.")
            path = _text_array(node.expression, plan, env, symbol, doc)[0]
            doc = _jsonb(doc, env, symbol, path)
            func = "jsonb_get_path_text" if as_text else "jsonb_get_path"
            return Typed(CallBinary(func, doc.expr, path.expr), T.TEXT if as_text else T.JSONB, True)

        return handle

    return make


def _binary_jsonb(func: str, symbol: str) -> Callable[[Plan], Plan]:
    def make(plan: Plan) -> Plan:
        def handle(node: exp.Expr, env: ExprEnv) -> Typed:
            left, right = plan(node.this, env), plan(node.expression, env)
            if not (left.is_untyped and right.is_untyped) and T.JSONB not in (left.type, right.type) \
                    and not left.is_untyped and not right.is_untyped:
                raise operator_error(symbol, left.type, right.type)
            a, b = _jsonb(left, env, symbol, right), _jsonb(right, env, symbol, left)
            return Typed(CallBinary(func, a.expr, b.expr), T.BOOL, nullable_of(a, b))

        return handle

    return make


def _exists(node: exp.Expr, env: ExprEnv, plan: Plan) -> Typed:
    doc, key = plan(node.this, env), plan(node.expression, env)
    doc = _jsonb(doc, env, "?", key)
    if not key.is_untyped and key.type is not T.TEXT:
        raise operator_error("?", doc.type, key.type)
    key = coerce(key, T.TEXT, env)
    return Typed(CallBinary("jsonb_exists", doc.expr, key.expr), T.BOOL, nullable_of(doc, key))


def _exists_many(func: str, symbol: str) -> Callable[[Plan], Plan]:
    def make(plan: Plan) -> Plan:
        def handle(node: exp.Expr, env: ExprEnv) -> Typed:
            doc = plan(node.this, env)
            keys = _text_array(node.expression, plan, env, symbol, doc)
            if not isinstance(node.expression, exp.Array):  # a text[] literal ('{a,b}'), parsed at run time
                doc = _jsonb(doc, env, symbol, keys[0])
                return Typed(CallBinary(f"{func}_literal", doc.expr, keys[0].expr), T.BOOL, nullable_of(doc, keys[0]))
            doc = _jsonb(doc, env, symbol, keys[0] if keys else doc)
            return Typed(CallVariadic(func, (doc.expr, *(k.expr for k in keys))), T.BOOL, doc.nullable)

        return handle

    return make


def _gen_random_uuid(node: exp.Expr, env: ExprEnv) -> Typed:
    if env.ctx.now is None:  # a maintained object (view, index, materialized view, subscription): see sql/scalar.py _now
        raise errors.FeatureNotSupported(
            "gen_random_uuid() is not supported in views, materialized views, indexes or subscriptions",
            hint="Their results are maintained: a value that changes on every evaluation would make them wrong.")
    return Typed(CallVariadic("gen_random_uuid", ()), T.UUID, False)


def _encoding(name: str) -> Callable[[Plan], Plan]:
    def make(plan: Plan) -> Plan:
        def handle(node: exp.Expr, env: ExprEnv) -> Typed:
            value, form = plan(node.this, env), plan(node.args["charset"], env)
            wanted = T.BYTEA if name == "encode" else T.TEXT
            if (not value.is_untyped and value.type is not wanted) or (not form.is_untyped and form.type is not T.TEXT):
                raise _no_function(name, [value, form])
            value, form = coerce(value, wanted, env), coerce(form, T.TEXT, env)
            func, result = ("bytea_encode", T.TEXT) if name == "encode" else ("bytea_decode", T.BYTEA)
            return Typed(CallBinary(func, value.expr, form.expr), result, nullable_of(value, form))

        return handle

    return make


def handlers(plan: Plan) -> dict[type, Plan]:
    """The sqlglot node handlers of this module, for sql/scalar.py's dispatch."""
    return {
        exp.JSONExtract: _arrow(False)(plan),
        exp.JSONExtractScalar: _arrow(True)(plan),
        exp.JSONBExtract: _path(False)(plan),
        exp.JSONBExtractScalar: _path(True)(plan),
        exp.JSONBContains: _binary_jsonb("jsonb_contains", "@>")(plan),
        exp.JSONBContainsTopKey: lambda node, env: _exists(node, env, plan),
        exp.JSONBContainsAnyTopKeys: _exists_many("jsonb_exists_any", "?|")(plan),
        exp.JSONBContainsAllTopKeys: _exists_many("jsonb_exists_all", "?&")(plan),
        exp.Uuid: _gen_random_uuid,
        exp.Encode: _encoding("encode")(plan),
        exp.Decode: _encoding("decode")(plan),
        exp.ArrayContainsAll: _containment(plan),
        exp.ArrayContainedBy: _containment(plan),
        # sqlglot's nodes for sha256/384/512 and bit_length (sha224 is a plain call)
        exp.SHA2Digest: lambda node, env: FUNCTIONS[f"sha{node.args['length'].this}"]([node.this], env, plan),
        exp.BitLength: lambda node, env: FUNCTIONS["bit_length"]([node.this], env, plan),
    }


def _containment(plan: Plan) -> Plan:
    def handle(node: exp.Expr, env: ExprEnv) -> Typed:
        left, right = plan(node.this, env), plan(node.expression, env)
        planned = plan_containment(node, left, right, env)
        if planned is None:
            symbol = "@>" if isinstance(node, exp.ArrayContainsAll) else "<@"
            raise errors.FeatureNotSupported(f"operator {symbol} is supported only between jsonb values")
        return planned

    return handle


def plan_containment(node: exp.Expr, left: Typed, right: Typed, env: ExprEnv) -> Typed | None:
    """``@>``/``<@`` (sqlglot's ArrayContainsAll/ArrayContainedBy) when an operand is jsonb; ``None`` otherwise
    (array containment is another planner's)."""
    if T.JSONB not in {v.type for v in (left, right) if not v.is_untyped}:
        return None
    symbol = "@>" if isinstance(node, exp.ArrayContainsAll) else "<@"
    a, b = _jsonb(left, env, symbol, right), _jsonb(right, env, symbol, left)
    func = "jsonb_contains" if symbol == "@>" else "jsonb_contained"
    return Typed(CallBinary(func, a.expr, b.expr), T.BOOL, nullable_of(a, b))


def plan_operator(symbol: str, left: Typed, right: Typed, env: ExprEnv) -> Typed | None:
    """``jsonb - text``, ``jsonb - integer``, ``jsonb || jsonb``, ``bytea || bytea``; ``None`` when no operand is
    jsonb or bytea (the caller's own operators apply)."""
    kinds = {v.type for v in (left, right) if not v.is_untyped}
    if T.JSONB in kinds:
        if symbol == "||":
            a, b = _jsonb(left, env, symbol, right), _jsonb(right, env, symbol, left)
            return Typed(CallBinary("jsonb_concat", a.expr, b.expr), T.JSONB, nullable_of(a, b))
        if symbol == "-" and left.type is T.JSONB and not left.is_untyped:
            if right.is_untyped or right.type is T.TEXT:
                key = coerce(right, T.TEXT, env)
                return Typed(CallBinary("jsonb_delete_key", left.expr, key.expr), T.JSONB, nullable_of(left, key))
            if right.type.is_integer:
                index = coerce(right, T.INT4, env)
                return Typed(CallBinary("jsonb_delete_index", left.expr, index.expr), T.JSONB,
                             nullable_of(left, index))
        raise operator_error(symbol, left.type, right.type)
    if T.BYTEA in kinds and symbol == "||":
        if any(not v.is_untyped and v.type is not T.BYTEA for v in (left, right)):
            raise operator_error(symbol, left.type, right.type)
        a, b = coerce(left, T.BYTEA, env), coerce(right, T.BYTEA, env)
        return Typed(CallBinary("bytea_concat", a.expr, b.expr), T.BYTEA, nullable_of(a, b))
    return None


# ---------------------------------------------------------------------------------------------------------------
# Functions sqlglot leaves anonymous


def _unary(name: str, func: str, wanted: ScalarType, result: ScalarType) -> Callable[[list[exp.Expr], ExprEnv, Plan], Typed]:
    def planner(args: list[exp.Expr], env: ExprEnv, plan: Plan) -> Typed:
        values = [plan(a, env) for a in args]
        if len(values) != 1 or (not values[0].is_untyped and values[0].type is not wanted):
            raise _no_function(name, values)
        value = coerce(values[0], wanted, env)
        return Typed(CallUnary(func, value.expr), result, value.nullable)

    return planner


_ZONED_JSON = {T.TIMESTAMPTZ: "timestamptz_jsonb_in", T.TIMESTAMPTZ_ARRAY: "timestamptz_array_jsonb_in"}


def json_in_zone(value: Typed, env: ExprEnv, what: str) -> Typed:
    """A timestamptz (or timestamptz[]) argument of to_jsonb/jsonb_build_*/jsonb_agg/jsonb_object_agg as the jsonb
    PostgreSQL makes of it in the session's zone (ISO 8601 with the offset there; sql/session_zone.py records the
    use); ``value`` itself for other types, and in UTC, where the datum's own conversion shows ``+00:00``."""
    if value.type is T.FLOAT4_ARRAY:  # its elements would show float8's digits
        raise errors.FeatureNotSupported(f"{what} of real[] is not supported",
                                         hint="Cast it to double precision[] or numeric[] first.")
    func = None if value.is_untyped else _ZONED_JSON.get(value.type)
    if func is None:
        return value
    zone = session_zone.zone_for(env.ctx, what)
    if zone is None:
        return value
    return Typed(CallVariadic(func, (value.expr, Literal(zone, T.TEXT))), T.JSONB, value.nullable)


def _to_jsonb(args: list[exp.Expr], env: ExprEnv, plan: Plan) -> Typed:
    values = [plan(a, env) for a in args]
    if len(values) != 1:
        raise _no_function("to_jsonb", values)
    value = values[0]
    if value.is_untyped:
        raise errors.SteadyError("could not determine polymorphic type because input has type unknown",
                                 sqlstate="42804")
    value = json_in_zone(value, env, "to_jsonb")
    func = "float4_to_jsonb" if value.type is T.FLOAT4 else "to_jsonb"
    return Typed(CallUnary(func, value.expr), T.JSONB, value.nullable)


def _json_argument(value: Typed, env: ExprEnv) -> Any:
    """An argument of jsonb_build_*: an untyped literal is text (PostgreSQL's "unknown" arguments of these variadic
    "any" functions are text); real is converted by its own digits."""
    if value.is_untyped:
        value = coerce(value, T.TEXT, env)
    if value.type is T.FLOAT4:
        return CallUnary("float4_to_jsonb", value.expr)
    return value.expr


def _build(name: str) -> Callable[[list[exp.Expr], ExprEnv, Plan], Typed]:
    def planner(args: list[exp.Expr], env: ExprEnv, plan: Plan) -> Typed:
        values = [plan(a, env) for a in args]
        if name == "jsonb_build_object" and len(values) % 2:
            raise errors.InvalidParameterValue("argument list must have even number of elements",
                                               hint="The arguments of jsonb_build_object() must consist of "
                                                    "alternating keys and values.")
        values = [json_in_zone(v, env, name) for v in values]
        return Typed(CallVariadic(name, tuple(_json_argument(v, env) for v in values)), T.JSONB, False)

    return planner


def _byte_length(name: str) -> Callable[[list[exp.Expr], ExprEnv, Plan], Typed]:
    """``octet_length``/``bit_length`` of a text (its UTF-8 bytes) or bytea value."""
    def planner(args: list[exp.Expr], env: ExprEnv, plan: Plan) -> Typed:
        values = [plan(a, env) for a in args]
        if len(values) != 1:
            raise _no_function(name, values)
        value = values[0]
        if value.is_untyped or value.type is T.TEXT:
            text = coerce(value, T.TEXT, env)
            return Typed(CallUnary(name, CallUnary("text_to_utf8", text.expr)), T.INT4, text.nullable)
        if value.type is not T.BYTEA:
            raise _no_function(name, values)
        return Typed(CallUnary(name, value.expr), T.INT4, value.nullable)

    return planner


def _set_path(name: str) -> Callable[[list[exp.Expr], ExprEnv, Plan], Typed]:
    """``jsonb_set(doc, path, new [, create_missing])`` / ``jsonb_insert(doc, path, new [, insert_after])``
    (expr/jsonb_paths.py); the path is a ``text[]`` value or an array literal."""
    def planner(args: list[exp.Expr], env: ExprEnv, plan: Plan) -> Typed:
        values = [plan(a, env) for a in args]
        if len(values) not in (3, 4) or any(
                not v.is_untyped and v.type is not want
                for v, want in zip(values, (T.JSONB, T.TEXT_ARRAY, T.JSONB, T.BOOL))):
            raise _no_function(name, values)
        doc, new = coerce(values[0], T.JSONB, env), coerce(values[2], T.JSONB, env)
        path = values[1] if not values[1].is_untyped else coerce(values[1], T.TEXT, env)  # parsed when run
        rest = [coerce(values[3], T.BOOL, env)] if len(values) == 4 else []
        typed = [doc, path, new, *rest]
        return Typed(CallVariadic(name, tuple(t.expr for t in typed)), T.JSONB, any(t.nullable for t in typed))

    return planner


FUNCTIONS: dict[str, Callable[[list[exp.Expr], ExprEnv, Plan], Typed]] = {
    "jsonb_set": _set_path("jsonb_set"),
    "jsonb_insert": _set_path("jsonb_insert"),
    "jsonb_typeof": _unary("jsonb_typeof", "jsonb_typeof", T.JSONB, T.TEXT),
    "jsonb_array_length": _unary("jsonb_array_length", "jsonb_array_length", T.JSONB, T.INT4),
    "jsonb_strip_nulls": _unary("jsonb_strip_nulls", "jsonb_strip_nulls", T.JSONB, T.JSONB),
    "jsonb_pretty": _unary("jsonb_pretty", "jsonb_pretty", T.JSONB, T.TEXT),
    "to_jsonb": _to_jsonb,
    "jsonb_build_object": _build("jsonb_build_object"),
    "jsonb_build_array": _build("jsonb_build_array"),
    "octet_length": _byte_length("octet_length"),
    "bit_length": _byte_length("bit_length"),
    **{f"sha{bits}": _unary(f"sha{bits}", f"bytea_sha{bits}", T.BYTEA, T.BYTEA) for bits in (224, 256, 384, 512)},
}


def functions(plan: Plan) -> dict[str, Callable[[list[exp.Expr], ExprEnv], Typed]]:
    """The anonymous functions of this module by name, for sql/scalar.py's ``_ANONYMOUS``."""
    return {name: (lambda planner: lambda args, env: planner(args, env, plan))(planner)
            for name, planner in FUNCTIONS.items()}


def bytea_argument(name: str, value: Typed) -> str | None:
    """The IR function for ``md5``/``length`` of a bytea argument (``None``: not bytea, the text function applies)."""
    if value.is_untyped or value.type is not T.BYTEA:
        return None
    return {"md5": "bytea_md5", "length": "octet_length"}[name]
