"""Tokens and sqlglot: what both statement readers (sql/parser.py and sql/custom_parser.py) share.

:func:`tokenize` runs the steadystate dialect's tokenizer; :func:`parse_standard` hands one standard statement's
text to sqlglot.  Every failure becomes :class:`errors.SyntaxError_` through :func:`syntax_error` /
:func:`error_at`, carrying a PostgreSQL-style message and ``position`` (1-based character offset into the
submitted string).
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token

from steadystate import errors
from steadystate.sql.dialect import DIALECT
from steadystate.sql.literals import LiteralError
from steadystate.sql import row_compare

#: the opening of a dollar quote: ``$$`` or ``$tag$`` (a tag is an identifier without ``$``)
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z\x80-\uffff_][A-Za-z\x80-\uffff_0-9]*)?\$")


def syntax_error(message: str, position: int | None) -> errors.SyntaxError_:
    """A 42601 error; ``position`` is a 0-based offset (stored 1-based as PostgreSQL reports it)."""
    error = errors.SyntaxError_(message)
    error.position = None if position is None else position + 1  # type: ignore[attr-defined]
    return error


def error_at(token: Token | None, sql_len: int = 0) -> errors.SyntaxError_:
    if token is None:
        return syntax_error("syntax error at end of input", sql_len)
    return syntax_error(f"syntax error at or near {errors.quote_ident(token.text)}", token.start)


def literal_error(error: LiteralError, offset: int) -> errors.SteadyError:
    """A string constant the lexer refused (sql/literals.py), its position made relative to the statement."""
    refused = error.error
    if error.position is not None:
        refused.position = error.position + offset + 1  # type: ignore[attr-defined]
    return refused


def tokenize(sql: str) -> list[Token]:
    try:
        return list(DIALECT.tokenize(sql))
    except LiteralError as error:
        raise literal_error(error, 0) from None
    except TokenError:
        unterminated = _unterminated_quote(sql)
        if unterminated is not None:
            quote, kind = unterminated
            raise syntax_error(
                f"unterminated {kind} string at or near {errors.quote_ident(sql[quote:])}", quote
            ) from None
        raise syntax_error("syntax error", None) from None
    except Exception:  # pragma: no cover - defensive: the tokenizer should only raise TokenError
        raise syntax_error("syntax error", None) from None


def _unterminated_quote(sql: str) -> tuple[int, str] | None:
    """Offset of a quote that opens a string never closed, if any, and its kind (``quoted``/``dollar-quoted``)."""
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            escapes = ch == "'" and i > 0 and sql[i - 1] in "eE" and not (i > 1 and (sql[i - 2].isalnum()
                                                                                     or sql[i - 2] == "_"))
            j = i + 1
            while j < n:
                if escapes and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                if escapes:
                    return i - 1, "quoted"
                unicode = ch == "'" and sql[max(i - 2, 0):i].upper() == "U&"
                return (i - 2 if unicode else i), "quoted"
            i = j + 1
        elif ch == "$" and (tag := _DOLLAR_TAG.match(sql, i)) is not None and (i == 0 or not (
                sql[i - 1].isalnum() or sql[i - 1] == "_")):
            close = sql.find(tag.group(0), tag.end())
            if close < 0:
                return i, "dollar-quoted"
            i = close + len(tag.group(0))
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            i = n if newline < 0 else newline + 1
        else:
            i += 1
    return None


def parse_standard(text: str, offset: int) -> exp.Expr:
    """Parse one standard statement with sqlglot; ``offset`` locates ``text`` in the submitted string."""
    try:
        trees = [tree for tree in DIALECT.parse(text) if tree is not None]
    except ParseError as error:
        info = error.errors[0] if error.errors else {}
        start = info.get("start")
        token_text = info.get("token_text") or ""
        description = str(info.get("description") or "")
        at_end = start is not None and text[start + len(token_text):].strip() == ""
        if start is None:
            raise syntax_error("syntax error", offset) from None
        if at_end and "Unexpected token" not in description:
            raise syntax_error("syntax error at end of input", offset + len(text)) from None
        raise syntax_error(f"syntax error at or near {errors.quote_ident(token_text)}", offset + start) from None
    except LiteralError as error:
        raise literal_error(error, offset) from None
    except TokenError:
        raise syntax_error("syntax error", offset) from None
    except errors.SteadyError:
        raise
    except Exception as error:  # sqlglot internals: never let them escape
        raise syntax_error(f"syntax error: {error}", offset) from None
    if len(trees) != 1:
        raise syntax_error("syntax error", offset)
    tree = trees[0]
    if isinstance(tree, exp.Command):
        keyword = text.split(None, 1)[0] if text.strip() else text
        raise syntax_error(f"syntax error at or near {errors.quote_ident(keyword)}", offset)
    return row_compare.expand(tree)
