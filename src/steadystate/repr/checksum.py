"""Checksums on what is stored: every shard batch and every catalog record carries a CRC-32 of its bytes,
verified on every read, so a corrupted byte is a clear error (XX001 ``data_corrupted``, naming what is corrupt)
and never a wrong answer.

Format: ``MAGIC (4 bytes) + CRC-32 of the payload (4 bytes, little-endian) + payload``.  ``MAGIC`` starts with
0xc2, which begins neither a msgpack array or map (what batches and records are) nor a columnar batch (0xc1), and
the 8-byte header keeps a columnar batch's Arrow stream aligned; a header with any one byte damaged is recognized as
damaged.  Bytes without the header were stored by a release before checksums and are read as they are (they cannot
be verified; a decoding failure is still reported as corruption by the readers).
"""

from __future__ import annotations

import struct
import zlib

from steadystate.errors import DataCorrupted

MAGIC = b"\xc2SSK"
_CRC = struct.Struct("<I")
HEADER = len(MAGIC) + _CRC.size


def seal(payload: bytes) -> bytes:
    """``payload`` with its checksum header."""
    return MAGIC + _CRC.pack(zlib.crc32(payload)) + payload


def unseal(blob: bytes, what: str) -> bytes:
    """The payload of a sealed ``blob`` (verified), or an unsealed one as it is; ``what`` names it in the error."""
    payload = unseal_view(blob, what)
    return payload if isinstance(payload, bytes) else bytes(payload)


def unseal_view(blob: bytes, what: str) -> bytes | memoryview:
    """:func:`unseal` without copying the payload: a view into ``blob`` (a snapshot's batches, held at a
    hydration's peak, are not held twice)."""
    if blob[: len(MAGIC)] != MAGIC:
        if blob[:1] == MAGIC[:1] or blob[1 : len(MAGIC)] == MAGIC[1:]:  # a damaged header, not an older blob
            raise DataCorrupted(f"{what} is corrupted: its checksum header is damaged")
        return blob
    (expected,) = _CRC.unpack_from(blob, len(MAGIC))
    payload = memoryview(blob)[HEADER:]
    if zlib.crc32(payload) != expected:
        raise DataCorrupted(f"{what} is corrupted: its checksum does not match its contents",
                            hint="restore the data directory or the storage database from a backup; the corrupt "
                                 "data is not read")
    return payload
