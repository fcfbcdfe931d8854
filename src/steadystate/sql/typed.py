"""Typed scalar expressions, scopes and coercion: the vocabulary every planner module shares.

:class:`Typed` is a planned scalar expression: the IR expression, its type and nullability, and — for untyped
constants (string literals, NULL, ``$n``) — what is needed to give them the type their context asks for
(:func:`coerce`, :func:`unify`).  A :class:`Scope` names the columns of the relation being planned;
:class:`ExprEnv` is the mutable state of planning one statement's scalar expressions (parameters, the
bindings of group keys, aggregates and subqueries already planned as columns).  :func:`output_name` is the
column name PostgreSQL gives an unaliased select item.

Nothing here plans an expression: sql/scalar.py does (:func:`~steadystate.sql.scalar.plan_expr`), and the
relation planner modules above it use these types to talk to it and to each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from sqlglot import exp

from steadystate import errors
from steadystate.expr.eval import compile_scalar
from steadystate.expr.ir import CallBinary, CallUnary, CallVariadic, Literal, ScalarExpr, literal
from steadystate.expr.time_functions import array_cast_name, text_timestamptz_array_in, text_timestamptz_in
from steadystate.repr.timezones import is_utc
from steadystate.repr.typmod import ModKind, TypeMod
from steadystate.repr.types import ScalarType
from steadystate.sql.dialect import Every, JsonbAgg
from steadystate.sql import session_zone
from steadystate.sql import types as ty
from steadystate.sql.catalog_api import PlanContext

T = ScalarType

AGGREGATE_CLASSES: tuple[type[exp.Expr], ...] = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.LogicalAnd, exp.LogicalOr,
                                                 exp.Stddev, exp.StddevSamp, exp.StddevPop, exp.Variance,
                                                 exp.VariancePop, exp.GroupConcat, JsonbAgg, exp.JSONBObjectAgg,
                                                 exp.ArrayAgg, Every, exp.BitwiseAndAgg, exp.BitwiseOrAgg,
                                                 exp.BitwiseXorAgg, exp.Corr, exp.CovarPop, exp.CovarSamp,
                                                 exp.RegrAvgx, exp.RegrAvgy, exp.RegrCount, exp.RegrIntercept,
                                                 exp.RegrR2, exp.RegrSlope, exp.RegrSxx, exp.RegrSxy, exp.RegrSyy,
                                                 exp.PercentileCont, exp.PercentileDisc, exp.Mode)


@dataclass(frozen=True)
class Typed:
    expr: ScalarExpr
    type: ScalarType
    nullable: bool = True
    unknown: str | None = None  # text of an untyped string literal
    untyped_null: bool = False
    param: int | None = None  # number of an untyped parameter ($n)
    mod: TypeMod | None = None  # the type's modifier (a varchar(3) column, a ::numeric(10,2) cast)

    @property
    def is_untyped(self) -> bool:
        return self.unknown is not None or self.untyped_null or self.param is not None


@dataclass(frozen=True)
class ScopeColumn:
    table: str | None
    name: str
    type: ScalarType
    nullable: bool = True
    shadowed: bool = False  # hidden from unqualified lookup (the right side of JOIN USING)
    in_star: bool = True
    mod: TypeMod | None = None  # the column's type modifier (reported to clients; see repr/typmod.py)


@dataclass(frozen=True)
class Scope:
    columns: tuple[ScopeColumn, ...] = ()

    def resolve(self, table: str | None, name: str) -> int:
        matches = [
            i for i, c in enumerate(self.columns)
            if c.name == name and (c.table == table if table is not None else not c.shadowed)
        ]
        if len(matches) == 1:
            return matches[0]
        shown = f"{table}.{name}" if table else name
        if len(matches) > 1:
            raise errors.SteadyError(f"column reference {errors.quote_ident(shown)} is ambiguous", sqlstate="42702")
        if table is not None and not any(c.table == table for c in self.columns):
            raise errors.UndefinedTable(f"missing FROM-clause entry for table {errors.quote_ident(table)}")
        if table is None and any(c.table == name for c in self.columns):
            raise errors.WholeRowReference(f"whole-row reference to {errors.quote_ident(name)} is not supported",
                                           hint="Name the columns, or use \"*\".")
        raise errors.UndefinedColumn(f"column {errors.quote_ident(shown)} does not exist")

    def with_table(self, table: str) -> "Scope":
        return Scope(tuple(replace(c, table=table, shadowed=False) for c in self.columns))

    def __add__(self, other: "Scope") -> "Scope":
        return Scope(self.columns + other.columns)


@dataclass
class ExprEnv:
    """Mutable state shared by the scalar planning of one statement."""

    ctx: PlanContext
    scope: Scope = Scope()
    params: dict[int, ScalarType] = field(default_factory=dict)
    bindings: dict[str, tuple[int, ScalarType, bool]] = field(default_factory=dict)  # node sql → column
    grouped: bool = False  # column references must be group keys (bound), else 42803
    group_columns: dict[int, int] = field(default_factory=dict)  # input column → output column
    clause: str = "this context"  # for 'aggregate functions are not allowed in WHERE'
    reduce_arity: int = 0  # when grouped: arity of the Reduce output (group keys + aggregates)
    # planning a GROUP BY's aggregates: the input columns that are group keys (an ordered-set aggregate's fraction
    # may use them: sql/aggregate_args.py); None elsewhere
    group_key_columns: frozenset[int] | None = None

    def child(self, scope: Scope) -> "ExprEnv":
        return ExprEnv(self.ctx, scope, self.params)


def binding_key(node: exp.Expr) -> str:
    return node.sql(dialect="postgres")


# ---------------------------------------------------------------------------------------------------------
# Coercion


def lit(value: Any, typ: ScalarType) -> Typed:
    return Typed(literal(value, typ), typ, nullable=value is None)


def coerce(value: Typed, target: ScalarType, env: ExprEnv, *, explicit: bool = False, what: str = "",
           mod: TypeMod | None = None) -> Typed:
    """``value`` as ``target``: untyped constants adopt it, others are cast (implicitly unless ``explicit``).

    With ``mod``, the value is then brought to the type modifier too: by an explicit cast's rules when
    ``explicit`` (``'abcd'::varchar(3)`` truncates), else by an assignment's (``value too long``)."""
    base = _coerce(value, target, env, explicit=explicit, what=what)
    if mod is None or base.mod == mod:
        return base
    call = CallBinary("apply_typmod" if explicit else "assign_typmod", base.expr, Literal(mod.spec(), T.TEXT))
    if isinstance(base.expr, Literal):
        folded = _fold(call)
        if folded is not _NOT_FOLDED:
            return replace(lit(folded, target), mod=mod)
    return Typed(call, target, base.nullable, mod=mod)


