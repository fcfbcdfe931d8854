"""The ``steadystate`` sqlglot dialect: PostgreSQL, with errors that remember where they happened.

Standard statements (queries, INSERT/UPDATE/DELETE, CREATE TABLE) are parsed by this dialect; the
Materialize-style statements are recognised first by sql/parser.py at the token level.  The only changes to
PostgreSQL's grammar are those needed to report errors the way PostgreSQL does:

* every parse error records the character offset of the offending token (``ParseError.errors[i]["start"]``),
  so sql/parser.py can say ``syntax error at or near "x"`` with a position;
* SHOW, RESET and friends are tokenized word by word (PostgreSQL's tokenizer keeps their tail as one string);
* ``*`` takes no implicit alias (PostgreSQL rejects ``SELECT * FORM t`` at ``FORM``; sqlglot would read
  ``FORM`` as an alias of ``*`` and complain about ``t``);
* a FROM item after a comma is marked (``join.meta["comma"]``): sqlglot gives ``a, b`` and ``a JOIN b`` the same
  tree, but a comma binds looser than any JOIN (sql/joins.py) and ``a JOIN b`` without ON or USING is a syntax
  error in PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ParseError
from sqlglot.parsers.postgres import PostgresParser
from sqlglot.tokens import Token, TokenType


class SteadyParser(PostgresParser):
    def raise_error(self, message: str, token: Any = None) -> None:  # type: ignore[override]
        failing = token or self._curr or self._prev
        try:
            if token is None:
                super().raise_error(message)
            else:
                super().raise_error(message, token)
        except ParseError as error:
            for info in error.errors:
                info["start"] = failing.start if failing is not None else None
                info["at_end"] = self._curr is None and token is None
                info["token_text"] = failing.text if failing is not None else ""
            raise

    def _parse_join(self, skip_join_token: bool = False, parse_bracket: bool = False,
                    alias_tokens: Any = None) -> Any:
        comma = self._curr is not None and self._curr.token_type == TokenType.COMMA
        join = super()._parse_join(skip_join_token, parse_bracket, alias_tokens)
        if isinstance(join, exp.Join):
            if comma:
                join.meta["comma"] = True
            elif not skip_join_token and _needs_condition(join):
                self.raise_error("JOIN requires ON or USING")
        return join

    def _parse_alias(self, this: Any, explicit: bool = False) -> Any:
        if isinstance(this, exp.Star) and not (self._curr and self._curr.token_type == TokenType.ALIAS):
            return this
        return super()._parse_alias(this, explicit)


def _needs_condition(join: exp.Join) -> bool:
    """An explicit JOIN that is neither CROSS nor NATURAL and has no ON or USING (PostgreSQL: a syntax error)."""
    kind = str(join.args.get("kind") or "").upper()
    return (kind != "CROSS" and not join.args.get("method") and join.args.get("on") is None
            and not join.args.get("using"))


class SteadyTokenizer(Postgres.Tokenizer):
    # PostgreSQL's tokenizer swallows the rest of SHOW/RESET/... statements into one string token; we read
    # those statements ourselves, so every word stays a token.
    COMMANDS = {TokenType.EXECUTE, TokenType.FETCH}


class Steadystate(Postgres):
    """Registered with sqlglot under the name ``steadystate``."""

    Parser = SteadyParser
    Tokenizer = SteadyTokenizer


DIALECT = Steadystate()

__all__ = ["DIALECT", "Steadystate", "SteadyParser", "Token"]
