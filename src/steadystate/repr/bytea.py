"""The ``bytea`` and ``uuid`` datums' text forms, as PostgreSQL's input and output functions read and write them.

* ``bytea`` is a Python ``bytes``. Output is PostgreSQL's default ``bytea_output = hex``: ``\\x`` and two
  lowercase hex digits a byte. Input (:func:`parse_bytea`) is ``byteain``'s: the hex form (whitespace allowed
  between digit pairs; an odd digit count or a non-hex digit is 22023) or the escape form (``\\\\`` is a
  backslash, ``\\ooo`` an octal byte, any other character its UTF-8 bytes; another backslash is 22P02). The binary
  wire form is the bytes themselves. Orders bytewise, as PostgreSQL's ``byteacmp``.
* ``uuid`` is a ``uuid.UUID`` (ordered by its 128-bit value, which is PostgreSQL's ``memcmp`` order). Input
  (:func:`parse_uuid`) is ``string_to_uuid``'s: 32 hex digits, a hyphen allowed after any group of four, the whole
  optionally in braces, nothing else (no surrounding spaces); output is the lowercase 8-4-4-4-12 form; binary is
  the 16 bytes.
"""

from __future__ import annotations

import re
import uuid

from steadystate import errors

BYTEA_OID = 17
UUID_OID = 2950

_HEX_SPACE = " \t\n\r"


def bytea_text(value: bytes) -> str:
    """``byteaout`` in hex format."""
    return "\\x" + value.hex()


def _bad_bytea() -> errors.SteadyError:
    return errors.InvalidTextRepresentation("invalid input syntax for type bytea")


def parse_bytea(text: str) -> bytes:
    """``byteain``."""
    if text.startswith("\\x"):
        return _hex_decode(text[2:])
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        if text[i + 1:i + 2] == "\\":
            out.append(0x5C)
            i += 2
            continue
        octal = text[i + 1:i + 4]
        if len(octal) == 3 and octal[0] in "0123" and all(c in "01234567" for c in octal):
            out.append(int(octal, 8))
            i += 4
            continue
        raise _bad_bytea()
    return bytes(out)


def _hex_decode(digits: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(digits):
        if digits[i] in _HEX_SPACE:
            i += 1
            continue
        high = digits[i]
        if high not in "0123456789abcdefABCDEF":
            raise errors.InvalidParameterValue(f'invalid hexadecimal digit: "{high}"')
        if i + 1 >= len(digits):
            raise errors.InvalidParameterValue("invalid hexadecimal data: odd number of digits")
        low = digits[i + 1]
        if low not in "0123456789abcdefABCDEF":
            raise errors.InvalidParameterValue(f'invalid hexadecimal digit: "{low}"')
        out.append(int(high + low, 16))
        i += 2
    return bytes(out)


_UUID_RE = re.compile(r"(\{)?((?:[0-9a-fA-F]{4}-?){7}[0-9a-fA-F]{4})(\})?")


def parse_uuid(text: str) -> uuid.UUID:
    """``uuid_in``."""
    match = _UUID_RE.fullmatch(text)
    if match is None or bool(match.group(1)) != bool(match.group(3)):
        raise errors.InvalidTextRepresentation(f'invalid input syntax for type uuid: "{text}"')
    return uuid.UUID(hex=match.group(2).replace("-", ""))


def uuid_text(value: uuid.UUID) -> str:
    return str(value)
