"""PostgreSQL's string constants beyond ``'...'``: escape strings ``E'...'``, ``U&'...' [UESCAPE 'c']``, dollar
quoting ``$tag$...$tag$``, and constants continued on the next line.

sqlglot's PostgreSQL tokenizer recognises them (``BYTE_STRING``, ``UNICODE_STRING``, ``HEREDOC_STRING`` tokens) and
finds where each ends (``\\'`` and ``''`` inside ``E'...'``, the closing tag of a dollar quote), but it decodes
``E'...'`` only approximately (``E'\\xff'`` gives ``ÿ``, a lone surrogate ``\\ud800`` gives ``ud800``), joins any two
adjacent constants, and the parser turns these tokens into nodes the planner does not know.  :func:`string_tokens`
rewrites the token list the steadystate tokenizer returns (``sql/dialect.py``): each constant is decoded again from
its raw text as PostgreSQL's lexer does (``src/backend/parser/scan.l``: :func:`decode_escape_string`,
:func:`decode_unicode_string`), a constant continued after whitespace holding a newline (``quotecontinue``) is
joined in its first part's mode, and the result is one ordinary ``STRING`` token, so every reader (sqlglot's parser,
the Materialize statement readers) sees a plain string literal.  Two constants side by side otherwise are a syntax
error, as in PostgreSQL.  Parameters (``$1``) are untouched: the tokenizer reads a ``$`` followed by a digit as one.

The escapes (PostgreSQL's table 4.1): ``\\b \\f \\n \\r \\t``; ``\\ooo`` (1–3 octal digits, a byte); ``\\xHH``
(1–2 hex digits, a byte); ``\\uXXXX`` and ``\\UXXXXXXXX`` (a code point, UTF-16 surrogate pairs combined); any
other character after a backslash stands for itself (``\\'``, ``\\\\``, ``\\q`` is ``q``).  The bytes must form
valid UTF-8 without NUL: else 22021 ``invalid byte sequence for encoding "UTF8": 0x..``.  A ``\\u`` without four
hex digits is 22025; an invalid code point or a broken surrogate pair is 42601, at the offending text.
"""

from __future__ import annotations

import enum
import re

from sqlglot.tokens import Token, TokenType

from steadystate import errors

_HEX = frozenset("0123456789abcdefABCDEF")
_OCTAL = frozenset("01234567")
_SIMPLE = {"b": b"\b", "f": b"\f", "n": b"\n", "r": b"\r", "t": b"\t"}


