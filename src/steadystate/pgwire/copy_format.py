"""COPY data formats: incremental parsers for ``COPY FROM STDIN`` and the row encoder for ``TO STDOUT``.

Sans-I/O.  A parser is fed CopyData payloads as they arrive (rows and even UTF-8 characters may be
split across payloads) and returns the complete rows found so far as tuples of ``str | None``.
:meth:`CopyParser.finish` handles the last, unterminated line.  The ``\\.`` end-of-data marker ends
parsing; anything after it is ignored.

Speed matters (a million rows in seconds): payloads are cut at their last newline, decoded once, and
split with ``str.split``; only lines containing a backslash (text format) or a quote character (CSV)
take the slower exact path (a regex tokenizer for text, a small state machine for CSV).
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from steadystate.errors import SteadyError

BAD_COPY_FORMAT = "22P04"

Row = tuple[str | None, ...]

_TEXT_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_TEXT_TOKEN = re.compile(r"(\\(?:[0-7]{1,3}|x[0-9A-Fa-f]{1,2}|.|$))", re.DOTALL)


class CopyParser:
    """Common machinery: byte buffering, line cutting, column-count checks and the end marker."""

    def __init__(self, columns: int, delimiter: str, null: str, header: bool) -> None:
        if len(delimiter) != 1:
            raise SteadyError("COPY delimiter must be a single one-byte character", sqlstate="0A000")
        self.columns = columns
        self.delimiter = delimiter
        self.null = null
        self.skip_header = header
        self.ended = False
        self.line_number = 0
        self._pending = b""
        self._rows_out: list[Row] = []

    def feed(self, data: bytes) -> list[Row]:
        """Rows completed by this payload."""
        if self.ended:
            return []
        buffer = self._pending + data if self._pending else data
        cut = buffer.rfind(b"\n")
        if cut < 0:
            self._pending = buffer
            return []
        text = self._decode(buffer[: cut + 1])
        rest = self._parse_text(text, final=False)
        self._pending = rest.encode() + buffer[cut + 1 :] if rest else buffer[cut + 1 :]
        return self._rows_out

    def finish(self) -> list[Row]:
        """Rows in the data left over at CopyDone (a last line without a newline)."""
        if self.ended or not self._pending:
            return []
        text = self._decode(self._pending)
        self._pending = b""
        rest = self._parse_text(text + "\n", final=True)
        if rest:
            raise self._error("unterminated CSV quoted field")
        return self._rows_out

    def _decode(self, data: bytes) -> str:
        try:
            return data.decode()
        except UnicodeDecodeError as exc:
            raise SteadyError(
                f'invalid byte sequence for encoding "UTF8": 0x{data[exc.start]:02x}', sqlstate="22021"
            ) from None

    def _parse_text(self, text: str, *, final: bool) -> str:
        raise NotImplementedError

    def _check(self, fields: Sequence[str | None]) -> None:
        if len(fields) != self.columns:
            if len(fields) > self.columns:
                raise self._error("extra data after last expected column")
            raise self._error(f"missing data for column {len(fields) + 1}")

    def _error(self, message: str) -> SteadyError:
        return SteadyError(message, sqlstate=BAD_COPY_FORMAT, detail=f"COPY line {self.line_number}")


class TextCopyParser(CopyParser):
    """PostgreSQL's text format: delimiter-separated, ``\\N`` for NULL, backslash escapes."""

    def _parse_text(self, text: str, *, final: bool) -> str:
        lines = text.split("\n")
        lines.pop()  # text ends with "\n"
        rows: list[Row] = []
        delimiter, null, columns = self.delimiter, self.null, self.columns
        null_needs_check = "\\" not in null
        for line in lines:
            self.line_number += 1
            if self.skip_header:
                self.skip_header = False
                continue
            if line.endswith("\r"):
                line = line[:-1]
            if "\\" in line:
                if line == "\\.":
                    self.ended = True
                    break
                fields = self._split_escaped(line)
            else:
                fields = list[str | None](line.split(delimiter))
                if null_needs_check:
                    fields = [None if f == null else f for f in fields]
            if len(fields) != columns:
                self._check(fields)
            rows.append(tuple(fields))
        self._rows_out = rows
        return ""

    def _split_escaped(self, line: str) -> list[str | None]:
        fields: list[str | None] = []
        raw: list[str] = []
        cooked: list[str] = []
        for index, token in enumerate(_TEXT_TOKEN.split(line)):
            if index % 2 == 0:  # plain text: may hold delimiters
                pieces = token.split(self.delimiter)
                for piece_index, piece in enumerate(pieces):
                    if piece_index:
                        fields.append(self._field(raw, cooked))
                        raw, cooked = [], []
                    raw.append(piece)
                    cooked.append(piece)
            else:
                raw.append(token)
                cooked.append(_unescape(token))
        fields.append(self._field(raw, cooked))
        return fields

    def _field(self, raw: list[str], cooked: list[str]) -> str | None:
        raw_text = "".join(raw)
        return None if raw_text == self.null else "".join(cooked)


def _unescape(token: str) -> str:
    body = token[1:]
    if not body:
        return ""
    if body[0] in "01234567":
        return chr(int(body, 8) & 0xFF)
    if body[0] == "x" and len(body) > 1:
        return chr(int(body[1:], 16))
    return _TEXT_ESCAPES.get(body, body)