def _coerce(value: Typed, target: ScalarType, env: ExprEnv, *, explicit: bool, what: str) -> Typed:
    if value.unknown is not None:
        return lit(_parse_in_zone(value.unknown, target, env), target)
    if value.untyped_null:
        return lit(None, target)
    if value.param is not None:
        env.params[value.param] = target
        return _param_value(value.param, target, env)
    if value.type is target:
        return value
    allowed = ty.explicitly_castable if explicit else ty.implicitly_castable
    if not allowed(value.type, target):
        if explicit:
            raise errors.SteadyError(
                f"cannot cast type {value.type.pg_name} to {target.pg_name}", sqlstate="42846"
            )
        message = (
            f"{what} is of type {target.pg_name} but expression is of type {value.type.pg_name}"
            if what
            else f"expression of type {value.type.pg_name} cannot be used as type {target.pg_name}"
        )
        raise errors.DatatypeMismatch(message, hint="You will need to rewrite or cast the expression.")
    if (value.type, target) in _ZONED_CASTS:
        zoned = _zoned_cast(value, target, env)
        if zoned is not None:
            return zoned
    elif value.type.is_array and target.is_array and T.TIMESTAMPTZ_ARRAY in (value.type, target):
        what = f"a cast from {value.type.pg_name} to {target.pg_name}"
        func = array_cast_name(value.type.element.value, target.element.value)
        if func is None:
            session_zone.only_in_utc(env.ctx, [T.TIMESTAMPTZ_ARRAY], what)
        elif (zone := session_zone.zone_for(env.ctx, what)) is not None:  # element by element in the zone
            return Typed(CallVariadic(func, (value.expr, Literal(zone, T.TEXT))), target, value.nullable)
    if value.type is T.FLOAT4 and target is T.TEXT:
        cast = CallUnary("float4_to_text", value.expr)  # float4's own output digits
    elif value.type is T.FLOAT4_ARRAY and target is T.TEXT:
        cast = CallUnary("array_out_float4", value.expr)
    else:
        cast = CallUnary(f"cast_{target.value}", value.expr)
    if isinstance(value.expr, Literal):
        folded = _fold(cast)
        if folded is not _NOT_FOLDED:
            return lit(folded, target)
    return Typed(cast, target, value.nullable)


