"""``parse(sql) -> list[Statement]``: split a string into statements and parse each one.

The string is tokenized once with the steadystate dialect's tokenizer and split at top-level semicolons.
Each statement is dispatched on its leading keywords (a table, :data:`_DISPATCH`): standard SQL goes to
sqlglot (sql/dialect.py); Materialize's statements and the session/transaction statements are read by the
small recursive-descent readers in sql/custom_parser.py over the same tokens, producing the dataclasses of
sql/statements.py.  Every failure becomes :class:`errors.SyntaxError_` (or FeatureNotSupported for known but
unsupported statements) carrying a PostgreSQL-style message and ``position`` (1-based character offset into
the submitted string); no sqlglot or Python exception escapes.  Tokenizing and the call into sqlglot, which both
readers use, are in sql/syntax.py.
"""

from __future__ import annotations

from typing import Callable

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from steadystate.sql import custom_parser, pg_compat
from steadystate.sql.statements import Node, Statement
from steadystate.sql.syntax import error_at, parse_standard, syntax_error, tokenize


def _split(tokens: list[Token]) -> list[list[Token]]:
    groups: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            groups.append([])
        else:
            groups[-1].append(token)
    return [group for group in groups if group]


def _standard(sql: str, tokens: list[Token]) -> exp.Expr:
    start, end = tokens[0].start, tokens[-1].end + 1
    return parse_standard(sql[start:end], start)


def parse(sql: str) -> list[Statement]:
    """Parse every statement of ``sql``; an empty string (or only semicolons) gives ``[]``.  A query a client
    sends whole and that is answered by another (``pg_compat.client_query``) is parsed as that one."""
    sql = pg_compat.client_query(sql)[0]
    statements: list[Statement] = []
    for group in _split(tokenize(sql)):
        start, end = group[0].start, group[-1].end + 1
        keyword = group[0].text.upper() if group[0].token_type != TokenType.IDENTIFIER else ""
        handler: Callable[[str, list[Token]], Node] | None = _DISPATCH.get(keyword)
        if handler is None:
            handler = custom_parser.DISPATCH.get(keyword)
        if handler is None:
            raise error_at(group[0])
        node = handler(sql, group)
        statements.append(Statement(node=node, sql=sql[start:end], start=start, end=end))
    return statements


def parse_one(sql: str) -> Statement:
    statements = parse(sql)
    if len(statements) != 1:
        raise syntax_error(f"expected exactly one statement, found {len(statements)}", None)
    return statements[0]


_DISPATCH: dict[str, Callable[[str, list[Token]], Node]] = {
    keyword: _standard for keyword in ("SELECT", "WITH", "VALUES", "(", "INSERT", "UPDATE", "DELETE", "TABLE")
}
