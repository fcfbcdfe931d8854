"""The ``steadystate`` sqlglot dialect: PostgreSQL, with errors that remember where they happened.

Standard statements (queries, INSERT/UPDATE/DELETE, CREATE TABLE) are parsed by this dialect; the
Materialize-style statements are recognised first by sql/parser.py at the token level.  The only changes to
PostgreSQL's grammar are those needed to report errors the way PostgreSQL does:

* every parse error records the character offset of the offending token (``ParseError.errors[i]["start"]``),
  so sql/parser.py can say ``syntax error at or near "x"`` with a position;
* SHOW, RESET and friends are tokenized word by word (PostgreSQL's tokenizer keeps their tail as one string);
* ``jsonb_agg(...)`` and ``every(...)`` are aggregate nodes (:class:`JsonbAgg`, :class:`Every`), and ``a -> 'k'`` in a function's arguments is
  the jsonb operator (sqlglot would read a lambda);
* ``date_part(...)`` stays a function call (sqlglot turns it into ``EXTRACT``, whose result type differs);
* an ``INTERVAL '...'`` literal keeps its whole string (sqlglot would split ``'1 day 10:30'`` and drop a part)
  and is one literal (sqlglot would read ``INTERVAL '1 day' + 1`` as the sum of two intervals);
* other systems' syntax is PostgreSQL's syntax error, never read and ignored or answered: ``LIMIT 1, 2``,
  ``* EXCLUDE (a)``, ``PIVOT``, ``INTERVAL 1 DAY``, ``<=>``, ``==``;
* function names are PostgreSQL's only (sql/postgres_names.py): sqlglot knows every dialect's, and read
  ``ifnull(a, b)`` as ``coalesce`` or ``group_concat`` as ``string_agg``;
* ``E'...'`` escape strings, ``U&'...'`` and ``$tag$...$tag$`` dollar quotes are plain string literals
  (sql/literals.py decodes the escapes exactly as PostgreSQL's lexer and joins continued constants);
* ``*`` takes no implicit alias (PostgreSQL rejects ``SELECT * FORM t`` at ``FORM``; sqlglot would read
  ``FORM`` as an alias of ``*`` and complain about ``t``);
* ``(VALUES ... ORDER BY/LIMIT/OFFSET)`` in FROM and ``INSERT ... VALUES ... LIMIT`` keep their finishing (sqlglot
  reads it only on a statement's own VALUES);
* a FROM item after a comma is marked (``join.meta["comma"]``): sqlglot gives ``a, b`` and ``a JOIN b`` the same
  tree, but a comma binds looser than any JOIN (sql/joins.py) and ``a JOIN b`` without ON or USING is a syntax
  error in PostgreSQL.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ParseError
from sqlglot.parsers.postgres import PostgresParser
from sqlglot.tokens import Token, TokenType

from steadystate.sql.postgres_names import NOT_POSTGRESQL_PARSERS, NOT_POSTGRESQL_TYPES, is_postgresql_call
from steadystate.sql.literals import string_tokens


class JsonbAgg(exp.Expression, exp.AggFunc):
    """``jsonb_agg(x [ORDER BY ...])``: an aggregate node (sqlglot would leave it an anonymous function)."""

    arg_types = {"this": True}


class Every(exp.Expression, exp.AggFunc):
    """``every(b)``: PostgreSQL's SQL-standard spelling of ``bool_and`` (sqlglot would leave it anonymous)."""

    arg_types = {"this": True}


TEMPLATE_FUNCTIONS = frozenset({"TO_CHAR", "TO_DATE", "TO_TIMESTAMP", "TO_NUMBER"})