_NOT_FOLDED = object()

#: the casts PostgreSQL computes in the session's TimeZone (sql/session_zone.py)
_ZONED_CASTS = frozenset({(T.TIMESTAMPTZ, T.TIMESTAMP), (T.TIMESTAMPTZ, T.DATE), (T.TIMESTAMPTZ, T.TIME),
                          (T.TIMESTAMP, T.TIMESTAMPTZ), (T.DATE, T.TIMESTAMPTZ), (T.TIMESTAMPTZ, T.TEXT),
                          (T.TEXT, T.TIMESTAMPTZ), (T.TIMESTAMPTZ_ARRAY, T.TEXT), (T.TEXT, T.TIMESTAMPTZ_ARRAY)})


def _zoned_cast(value: Typed, target: ScalarType, env: ExprEnv) -> Typed | None:
    """A cast of :data:`_ZONED_CASTS` in a session whose zone is not UTC, with the zone explicit (None in UTC)."""
    zone = session_zone.zone_for(env.ctx, f"a cast from {value.type.pg_name} to {target.pg_name}")
    if zone is None:
        return None
    name = Literal(zone, T.TEXT)
    if value.type is T.TEXT:
        func = "text_timestamptz_array_in" if target is T.TIMESTAMPTZ_ARRAY else "text_timestamptz_in"
        return Typed(CallVariadic(func, (value.expr, name)), target, value.nullable)
    if target is T.TEXT:
        func = "timestamptz_array_text_in" if value.type is T.TIMESTAMPTZ_ARRAY else "timestamptz_text_in"
        return Typed(CallVariadic(func, (value.expr, name)), target, value.nullable)
    if value.type is T.TIMESTAMPTZ:
        local = Typed(CallVariadic("timezone", (name, value.expr)), T.TIMESTAMP, value.nullable)
        return local if target is T.TIMESTAMP else coerce(local, target, env, explicit=True)
    if value.type is T.DATE:
        value = coerce(value, T.TIMESTAMP, env)
    return Typed(CallVariadic("timezone", (name, value.expr)), target, value.nullable)


def _fold(expr: CallUnary | CallBinary) -> Any:
    """A cast of a literal evaluated at plan time with the evaluator's own cast (``_NOT_FOLDED`` if it fails:
    the cast then stays in the plan, so its error surfaces, with its SQLSTATE, where the value is used)."""
    try:
        return compile_scalar(expr, [])(())
    except Exception:  # noqa: BLE001 - any failure leaves the cast to run time
        return _NOT_FOLDED


def _parse_in_zone(text: str, target: ScalarType, env: ExprEnv) -> Any:
    """A literal's or parameter's text read as ``target``; a timestamptz (or timestamptz[] element) without an
    offset is wall-clock time in the session's zone.  Read once, as PostgreSQL folds a literal: not a use of the
    zone (sql/session_zone.py)."""
    parsed = ty.parse_text(text, target)  # PostgreSQL's errors for what is no value of the type
    if target in (T.TIMESTAMPTZ, T.TIMESTAMPTZ_ARRAY) and not is_utc(zone := session_zone.setting(env.ctx)):
        return text_timestamptz_in(text, zone) if target is T.TIMESTAMPTZ else text_timestamptz_array_in(text, zone)
    return parsed


