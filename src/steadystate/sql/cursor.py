"""The token cursor the statement readers of ``sql.custom_parser`` walk: looking at, accepting and expecting
tokens and words, identifiers, literals and option lists (``WITH (...)``, bare ``SIZE 'small'``), raising
PostgreSQL-style syntax errors at the token's position.
"""

from __future__ import annotations

from sqlglot.tokens import Token, TokenType

from steadystate import errors
from steadystate.sql import statements as st
from steadystate.sql.syntax import error_at, syntax_error

#: Option names made of two words.
_MULTIWORD_OPTIONS = {("REPLICATION", "FACTOR"), ("ON", "TIMEOUT")}

_WORD_TYPES = {TokenType.VAR, TokenType.IDENTIFIER}


class Cursor:
    def __init__(self, sql: str, tokens: list[Token]) -> None:
        self.sql = sql
        self.tokens = tokens
        self.pos = 0

    # -- looking
    def peek(self, ahead: int = 0) -> Token | None:
        i = self.pos + ahead
        return self.tokens[i] if i < len(self.tokens) else None

    def word(self, ahead: int = 0) -> str | None:
        """The upper-cased text of an unquoted word token, else None."""
        token = self.peek(ahead)
        if token is None or token.token_type == TokenType.IDENTIFIER or token.token_type == TokenType.STRING:
            return None
        text = token.text
        return text.upper() if text.replace("_", "a").isalnum() else None

    def at_end(self) -> bool:
        return self.pos >= len(self.tokens)

    def at(self, token_type: TokenType) -> bool:
        token = self.peek()
        return token is not None and token.token_type == token_type

    # -- consuming
    def fail(self) -> errors.SyntaxError_:
        token = self.peek()
        end = self.tokens[-1].end + 1 if self.tokens else 0
        return error_at(token, end)

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.fail()
        self.pos += 1
        return token

    def accept(self, *words: str) -> bool:
        for i, word in enumerate(words):
            if self.word(i) != word:
                return False
        self.pos += len(words)
        return True

    def expect(self, *words: str) -> None:
        for word in words:
            if not self.accept(word):
                raise self.fail()

    def accept_type(self, token_type: TokenType) -> bool:
        if self.at(token_type):
            self.pos += 1
            return True
        return False

    def expect_type(self, token_type: TokenType) -> Token:
        if not self.at(token_type):
            raise self.fail()
        return self.next()

    def ident(self) -> str:
        token = self.peek()
        if token is None:
            raise self.fail()
        if token.token_type == TokenType.IDENTIFIER:
            self.pos += 1
            return token.text
        if self.word() is None:
            raise self.fail()
        self.pos += 1
        return token.text.lower()

    def name(self) -> st.Name:
        parts = [self.ident()]
        while self.accept_type(TokenType.DOT):
            parts.append(self.ident())
        if len(parts) > 3:
            raise syntax_error(f"improper qualified name (too many dotted names): {'.'.join(parts)}", None)
        return tuple(parts)

    def finish(self) -> None:
        if not self.at_end():
            raise self.fail()

    # -- embedded SQL
    def rest(self) -> tuple[str, int]:
        token = self.peek()
        if token is None:
            raise self.fail()
        start, end = token.start, self.tokens[-1].end + 1
        self.pos = len(self.tokens)
        return self.sql[start:end], start

    def balanced(self) -> tuple[str, int]:
        """Consume ``( ... )`` and return the text between the parentheses and its offset."""
        open_token = self.expect_type(TokenType.L_PAREN)
        depth = 1
        while depth:
            token = self.next()
            if token.token_type == TokenType.L_PAREN:
                depth += 1
            elif token.token_type == TokenType.R_PAREN:
                depth -= 1
        close = self.tokens[self.pos - 1]
        return self.sql[open_token.end + 1 : close.start], open_token.end + 1

    # -- options
    def value(self) -> st.OptionValue:
        token = self.next()
        kind = token.token_type
        if kind == TokenType.STRING:
            return token.text
        if kind == TokenType.NUMBER:
            return float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
        if kind == TokenType.TRUE:
            return True
        if kind == TokenType.FALSE:
            return False
        if kind == TokenType.IDENTIFIER:
            return token.text
        if token.text.replace("_", "a").isalnum():
            return token.text.lower()
        self.pos -= 1
        raise self.fail()

    def option(self) -> tuple[str, st.OptionValue]:
        first = self.word()
        if first is None:
            raise self.fail()
        self.pos += 1
        name = first
        second = self.word()
        if second is not None and (first, second) in _MULTIWORD_OPTIONS:
            self.pos += 1
            name = f"{first} {second}"
        self.accept_type(TokenType.EQ)
        if self.at(TokenType.COMMA) or self.at(TokenType.R_PAREN) or self.at_end():
            return name, None
        return name, self.value()

    def options(self, parenthesized: bool = True) -> st.Options:
        if parenthesized:
            self.expect_type(TokenType.L_PAREN)
        out = [self.option()]
        while self.accept_type(TokenType.COMMA):
            out.append(self.option())
        if parenthesized:
            self.expect_type(TokenType.R_PAREN)
        return tuple(out)

    def bare_options(self) -> st.Options:
        """Options not in parentheses, e.g. ``SIZE 'small'`` after CREATE CLUSTER REPLICA."""
        out = [self.option()]
        while self.accept_type(TokenType.COMMA):
            out.append(self.option())
        return tuple(out)