class LiteralError(Exception):
    """A string constant PostgreSQL's lexer refuses: ``position`` is a 0-based offset into the tokenized text
    (``None``: the error has no position, as PostgreSQL's encoding check has none)."""

    def __init__(self, error: errors.SteadyError, position: int | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.position = position


def _syntax(message: str, position: int) -> LiteralError:
    return LiteralError(errors.SyntaxError_(message), position)


def _near(text: str) -> str:
    return f"at or near {errors.quote_ident(text)}"


def _hex_run(body: str, start: int, limit: int) -> str:
    end = start
    while end < len(body) and end - start < limit and body[end] in _HEX:
        end += 1
    return body[start:end]


def _code_point(body: str, i: int, offset: int) -> tuple[int, int]:
    """The code point of ``\\uXXXX``/``\\UXXXXXXXX`` at ``body[i]`` (the backslash) and the index after it."""
    width = 4 if body[i + 1] == "u" else 8
    digits = _hex_run(body, i + 2, width)
    if len(digits) < width:
        raise LiteralError(errors.SteadyError("invalid Unicode escape", sqlstate="22025",
                                              hint="Unicode escapes must be \\uXXXX or \\UXXXXXXXX."), offset + i)
    return int(digits, 16), i + 2 + width


def _is_unicode_escape(body: str, i: int) -> bool:
    return i + 1 < len(body) and body[i] == "\\" and body[i + 1] in "uU"


def decode_escape_string(body: str, offset: int = 0) -> str:
    """The value of ``E'<body>'`` (``body`` as written between the quotes; ``offset`` is where it starts in the
    statement, for error positions)."""
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c == "'":  # '' inside the string (the tokenizer found the end, so quotes come in pairs here)
            out += b"'"
            i += 2
            continue
        if c != "\\" or i + 1 >= n:
            out += c.encode()
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _OCTAL:
            digits = body[i + 1:i + 4]
            digits = digits[:next((k for k, d in enumerate(digits) if d not in _OCTAL), len(digits))]
            out.append(int(digits, 8) & 0xFF)
            i += 1 + len(digits)
        elif nxt == "x" and i + 2 < n and body[i + 2] in _HEX:
            digits = _hex_run(body, i + 2, 2)
            out.append(int(digits, 16))
            i += 2 + len(digits)
        elif nxt in "uU":
            start = i
            code, i = _code_point(body, i, offset)
            if 0xDC00 <= code <= 0xDFFF:
                raise _syntax(f"invalid Unicode surrogate pair {_near(body[start:i])}", offset + start)
            if 0xD800 <= code <= 0xDBFF:  # a first half: the next thing must be the second half
                if not _is_unicode_escape(body, i):
                    near = body[i] if i < n else "'"
                    if not near.isascii():  # PostgreSQL's scanner reports the character's first byte alone (not
                        near = "\ufffd"  # UTF-8 by itself: clients show it as U+FFFD, the one we can send)
                    raise _syntax(f"invalid Unicode surrogate pair {_near(near)}", offset + i)
                second_start = i
                second, i = _code_point(body, i, offset)
                if not 0xDC00 <= second <= 0xDFFF:
                    raise _syntax(f"invalid Unicode surrogate pair {_near(body[second_start:i])}",
                                  offset + second_start)
                code = 0x10000 + ((code - 0xD800) << 10) + (second - 0xDC00)
            elif not 0 < code <= 0x10FFFF:
                raise _syntax(f"invalid Unicode escape value {_near(body[start:i])}", offset + start)
            out += chr(code).encode()
        else:
            simple = _SIMPLE.get(nxt)
            out += simple if simple is not None else nxt.encode()
            i += 2
    return _verified(bytes(out))


def _utf8_length(lead: int) -> int:
    """PostgreSQL's ``pg_utf_mblen``: how many bytes a sequence starting with ``lead`` claims."""
    if lead & 0x80 == 0:
        return 1
    if lead & 0xE0 == 0xC0:
        return 2
    if lead & 0xF0 == 0xE0:
        return 3
    if lead & 0xF8 == 0xF0:
        return 4
    return 1


def _verified(data: bytes) -> str:
    """``data`` as text, or PostgreSQL's 22021 naming the bytes of the first invalid sequence (a NUL is one)."""
    nul = data.find(b"\x00")
    try:
        text = data.decode("utf-8")
        bad = nul
    except UnicodeDecodeError as exc:
        bad = exc.start if nul < 0 else min(nul, exc.start)
        text = ""
    if bad < 0:
        return text
    length = 1 if data[bad] == 0 else min(_utf8_length(data[bad]), len(data) - bad)
    shown = " ".join(f"0x{b:02x}" for b in data[bad:bad + length])
    raise LiteralError(errors.SteadyError(f'invalid byte sequence for encoding "UTF8": {shown}', sqlstate="22021"),
                       None)


#: what may separate a string constant from its continuation: whitespace with a newline (``--`` comments allowed),
#: PostgreSQL's ``whitespace_with_newline``
_CONTINUATION = re.compile(r"(?:[ \t\f]|--[^\n\r]*)*[\n\r](?:[ \t\n\r\f]+|--[^\n\r]*[\n\r])*")


class _Kind(enum.Enum):
    PLAIN = "plain"
    ESCAPE = "escape"
    UNICODE = "unicode"
    DOLLAR = "dollar"


_TOKEN_KINDS = {TokenType.BYTE_STRING: _Kind.ESCAPE, TokenType.UNICODE_STRING: _Kind.UNICODE,
                TokenType.HEREDOC_STRING: _Kind.DOLLAR}
_PREFIX = {_Kind.PLAIN: 1, _Kind.ESCAPE: 2, _Kind.UNICODE: 3}  # ', E', U&'


def _kind(sql: str, token: Token) -> _Kind | None:
    kind = _TOKEN_KINDS.get(token.token_type)
    if kind is None and token.token_type == TokenType.STRING and sql.startswith("'", token.start):
        kind = _Kind.PLAIN
    return kind


def decode_unicode_string(body: str, escape: str = "\\", offset: int = 0) -> str:
    """The value of ``U&'<body>'`` (quotes already undoubled) with ``escape`` as its escape character, as
    PostgreSQL's ``str_udeescape``: ``<e>XXXX``, ``<e>+XXXXXX``, ``<e><e>``; errors 42601."""
    out: list[str] = []
    first: int | None = None  # the first half of a surrogate pair
    i, n = 0, len(body)
    while i < n:
        if body[i] != escape:
            if first is not None:
                raise _syntax("invalid Unicode surrogate pair", offset + i)
            out.append(body[i])
            i += 1
            continue
        if body.startswith(escape, i + 1):
            if first is not None:
                raise _syntax("invalid Unicode surrogate pair", offset + i)
            out.append(escape)
            i += 2
            continue
        if len(digits := _hex_run(body, i + 1, 4)) == 4:
            end = i + 5
        elif body.startswith("+", i + 1) and len(digits := _hex_run(body, i + 2, 6)) == 6:
            end = i + 8
        else:
            raise LiteralError(errors.SyntaxError_("invalid Unicode escape",
                                                   hint="Unicode escapes must be \\XXXX or \\+XXXXXX."), offset + i)
        code = int(digits, 16)
        if not 0 < code <= 0x10FFFF:
            raise _syntax("invalid Unicode escape value", offset + i)
        if first is not None:
            if not 0xDC00 <= code <= 0xDFFF:
                raise _syntax("invalid Unicode surrogate pair", offset + i)
            code, first = 0x10000 + ((first - 0xD800) << 10) + (code - 0xDC00), None
        elif 0xDC00 <= code <= 0xDFFF:
            raise _syntax("invalid Unicode surrogate pair", offset + i)
        elif 0xD800 <= code <= 0xDBFF:
            first = code
            i = end
            continue
        out.append(chr(code))
        i = end
    if first is not None:
        raise _syntax("invalid Unicode surrogate pair", offset + n)
    return "".join(out)


def _uescape(sql: str, tokens: list[Token], j: int) -> tuple[str, int]:
    """A ``UESCAPE 'c'`` clause at ``tokens[j]``: the escape character and the index after it (none: ``\\``)."""
    if j + 1 < len(tokens) and tokens[j].text.upper() == "UESCAPE" and _kind(sql, tokens[j + 1]) is _Kind.PLAIN:
        escape = tokens[j + 1].text
        if len(escape) != 1 or escape in "0123456789abcdefABCDEF+'\" \t\n\r\f":
            raw = sql[tokens[j + 1].start:tokens[j + 1].end + 1]
            raise _syntax(f"invalid Unicode escape character {_near(raw)}", tokens[j + 1].start)
        return escape, j + 2
    return "\\", j


def _body(sql: str, token: Token, kind: _Kind) -> str:
    return sql[token.start + _PREFIX[kind]:token.end]


def string_tokens(sql: str, tokens: list[Token]) -> list[Token]:
    """``tokens`` with every string constant made one plain ``STRING`` token: escape strings and ``U&'...'`` decoded
    (PostgreSQL's lexer), dollar quotes as written, a constant continued after a newline (``'a'\n'b'``, in the first
    part's mode: ``E'a'\n'\n'`` escapes both) joined, ``UESCAPE 'c'`` applied; two string constants side by side
    otherwise are PostgreSQL's syntax error (sqlglot would join them)."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        kind = _kind(sql, token)
        if kind is None:
            out.append(token)
            i += 1
            continue
        parts, j = [token], i + 1
        while kind is not _Kind.DOLLAR and j < len(tokens) and _kind(sql, tokens[j]) is _Kind.PLAIN \
                and _CONTINUATION.fullmatch(sql, parts[-1].end + 1, tokens[j].start):
            parts.append(tokens[j])
            j += 1
        if kind is _Kind.DOLLAR:
            text = token.text
        elif kind is _Kind.ESCAPE:
            text = "".join(decode_escape_string(_body(sql, p, kind if p is token else _Kind.PLAIN),
                                                p.start + (2 if p is token else 1)) for p in parts)
        elif kind is _Kind.UNICODE:
            escape, j = _uescape(sql, tokens, j)
            body = "".join(_body(sql, p, kind if p is token else _Kind.PLAIN).replace("''", "'") for p in parts)
            text = decode_unicode_string(body, escape, token.start + 3)
        else:
            text = "".join(p.text for p in parts)
        if j < len(tokens) and _kind(sql, tokens[j]) is not None:
            raw = sql[tokens[j].start:tokens[j].end + 1]
            raise _syntax(f"syntax error {_near(raw)}", tokens[j].start)
        end = tokens[j - 1].end
        out.append(Token(TokenType.STRING, text, token.line, token.col, token.start, end, token.comments))
        i = j
    return out


__all__ = ["LiteralError", "decode_escape_string", "decode_unicode_string", "string_tokens"]