def _param_value(number: int, target: ScalarType, env: ExprEnv) -> Typed:
    params = env.ctx.params
    if params is None:
        return Typed(Literal(None, target), target)
    value = params[number - 1]
    if value is None:
        return lit(None, target)
    source = ty.datum_type(value)
    if source is None:  # text, or an empty or all-NULL array
        return lit(_parse_in_zone(ty.unknown_text(value), target, env), target)
    return coerce(lit(value, source), target, env, explicit=True)


def unify(values: list[Typed], env: ExprEnv, *, describe: Callable[[list[ScalarType]], errors.SteadyError]) -> tuple[list[Typed], ScalarType]:
    """Bring ``values`` to one type (untyped ones adopt it; all untyped → text)."""
    known = [v.type for v in values if not v.is_untyped]
    target = ty.common_type(known)
    if target is None:
        raise describe(known)
    kinds = {v.mod.kind if v.mod is not None else None for v in values if not v.is_untyped}
    if target is T.TEXT and ModKind.BPCHAR in kinds and kinds <= {ModKind.BPCHAR, ModKind.VARCHAR}:
        # char(n) with untyped literals or varchar: PostgreSQL compares them as char, whose trailing spaces do not
        # count (a char is stored without them: repr/typmod.py), so 'a  ' = c holds for a c of 'a'; with a text
        # value it compares as text (c's trailing spaces are gone either way)
        blank = TypeMod(ModKind.BPCHAR)
        return [v if v.mod is not None and v.mod.kind is ModKind.BPCHAR
                else coerce(v, target, env, explicit=True, mod=blank) for v in values], target
    return [coerce(v, target, env) for v in values], target


def operator_error(symbol: str, left: ScalarType, right: ScalarType) -> errors.SteadyError:
    return errors.UndefinedFunction(
        f"operator does not exist: {left.pg_name} {symbol} {right.pg_name}",
        hint="No operator matches the given name and argument types. You might need to add explicit type casts.",
    )


def binary_operands(left: Typed, right: Typed, env: ExprEnv, symbol: str) -> tuple[Typed, Typed, ScalarType]:
    """The operands of a binary operator brought to one type (PostgreSQL's resolution of unknown literals and
    implicit casts), with that type."""
    if left.is_untyped and right.is_untyped:
        if left.unknown is not None and right.unknown is not None and symbol in ("=", "<>", "<", "<=", ">", ">="):
            return coerce(left, T.TEXT, env), coerce(right, T.TEXT, env), T.TEXT
        if left.untyped_null or right.untyped_null:
            return coerce(left, T.TEXT, env), coerce(right, T.TEXT, env), T.TEXT
        raise errors.SteadyError(f"operator is not unique: unknown {symbol} unknown", sqlstate="42725",
                                 hint="Could not choose a best candidate operator. You might need to add explicit type casts.")
    (a, b), target = unify([left, right], env, describe=lambda known: operator_error(symbol, left.type, right.type))
    if target is T.FLOAT4 and any(v.type is not T.FLOAT4 for v in (left, right) if not v.is_untyped):
        # real with an integer or numeric: PostgreSQL's operators between them are float8's (its preferred type)
        a, b, target = coerce(left, T.FLOAT8, env), coerce(right, T.FLOAT8, env), T.FLOAT8
    return a, b, target


def require_bool(value: Typed, env: ExprEnv, construct: str) -> Typed:
    if value.is_untyped:
        return coerce(value, T.BOOL, env)
    if value.type is not T.BOOL:
        raise errors.DatatypeMismatch(f"argument of {construct} must be type boolean, not type {value.type.pg_name}")
    return value


def nullable_of(*values: Typed) -> bool:
    return any(v.nullable for v in values)


def mismatch(construct: str) -> Callable[[list[ScalarType]], errors.SteadyError]:
    """The error for values of ``construct`` (IN, CASE, VALUES, ...) whose types have no common type."""

    def describe(known: list[ScalarType]) -> errors.SteadyError:
        names = [t.pg_name for t in dict.fromkeys(known)]
        return errors.DatatypeMismatch(f"{construct} types {names[0]} and {names[1]} cannot be matched")

    return describe


