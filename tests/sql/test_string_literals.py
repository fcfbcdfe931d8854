"""Escape strings ``E'...'``, ``U&'...'`` and dollar quoting at the lexer (sql/literals.py, sql/syntax.py): every way of writing a
character decodes back to it, dollar quotes keep their body verbatim, parameters ``$n`` stay parameters, and a
refused constant gives PostgreSQL's SQLSTATE and position.  (The same constants against the PostgreSQL server:
tests/differential/test_text_functions_postgres.py.)
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st
from sqlglot import exp

from steadystate import errors
from steadystate.pgwire.proxy_rules import split_statements
from steadystate.sql.literals import decode_escape_string
from steadystate.sql.parser import parse_one

#: characters a string may hold (no NUL: PostgreSQL's text cannot), astral ones included
CHARS = st.characters(min_codepoint=1, max_codepoint=0x10FFFF, blacklist_categories=("Cs",))


def _spellings(c: str) -> st.SearchStrategy[str]:
    """Every way an escape string can spell ``c``."""
    code = ord(c)
    ways = [f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}", f"\\U{code:08X}"]
    if code >= 0x10000:  # a UTF-16 surrogate pair
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        ways.append(f"\\u{high:04x}\\u{low:04X}")
    encoded = c.encode()
    ways.append("".join(f"\\x{b:02x}" for b in encoded))
    ways.append("".join(f"\\{b:03o}" for b in encoded))
    if c == "'":
        ways += ["''", "\\'"]
    elif c == "\\":
        ways.append("\\\\")
    else:
        ways.append(c)
        if not c.isalnum() or not c.isascii():
            ways.append("\\" + c)  # any other character after a backslash stands for itself
    ways += {"\n": ["\\n"], "\t": ["\\t"], "\r": ["\\r"], "\b": ["\\b"], "\f": ["\\f"]}.get(c, [])
    return st.sampled_from(ways)


@st.composite
def _escaped(draw: st.DrawFn) -> tuple[str, str]:
    """A text and one way of writing it as an escape string's body (numeric escapes use all their digits, so a
    following digit is never read into them)."""
    text = draw(st.text(CHARS, max_size=12))
    return text, "".join(draw(_spellings(c)) for c in text)


def _value(sql: str) -> str:
    node = parse_one(sql).node
    assert isinstance(node, exp.Select)
    literal = node.expressions[0]
    assert isinstance(literal, exp.Literal) and literal.is_string
    return literal.this


@settings(max_examples=300, deadline=None)
@given(case=_escaped())
def test_every_spelling_of_a_string_decodes_back_to_it(case: tuple[str, str]) -> None:
    text, body = case
    assert decode_escape_string(body) == text
    assert _value(f"SELECT E'{body}'") == text
    assert _value(f"SELECT e'{body}'") == text


@st.composite
def _unicode_escaped(draw: st.DrawFn) -> tuple[str, str, str]:
    """A text, an escape character and one way of writing the text as a ``U&'...'`` body with it."""
    text = draw(st.text(CHARS, max_size=10))
    escape = draw(st.sampled_from(["\\", "!", "#"]))
    body = ""
    for c in text:
        code = ord(c)
        ways = [f"{escape}+{code:06X}"]
        if code <= 0xFFFF:
            ways.append(f"{escape}{code:04x}")
        else:
            high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
            ways.append(f"{escape}{high:04X}{escape}{low:04x}")
        ways.append(escape * 2 if c == escape else ("''" if c == "'" else c))
        body += draw(st.sampled_from(ways))
    return text, escape, body


@settings(max_examples=200, deadline=None)
@given(case=_unicode_escaped())
def test_every_unicode_escape_spelling_decodes_back(case: tuple[str, str, str]) -> None:
    text, escape, body = case
    clause = "" if escape == "\\" else f" UESCAPE '{escape}'"
    assert _value(f"SELECT U&'{body}'{clause}") == text


@settings(max_examples=200, deadline=None)
@given(text=st.text(CHARS, max_size=20), tag=st.sampled_from(["", "t", "_x1", "TAG"]))
def test_dollar_quotes_keep_their_body_verbatim(text: str, tag: str) -> None:
    quote = f"${tag}$"
    if quote in text or text.endswith("$"):
        return
    assert _value(f"SELECT {quote}{text}{quote}") == text


def test_parameters_stay_parameters_next_to_new_literals() -> None:
    node = parse_one("SELECT $1, E'\\x41', $$a$1$$, $2::int, $t$b$t$").node
    assert isinstance(node, exp.Select)
    kinds = [type(e).__name__ for e in node.expressions]
    assert kinds == ["Parameter", "Literal", "Literal", "Cast", "Literal"]
    assert [e.this for e in node.expressions if isinstance(e, exp.Literal)] == ["A", "a$1", "b"]


def test_a_constant_continues_on_the_next_line_in_its_own_mode() -> None:
    assert _value("SELECT 'a'\n  'b' -- c\n\n'c''d'") == "abc'd"
    assert _value("SELECT E'\\t'\n'\\x41'") == "\tA"  # the continuation of an escape string is one too
    assert _value("SELECT 'a\\'\n'\\n'") == "a\\\\n"  # and of a standard string a standard string


@pytest.mark.parametrize(("sql", "sqlstate", "message", "position"), [
    ("SELECT 'a' 'b'", "42601", "syntax error at or near \"'b'\"", 12),
    ("SELECT 'a'\n$$b$$", "42601", 'syntax error at or near "$$b$$"', 12),
    ("SELECT $$a$$\n'b'", "42601", "syntax error at or near \"'b'\"", 14),
    ("SELECT E'\\xff'", "22021", 'invalid byte sequence for encoding "UTF8": 0xff', None),
    ("SELECT E'\\0'", "22021", 'invalid byte sequence for encoding "UTF8": 0x00', None),
    ("SELECT E'\\xc3('", "22021", 'invalid byte sequence for encoding "UTF8": 0xc3 0x28', None),
    ("SELECT E'\\ud800'", "42601", "invalid Unicode surrogate pair at or near \"'\"", 16),
    ("SELECT E'\\ude00'", "42601", 'invalid Unicode surrogate pair at or near "\\ude00"', 10),
    ("SELECT E'\\u00'", "22025", "invalid Unicode escape", 10),
    ("SELECT E'\\U00110000'", "42601", 'invalid Unicode escape value at or near "\\U00110000"', 10),
    ("SELECT E'abc\\'", "42601", "unterminated quoted string at or near \"E'abc\\'\"", 8),
    ("SELECT 1 AS $$", "42601", 'unterminated dollar-quoted string at or near "$$"', 13),
    ("SELECT U&'abc", "42601", "unterminated quoted string at or near \"U&'abc\"", 8),
    ("SELECT U&'\\00'", "42601", "invalid Unicode escape", 11),
    ("SELECT U&'\\D83Dx'", "42601", "invalid Unicode surrogate pair", 16),
    ("SELECT U&'a' UESCAPE '+'", "42601", "invalid Unicode escape character at or near \"'+'\"", 22),
])
def test_refused_constants_are_postgresqls_errors(sql: str, sqlstate: str, message: str, position: int | None
                                                  ) -> None:
    with pytest.raises(errors.SteadyError) as caught:
        parse_one(sql)
    assert (caught.value.sqlstate, str(caught.value), getattr(caught.value, "position", None)) == (
        sqlstate, message, position)


def test_the_proxy_splits_statements_around_escape_strings() -> None:
    assert split_statements("SELECT E'a\\';b'; SELECT 'x'';y'; SELECT nameE'q;'; SET x = e'z'") == [
        "SELECT E'a\\';b'", "SELECT 'x'';y'", "SELECT nameE'q;'", "SET x = e'z'"]