class SteadyParser(PostgresParser):
    # date_part(text, x) is its own function (double precision), not EXTRACT (numeric) as sqlglot makes it; other
    # systems' special syntax (TRY_CAST, MAX_BY...) is not PostgreSQL's
    FUNCTION_PARSERS = {name: parse for name, parse in PostgresParser.FUNCTION_PARSERS.items()
                        if name != "DATE_PART" and name not in NOT_POSTGRESQL_PARSERS}
    # only PostgreSQL's names (sql/postgres_names.py): another system's (ifnull, group_concat) is a plain call the
    # planner refuses under its own name; to_char, to_date, to_timestamp and to_number keep PostgreSQL's template as
    # written (sqlglot would translate it) and arrive as plain calls
    FUNCTIONS = {**{name: parse for name, parse in PostgresParser.FUNCTIONS.items()
                    if name not in TEMPLATE_FUNCTIONS and is_postgresql_call(name)},
                 "JSONB_AGG": JsonbAgg.from_arg_list, "EVERY": Every.from_arg_list}
    # PostgreSQL has no lambdas: ``f(a -> 'k')`` is the jsonb operator, not a lambda of parameter a; ``=>`` names
    # an argument (``make_interval(years => 1)``)
    LAMBDAS: ClassVar[dict] = {k: v for k, v in PostgresParser.LAMBDAS.items() if k is TokenType.FARROW}

    def _parse_function_call(self, *args: Any, **kwargs: Any) -> Any:
        """Remember the name as typed (``meta["typed_name"]``): an unsupported function's error names it, never
        sqlglot's class for it (``to_hex``, not ``hex``)."""
        typed = self._curr.text if self._curr is not None else None
        node = super()._parse_function_call(*args, **kwargs)
        if isinstance(node, exp.Func) and typed:
            node.meta.setdefault("typed_name", typed.lower())
        return node

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

    def _parse_limit(self, this: Any = None, top: bool = False, skip_limit_token: bool = False) -> Any:
        """PostgreSQL has no ``LIMIT offset, count`` (MySQL's): refused as PostgreSQL refuses it."""
        node = super()._parse_limit(this, top, skip_limit_token)
        if isinstance(node, exp.Limit) and node.args.get("offset") is not None:
            self.raise_error("LIMIT #,# syntax is not supported")
        return node

    def _parse_star_ops(self) -> Any:
        """PostgreSQL's ``*`` has no modifiers: ``* EXCLUDE (a)``, ``* REPLACE (...)``, ``* ILIKE 'x'``, ``COLUMNS(...)``
        (DuckDB's, BigQuery's) are syntax errors there, not a star that ignores them."""
        return self.expression(exp.Star()).update_positions(self._prev)

    def _parse_pivots(self) -> Any:
        return None  # PostgreSQL has no PIVOT/UNPIVOT: the word is then read as what PostgreSQL reads it as

    def _parse_interval(self, require_interval: bool = True, parse_function_unit: bool = True) -> Any:
        """One ``INTERVAL '...'`` literal.  sqlglot reads ``INTERVAL '1 day' + 1`` as a sum of two intervals (the
        ``1`` an interval of one second); in PostgreSQL the ``+`` is an operator like any other."""
        index = self._index
        if not self._match(TokenType.INTERVAL) and require_interval:
            return None
        literal = self._match(TokenType.STRING, advance=False)
        this = self._parse_primary() if literal else self._parse_term()
        if not this or (
            isinstance(this, exp.Column) and not this.table and not this.this.quoted and self._curr
            and self._curr.text.upper() not in self.dialect.VALID_INTERVAL_UNITS
        ):
            self._retreat(index)
            return None
        if not literal and require_interval:  # MySQL's INTERVAL 1 DAY: PostgreSQL's interval literal is a string
            self._retreat(index + 1)
            self.raise_error("syntax error")
        return self._parse_interval_span(this, parse_function_unit=parse_function_unit)

    def _parse_interval_span(self, this: Any, parse_function_unit: bool = True) -> Any:
        """``INTERVAL '1 day 10:30:40'`` keeps its whole string (sqlglot would keep ``'1' DAY`` and drop the rest);
        a field after it (``INTERVAL '1' DAY``, ``... HOUR TO MINUTE``) is kept as the unit for the planner."""
        if this is None or not this.is_string:
            return super()._parse_interval_span(this, parse_function_unit)
        unit = None
        if self._curr is not None and self._curr.text.upper() in self.dialect.VALID_INTERVAL_UNITS:
            unit = self._parse_var(any_token=True, upper=True)
            if self._match_text_seq("TO"):
                unit = self.expression(exp.IntervalSpan(this=unit, expression=self._parse_var(any_token=True,
                                                                                               upper=True)))
        return self.expression(exp.Interval(this=this, unit=unit))

    def _parse_with(self, skip_with_token: bool = False) -> Any:
        """Also Materialize's ``WITH MUTUALLY RECURSIVE [(option)] name (col type, ...) AS (query), ...``: a
        recursive ``With`` whose ``meta["mutually"]`` is the option (``(kind, limit)`` or ``None``) and whose CTEs
        carry their declared column types in ``meta["types"]`` (sql/recursion.py plans it)."""
        index = self._index
        if not skip_with_token and not self._match(TokenType.WITH):
            return None
        if not self._match_text_seq("MUTUALLY", "RECURSIVE"):
            self._retreat(index)
            return super()._parse_with(skip_with_token)
        option = None
        if self._match(TokenType.L_PAREN):
            kind = next((k for k, words in _LIMIT_OPTIONS if self._match_text_seq(*words)), None)
            if kind is None:
                self.raise_error("expected RETURN AT RECURSION LIMIT, ERROR AT RECURSION LIMIT or RECURSION LIMIT")
            self._match(TokenType.EQ)
            limit = self._parse_number()
            if not isinstance(limit, exp.Literal) or not limit.is_int:
                self.raise_error("expected an integer recursion limit")
            option = (kind, int(limit.name))  # type: ignore[union-attr]
            self._match_r_paren()
        ctes = []
        while True:
            name = self._parse_id_var()
            self._match_l_paren()
            columns = self._parse_csv(self._parse_field_def)
            self._match_r_paren()
            if not self._match(TokenType.ALIAS):
                self.raise_error("expected AS")
            query = self._parse_wrapped(self._parse_statement)
            alias = exp.TableAlias(this=name, columns=[c.this for c in columns])
            cte = self.expression(exp.CTE(this=query, alias=alias))
            cte.meta["types"] = [c.args.get("kind") for c in columns]
            ctes.append(cte)
            if not self._match(TokenType.COMMA):
                break
        with_ = self.expression(exp.With(expressions=ctes, recursive=True))
        with_.meta["mutually"] = option
        return with_

    def _parse_derived_table_values(self, allow_value_synonym: bool = False) -> Any:
        """PostgreSQL's VALUES is a query that takes ORDER BY, LIMIT and OFFSET in parentheses in FROM and as an
        INSERT's source too (sqlglot reads them only at a statement's top level): they go on the ``Values`` node,
        whose planners apply them (``sql/joins.py``, ``sql/planner.py``)."""
        if not self._match_pair(TokenType.L_PAREN, TokenType.VALUES, advance=False):
            values = super()._parse_derived_table_values(allow_value_synonym)
            if allow_value_synonym and values is not None and self._at_finishing():  # INSERT ... VALUES ... LIMIT
                values = self._parse_query_modifiers(values)
            return values
        self._advance()  # the parenthesis; the VALUES inside is then a plain one
        values = super()._parse_derived_table_values()
        if values is not None and self._at_finishing():
            values = self._parse_query_modifiers(values)
        self._match_r_paren()
        if values is not None and values.args.get("alias") is None:
            values.set("alias", self._parse_table_alias())
        return values

    def _at_finishing(self) -> bool:
        return self._curr is not None and self._curr.token_type in (
            TokenType.ORDER_BY, TokenType.LIMIT, TokenType.OFFSET, TokenType.FETCH)

    def _parse_alias(self, this: Any, explicit: bool = False) -> Any:
        if isinstance(this, exp.Star) and not (self._curr and self._curr.token_type == TokenType.ALIAS):
            return this
        return super()._parse_alias(this, explicit)