class CsvCopyParser(CopyParser):
    """PostgreSQL's CSV format: quoted fields, doubled quotes, NULL is an *unquoted* empty field."""

    def __init__(self, columns: int, delimiter: str, null: str, header: bool, quote: str = '"', escape: str = '"') -> None:
        super().__init__(columns, delimiter, null, header)
        if len(quote) != 1 or len(escape) != 1:
            raise SteadyError("COPY quote and escape must be single one-byte characters", sqlstate="0A000")
        if quote == delimiter:
            raise SteadyError("COPY delimiter and quote must be different", sqlstate="22023")
        self.quote = quote
        self.escape = escape

    def _parse_text(self, text: str, *, final: bool) -> str:
        if self.quote not in text:
            return self._parse_unquoted(text)
        rows: list[Row] = []
        delimiter, null, quote, columns = self.delimiter, self.null, self.quote, self.columns
        position = 0
        end = len(text)
        while position < end:
            newline = text.index("\n", position)
            line = text[position:newline]
            if quote in line:
                parsed = self._parse_quoted(text, position)
                if parsed is None:  # a quoted field runs past the data we have
                    self._rows_out = rows
                    return text[position:]
                fields, record_end = parsed
                self.line_number += text.count("\n", position, record_end)
                position = record_end
            else:
                position = newline + 1
                self.line_number += 1
                if line.endswith("\r"):
                    line = line[:-1]
                if line == "\\.":
                    self.ended = True
                    break
                fields = [None if f == null else f for f in line.split(delimiter)]
            if self.skip_header:
                self.skip_header = False
                continue
            if len(fields) != columns:
                self._check(fields)
            rows.append(tuple(fields))
        self._rows_out = rows
        return ""

    def _parse_unquoted(self, text: str) -> str:
        """Fast path for data without any quote character: plain splits."""
        lines = text.split("\n")
        lines.pop()  # text ends with "\n"
        rows: list[Row] = []
        delimiter, null, columns = self.delimiter, self.null, self.columns
        for line in lines:
            self.line_number += 1
            if line.endswith("\r"):
                line = line[:-1]
            if line == "\\.":
                self.ended = True
                break
            if self.skip_header:
                self.skip_header = False
                continue
            fields = [None if f == null else f for f in line.split(delimiter)]
            if len(fields) != columns:
                self._check(fields)
            rows.append(tuple(fields))
        self._rows_out = rows
        return ""

    def _parse_quoted(self, text: str, start: int) -> tuple[list[str | None], int] | None:
        """Parse one record starting at ``start``; None if it is not complete in ``text``."""
        delimiter, quote, escape, null = self.delimiter, self.quote, self.escape, self.null
        fields: list[str | None] = []
        current: list[str] = []
        was_quoted = False
        in_quotes = False
        index = start
        end = len(text)
        while index < end:
            char = text[index]
            if in_quotes:
                following = text[index + 1] if index + 1 < end else ""
                if char == escape and (following == quote or (following == escape and escape != quote)):
                    current.append(following)
                    index += 2
                    continue
                if char == quote:
                    in_quotes = False
                else:
                    current.append(char)
                index += 1
                continue
            if char == quote:
                in_quotes = True
                was_quoted = True
            elif char == delimiter or char == "\n":
                value = "".join(current)
                if char == "\n" and not was_quoted and value.endswith("\r"):
                    value = value[:-1]
                fields.append(None if (not was_quoted and value == null) else value)
                current, was_quoted = [], False
                if char == "\n":
                    return fields, index + 1
            else:
                current.append(char)
            index += 1
        return None


def make_parser(format: str, columns: int, delimiter: str, null: str, header: bool, quote: str, escape: str) -> CopyParser:
    if format == "text":
        return TextCopyParser(columns, delimiter, null, header)
    if format == "csv":
        return CsvCopyParser(columns, delimiter, null, header, quote, escape)
    raise SteadyError(f'COPY format "{format}" not recognized', sqlstate="22023")


# ---------------------------------------------------------------- output

_TEXT_OUT_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def escape_text_field(value: str, delimiter: str = "\t") -> str:
    """One field in PostgreSQL's text COPY format (backslash escapes)."""
    escaped = value.translate(_TEXT_OUT_ESCAPES)
    if delimiter != "\t" and delimiter in escaped:
        escaped = escaped.replace(delimiter, "\\" + delimiter)
    return escaped


def encode_text_row(fields: Iterable[str | None], delimiter: str = "\t", null: str = "\\N") -> str:
    return delimiter.join(null if f is None else escape_text_field(f, delimiter) for f in fields) + "\n"


def encode_csv_field(value: str | None, delimiter: str = ",", quote: str = '"', null: str = "") -> str:
    """One field in CSV format; quoted whenever it could be misread (including as NULL or ``\\.``)."""
    if value is None:
        return null
    if (
        value == null
        or value == "\\."
        or any(c in value for c in (delimiter, quote, "\n", "\r"))
        or value[:1].isspace()
        or value[-1:].isspace()
    ):
        return quote + value.replace(quote, quote + quote) + quote
    return value


def encode_csv_row(fields: Iterable[str | None], delimiter: str = ",", quote: str = '"', null: str = "") -> str:
    return delimiter.join(encode_csv_field(f, delimiter, quote, null) for f in fields) + "\n"
