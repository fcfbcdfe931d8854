"""Readers for the statements users run around queries: SUBSCRIBE with all its clauses, cursors
(``DECLARE``/``FETCH``/``CLOSE``), ``SHOW CREATE``, ``SHOW COLUMNS`` and EXPLAIN's variants.

Like sql/custom_parser.py (which dispatches to these), each reader is a small recursive-descent function over the
statement's tokens driven by a :class:`~steadystate.sql.cursor.Cursor`; embedded queries and timestamp
expressions are cut out of the source text by token offsets and parsed by sqlglot (``syntax.parse_standard``), so
their errors keep correct positions.  Materialize's syntax is followed:

* ``SUBSCRIBE [TO] name | (query) [ENVELOPE UPSERT (KEY (c, ...)) | ENVELOPE DEBEZIUM (KEY (c, ...))]
  [WITH (SNAPSHOT [= bool], PROGRESS [= bool])] [AS OF [AT LEAST] expr] [UP TO expr]``
  (``WITHIN TIMESTAMP ORDER BY`` is refused with 0A000);
* ``DECLARE name [NO SCROLL] CURSOR [WITHOUT HOLD] FOR {SELECT ... | SUBSCRIBE ...}``;
* ``FETCH [FORWARD | NEXT] [count | ALL] [FROM | IN] name [WITH (TIMEOUT = interval)]``; ``CLOSE name | ALL``;
* ``SHOW CREATE {TABLE | VIEW | MATERIALIZED VIEW | INDEX | CLUSTER} name``, ``SHOW COLUMNS {FROM | IN} name``;
* ``EXPLAIN [[RAW | DECORRELATED | OPTIMIZED | PHYSICAL] PLAN [AS TEXT | AS JSON] FOR] {query | VIEW name |
  MATERIALIZED VIEW name | INDEX name}``, ``EXPLAIN TIMESTAMP [AS TEXT | AS JSON] FOR query``.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.tokens import TokenType

from steadystate import errors
from steadystate.repr.objects import ItemKind
from steadystate.sql import statements as st
from steadystate.sql.cursor import Cursor
from steadystate.sql.syntax import parse_standard, syntax_error


def _query(text: str, offset: int) -> exp.Expr:
    tree = parse_standard(text, offset)
    if not isinstance(tree, (exp.Query, exp.Values)):
        raise syntax_error("syntax error: expected a query", offset)
    return tree


# ---------------------------------------------------------------------------------------------------------
# SUBSCRIBE


_ENVELOPES = {"UPSERT": st.SubscribeEnvelope.UPSERT, "DEBEZIUM": st.SubscribeEnvelope.DEBEZIUM}


def _envelope_key(cur: Cursor) -> tuple[str, ...]:
    cur.expect_type(TokenType.L_PAREN)
    cur.expect("KEY")
    cur.expect_type(TokenType.L_PAREN)
    key = [cur.ident()]
    while cur.accept_type(TokenType.COMMA):
        key.append(cur.ident())
    cur.expect_type(TokenType.R_PAREN)
    cur.expect_type(TokenType.R_PAREN)
    return tuple(key)


def _timestamp_expr(cur: Cursor, stop: tuple[str, ...] | None) -> exp.Expr:
    """The scalar expression from here to ``stop`` (two words at the top level) or the end."""
    start = cur.pos
    depth = 0
    while not cur.at_end():
        if depth == 0 and stop is not None and cur.word() == stop[0] and cur.word(1) == stop[1]:
            break
        token = cur.next()
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
    if cur.pos == start:
        raise cur.fail()
    first, last = cur.tokens[start], cur.tokens[cur.pos - 1]
    text = cur.sql[first.start:last.end + 1]
    select = parse_standard("SELECT " + text, first.start - len("SELECT "))
    if not isinstance(select, exp.Select) or len(select.expressions) != 1:
        raise syntax_error("syntax error: expected one timestamp expression", first.start)
    return select.expressions[0]


def read_subscribe(cur: Cursor) -> st.Subscribe:
    cur.expect("SUBSCRIBE")
    cur.accept("TO")
    target: st.Name | None
    if cur.at(TokenType.L_PAREN):
        text, offset = cur.balanced()
        query: exp.Expr | None = _query(text, offset)
        target, query_sql = None, text
    else:
        target, query, query_sql = cur.name(), None, None
    envelope: st.SubscribeEnvelope = st.SubscribeEnvelope.NONE
    key: tuple[str, ...] = ()
    if cur.accept("ENVELOPE"):
        word = cur.word() or ""
        if word not in _ENVELOPES:
            raise cur.fail()
        cur.next()
        envelope, key = _ENVELOPES[word], _envelope_key(cur)
    if cur.word() == "WITHIN":
        raise errors.FeatureNotSupported("SUBSCRIBE ... WITHIN TIMESTAMP ORDER BY is not supported")
    options: st.Options = ()
    if cur.accept("WITH"):
        options = cur.options()
    as_of, at_least, up_to = None, False, None
    if cur.accept("AS", "OF"):
        at_least = cur.accept("AT", "LEAST")
        as_of = _timestamp_expr(cur, ("UP", "TO"))
    if cur.accept("UP", "TO"):
        up_to = _timestamp_expr(cur, None)
    return st.Subscribe(target, query, query_sql, options, envelope, key, as_of, at_least, up_to)


# ---------------------------------------------------------------------------------------------------------
# Cursors


def read_declare(cur: Cursor) -> st.Declare:
    cur.expect("DECLARE")
    name = cur.ident()
    while cur.word() in ("BINARY", "INSENSITIVE", "ASENSITIVE", "SCROLL", "NO"):
        if cur.accept("NO", "SCROLL") or cur.accept("INSENSITIVE") or cur.accept("ASENSITIVE"):
            continue  # forward-only and insensitive is what every cursor here is
        if cur.word() == "NO":
            raise cur.fail()
        raise errors.FeatureNotSupported(f"DECLARE ... {cur.word()} CURSOR is not supported")
    cur.expect("CURSOR")
    if cur.accept("WITH", "HOLD"):
        raise errors.FeatureNotSupported("DECLARE ... WITH HOLD is not supported",
                                         hint="cursors live until the end of their transaction")
    cur.accept("WITHOUT", "HOLD")
    cur.expect("FOR")
    text, offset = cur.rest()
    inner: Any
    if text[:9].upper() == "SUBSCRIBE":
        inner_tokens = [t for t in cur.tokens if t.start >= offset]
        inner_cur = Cursor(cur.sql, inner_tokens)
        inner = read_subscribe(inner_cur)
        inner_cur.finish()
    else:
        inner = _query(text, offset)
    return st.Declare(name, inner, text)


def read_fetch(cur: Cursor) -> st.Fetch:
    cur.expect("FETCH")
    word = cur.word()
    if word in ("BACKWARD", "PRIOR", "FIRST", "LAST", "ABSOLUTE", "RELATIVE"):
        raise errors.FeatureNotSupported(f"FETCH {word} is not supported", hint="cursors only move forward")
    count: int | None = 1
    if cur.accept("NEXT"):
        count = 1
    else:
        cur.accept("FORWARD")
        if cur.accept("ALL"):
            count = None
        elif cur.at(TokenType.NUMBER):
            count = int(cur.next().text)
    if cur.word() in ("FROM", "IN"):
        cur.next()
    name = cur.ident()
    options: st.Options = ()
    if cur.accept("WITH"):
        options = cur.options()
    return st.Fetch(name, count, options)


def read_close(cur: Cursor) -> st.Close:
    cur.expect("CLOSE")
    if cur.accept("ALL"):
        return st.Close(None)
    return st.Close(cur.ident())


# ---------------------------------------------------------------------------------------------------------
# SHOW CREATE / SHOW COLUMNS


_SHOW_CREATE_KINDS: tuple[tuple[tuple[str, ...], ItemKind], ...] = (
    (("TABLE",), ItemKind.TABLE), (("VIEW",), ItemKind.VIEW), (("MATERIALIZED", "VIEW"), ItemKind.MATERIALIZED_VIEW),
    (("INDEX",), ItemKind.INDEX))


def read_show_create(cur: Cursor) -> st.ShowCreate:
    """After ``SHOW CREATE``."""
    if cur.accept("CLUSTER"):
        return st.ShowCreate("cluster", (cur.ident(),))
    for words, kind in _SHOW_CREATE_KINDS:
        if cur.accept(*words):
            return st.ShowCreate(kind, cur.name())
    word = cur.word() or ""
    if word in ("SOURCE", "SINK", "CONNECTION", "SECRET", "TYPE"):
        raise errors.FeatureNotSupported(f"SHOW CREATE {word} is not supported")
    raise cur.fail()


def read_show_columns(cur: Cursor) -> st.ShowColumns:
    """After ``SHOW COLUMNS``."""
    if not (cur.accept("FROM") or cur.accept("IN")):
        raise cur.fail()
    return st.ShowColumns(cur.name())


# ---------------------------------------------------------------------------------------------------------
# EXPLAIN


_STAGES = {"RAW": st.ExplainStage.RAW, "DECORRELATED": st.ExplainStage.DECORRELATED,
           "OPTIMIZED": st.ExplainStage.OPTIMIZED, "PHYSICAL": st.ExplainStage.PHYSICAL}


def _format(cur: Cursor) -> st.ExplainFormat:
    if cur.accept("AS", "TEXT"):
        return st.ExplainFormat.TEXT
    if cur.accept("AS", "JSON"):
        return st.ExplainFormat.JSON
    if cur.word() == "AS" and cur.word(1) in ("DOT", "VERBOSE"):
        raise errors.FeatureNotSupported(f"EXPLAIN ... AS {cur.word(1)} is not supported", hint="use AS TEXT or AS JSON")
    return st.ExplainFormat.TEXT


def read_explain(cur: Cursor) -> st.Explain:
    """After ``EXPLAIN`` (``EXPLAIN RESTART CLUSTER`` is read by custom_parser)."""
    stage = st.ExplainStage.OPTIMIZED
    fmt = st.ExplainFormat.TEXT
    word = cur.word()
    if word == "TIMESTAMP":
        cur.next()
        fmt = _format(cur)
        cur.expect("FOR")
        text, offset = cur.rest()
        return st.Explain("query", query=_query(text, offset), stage=st.ExplainStage.TIMESTAMP, format=fmt)
    if word in _STAGES and cur.word(1) == "PLAN":
        stage = _STAGES[word]
        cur.next()
    if word in ("FILTER", "OPTIMIZER", "REPLAN", "LOCALLY") or (word in ("PUSHDOWN", "SCHEMA", "KEY")):
        raise errors.FeatureNotSupported(f"EXPLAIN {word} is not supported")
    if cur.accept("PLAN"):
        if cur.at(TokenType.L_PAREN) or cur.accept("WITH"):
            raise errors.FeatureNotSupported("EXPLAIN ... WITH (options) is not supported")
        fmt = _format(cur)
        cur.expect("FOR")
    for words, what in ((("MATERIALIZED", "VIEW"), ItemKind.MATERIALIZED_VIEW), (("VIEW",), ItemKind.VIEW),
                        (("INDEX",), ItemKind.INDEX)):
        if cur.accept(*words):
            object_name = cur.name()
            cur.finish()
            return st.Explain(what, name=object_name, stage=stage, format=fmt)
    text, offset = cur.rest()
    return st.Explain("query", query=_query(text, offset), stage=stage, format=fmt)