# ---------------------------------------------------------------------------------------------------------
# Column names

_NAMES: dict[type, str] = {
    exp.Count: "count", exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min", exp.Max: "max",
    exp.LogicalAnd: "bool_and", exp.LogicalOr: "bool_or", exp.Upper: "upper", exp.Lower: "lower",
    exp.MD5: "md5", exp.Length: "length", exp.Abs: "abs", exp.Sign: "sign", exp.Round: "round",
    exp.Floor: "floor", exp.Ceil: "ceil", exp.Sqrt: "sqrt", exp.Exp: "exp", exp.Ln: "ln", exp.Log: "log",
    exp.Pow: "pow", exp.Coalesce: "coalesce", exp.Greatest: "greatest", exp.Least: "least",
    exp.Nullif: "nullif", exp.Concat: "concat", exp.Substring: "substring", exp.Replace: "replace",
    exp.StrPosition: "position", exp.Left: "left", exp.Right: "right", exp.Repeat: "repeat",
    exp.Extract: "extract", exp.TimestampTrunc: "date_trunc", exp.CurrentVersion: "version",
    exp.CurrentDatabase: "current_database", exp.CurrentSchema: "current_schema",
    exp.CurrentUser: "current_user", exp.Case: "case", exp.Exists: "exists", exp.Boolean: "bool",
    exp.PercentileCont: "percentile_cont", exp.PercentileDisc: "percentile_disc", exp.Mode: "mode",
    exp.BitwiseAndAgg: "bit_and", exp.BitwiseOrAgg: "bit_or", exp.BitwiseXorAgg: "bit_xor", Every: "every",
    exp.Corr: "corr", exp.CovarPop: "covar_pop", exp.CovarSamp: "covar_samp", exp.RegrAvgx: "regr_avgx",
    exp.RegrAvgy: "regr_avgy", exp.RegrCount: "regr_count", exp.RegrIntercept: "regr_intercept", exp.RegrR2: "regr_r2",
    exp.RegrSlope: "regr_slope", exp.RegrSxx: "regr_sxx", exp.RegrSxy: "regr_sxy", exp.RegrSyy: "regr_syy",
    exp.IntDiv: "div", exp.WidthBucket: "width_bucket", exp.Factorial: "factorial", exp.TimeFromParts: "make_time",
    exp.JustifyDays: "justify_days", exp.JustifyHours: "justify_hours", exp.JustifyInterval: "justify_interval",
}


def literal_datum(expr: ScalarExpr) -> Any:
    """The value of an expression known to be a literal."""
    assert isinstance(expr, Literal)
    return expr.datum()


def output_name(node: exp.Expr) -> str:
    """The name PostgreSQL gives an unaliased select item."""
    if isinstance(node, exp.Alias):
        return node.alias
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Paren):
        return output_name(node.this)
    if isinstance(node, exp.Cast):
        inner = output_name(node.this)
        if inner != "?column?":
            return inner
        try:
            declared = ty.resolve_type(node.to)
            return declared.mod.kind.value if declared.mod is not None else declared.type.value
        except errors.SteadyError:
            return "?column?"
    if isinstance(node, exp.Trim):
        return {"LEADING": "ltrim", "TRAILING": "rtrim"}.get(str(node.args.get("position") or "").upper(), "btrim")
    if isinstance(node, exp.Pad):
        return "lpad" if node.args.get("is_left") else "rpad"
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    if isinstance(node, (exp.WithinGroup, exp.Filter)):  # percentile_cont(f) WITHIN GROUP (...), agg FILTER (...)
        return output_name(node.this)
    if isinstance(node, AGGREGATE_CLASSES) and node.meta.get("typed_name") and type(node) not in _NAMES:
        return str(node.meta["typed_name"])  # every, bit_and, corr, stddev, ...: as the user typed it
    if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select) and len(node.this.expressions) == 1:
        return output_name(node.this.expressions[0])
    return _NAMES.get(type(node), "?column?")


def is_aggregate(node: exp.Expr) -> bool:
    return isinstance(node, AGGREGATE_CLASSES)
