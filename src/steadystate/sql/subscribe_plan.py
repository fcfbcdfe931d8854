"""Planning SUBSCRIBE (options, envelopes, AS OF / UP TO) and cursors (DECLARE, FETCH, CLOSE).

* ``WITH (SNAPSHOT [= bool], PROGRESS [= bool])``; any other option is 22023 ``unrecognized SUBSCRIBE option``.
* ``AS OF [AT LEAST] expr`` and ``UP TO expr`` are constant expressions evaluated here: an integer (a timestamp
  of the timestamp oracle, milliseconds since the Unix epoch) or a ``timestamp``/``timestamptz`` (converted to
  those milliseconds), as in Materialize.  Whether ``AS OF`` is still readable is the adapter's check.
* ``ENVELOPE UPSERT (KEY (...))`` / ``ENVELOPE DEBEZIUM (KEY (...))`` resolve their key columns to positions.
* ``FETCH ... WITH (TIMEOUT = interval)``: the timeout in seconds (an interval string, or a number of seconds).
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlglot import exp

from steadystate import errors
from steadystate.expr.eval import compile_scalar
from steadystate.repr.interval import parse_interval
from steadystate.repr.types import ScalarType
from steadystate.sql import plan as p
from steadystate.sql import statements as st
from steadystate.sql.catalog_api import PlanContext
from steadystate.sql.query import new_state, plan_subquery
from steadystate.sql.relation import QueryState
from steadystate.sql.scalar import plan_expr
from steadystate.sql.typed import Scope

T = ScalarType
_SUBSCRIBE_OPTIONS = frozenset({"snapshot", "progress"})


def _param_types(state: QueryState) -> tuple[ScalarType, ...]:
    if not state.params:
        return ()
    return tuple(state.params.get(i, T.TEXT) for i in range(1, max(state.params) + 1))


def _flag(name: str, value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return True if value is None else value
    text = str(value).strip().lower()
    if text in ("true", "on", "1", "yes", "t"):
        return True
    if text in ("false", "off", "0", "no", "f"):
        return False
    raise errors.InvalidParameterValue(f"invalid value for SUBSCRIBE option {name.upper()}: {errors.quote_ident(text)}",
                                       hint="a boolean: true or false")


def _timestamp(node: exp.Expr, ctx: PlanContext, clause: str) -> int:
    """A constant timestamp expression's value as an oracle timestamp (milliseconds since the epoch)."""
    env = new_state(ctx).env(Scope())
    env.clause = clause
    typed = plan_expr(node, env)
    if typed.type not in (T.INT2, T.INT4, T.INT8, T.NUMERIC, T.TIMESTAMP, T.TIMESTAMPTZ, T.TEXT):
        raise errors.DatatypeMismatch(f"{clause} must be a timestamp or an integer, not type {typed.type.pg_name}")
    try:
        value = compile_scalar(typed.expr, [])(())
    except (IndexError, TypeError):
        raise errors.FeatureNotSupported(f"{clause} must be a constant expression") from None
    if isinstance(value, datetime.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=datetime.timezone.utc)
        return int(aware.timestamp() * 1000)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise errors.InvalidParameterValue(f"invalid {clause} timestamp: {errors.quote_ident(value)}") from None
    if value is None:
        raise errors.InvalidParameterValue(f"{clause} timestamp must not be null")
    if int(value) != value or value < 0:
        raise errors.InvalidParameterValue(f"invalid {clause} timestamp: {value}")
    return int(value)


def plan_subscribe(node: st.Subscribe, ctx: PlanContext, copy: bool = False) -> p.SubscribePlan:
    if node.target is not None:
        parts = node.target
        query: exp.Expr = exp.select("*").from_(exp.Table(
            this=exp.to_identifier(parts[-1], quoted=True),
            db=exp.to_identifier(parts[-2], quoted=True) if len(parts) > 1 else None,
            catalog=exp.to_identifier(parts[-3], quoted=True) if len(parts) > 2 else None))
    else:
        assert node.query is not None
        query = node.query
    state = new_state(ctx)
    rel = plan_subquery(query, state)
    options = {k.lower().replace(" ", "_"): v for k, v in node.options}
    unknown = set(options) - _SUBSCRIBE_OPTIONS
    if unknown:
        raise errors.InvalidParameterValue(
            f"unrecognized SUBSCRIBE option {errors.quote_ident(sorted(unknown)[0].upper())}")
    desc = rel.desc()
    key: tuple[int, ...] = ()
    if node.envelope is not st.SubscribeEnvelope.NONE:
        if copy:
            raise errors.FeatureNotSupported("COPY (SUBSCRIBE ... ENVELOPE ...) is not supported")
        positions = []
        for name in node.envelope_key:
            if node.envelope_key.count(name) > 1:
                raise errors.SteadyError(f"column {errors.quote_ident(name)} specified more than once in the "
                                         f"ENVELOPE {node.envelope.upper()} key", sqlstate="42701")
            index = desc.index_of(name)
            if index is None:
                raise errors.UndefinedColumn(f"column {errors.quote_ident(name)} does not exist")
            positions.append(index)
        key = tuple(positions)
    as_of = _timestamp(node.as_of, ctx, "AS OF") if node.as_of is not None else None
    up_to = _timestamp(node.up_to, ctx, "UP TO") if node.up_to is not None else None
    if as_of is not None and up_to is not None and up_to < as_of:
        raise errors.InvalidParameterValue(f"UP TO ({up_to}) must not be less than AS OF ({as_of})")
    return p.SubscribePlan(
        rel.expr, desc, _flag("snapshot", options.get("snapshot", True)), copy, _param_types(state),
        progress=_flag("progress", options.get("progress", False)), as_of=as_of, as_of_at_least=node.as_of_at_least,
        up_to=up_to, envelope=node.envelope, key=key)


def plan_fetch(node: st.Fetch) -> p.FetchPlan:
    timeout: float | None = None
    for name, value in node.options:
        if name != "TIMEOUT":
            raise errors.InvalidParameterValue(f"unrecognized FETCH option {errors.quote_ident(name)}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            timeout = float(value)
        elif isinstance(value, str):
            timeout = parse_interval(value).span() / 1_000_000
        else:
            raise errors.InvalidParameterValue("FETCH TIMEOUT must be an interval, such as '1s'")
        if timeout < 0:
            raise errors.InvalidParameterValue("FETCH TIMEOUT must not be negative")
    if node.count is not None and node.count < 0:
        raise errors.FeatureNotSupported("FETCH with a negative count is not supported", hint="cursors only move forward")
    return p.FetchPlan(node.name, node.count, timeout)