_LIMIT_OPTIONS = (("return", ("RETURN", "AT", "RECURSION", "LIMIT")), ("error", ("ERROR", "AT", "RECURSION", "LIMIT")),
                  ("error", ("RECURSION", "LIMIT")))


def _needs_condition(join: exp.Join) -> bool:
    """An explicit JOIN that is neither CROSS nor NATURAL and has no ON or USING (PostgreSQL: a syntax error)."""
    kind = str(join.args.get("kind") or "").upper()
    return (kind != "CROSS" and not join.args.get("method") and join.args.get("on") is None
            and not join.args.get("using"))


class SteadyTokenizer(Postgres.Tokenizer):
    # PostgreSQL's tokenizer swallows the rest of SHOW/RESET/... statements into one string token; we read
    # those statements ourselves, so every word stays a token.
    COMMANDS = {TokenType.EXECUTE}  # FETCH is read by sql/statement_readers.py
    # other systems' operators (MySQL's <=>, SQLite's ==) and type names (STRING, INT64, TINYINT, DOUBLE without
    # PRECISION...) are not PostgreSQL's: the characters are read one by one, the names as plain words (42704)
    KEYWORDS = {word: token for word, token in Postgres.Tokenizer.KEYWORDS.items()
                if word not in ("<=>", "==") and word not in NOT_POSTGRESQL_TYPES}

    def tokenize(self, sql: str) -> list[Token]:
        """``E'...'`` decoded as PostgreSQL does and ``$tag$...$tag$`` made plain string tokens (sql/literals.py);
        a refused escape string raises :class:`literals.LiteralError`."""
        return string_tokens(sql, super().tokenize(sql))


class Steadystate(Postgres):
    """Registered with sqlglot under the name ``steadystate``."""

    Parser = SteadyParser
    Tokenizer = SteadyTokenizer
    INDEX_OFFSET = 0  # ``a[1]`` stays 1 in the tree (sqlglot would shift typed literals only); arrays are 1-based


DIALECT = Steadystate()

__all__ = ["DIALECT", "TEMPLATE_FUNCTIONS", "Every", "JsonbAgg", "Steadystate", "SteadyParser", "Token"]
