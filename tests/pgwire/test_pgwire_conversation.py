"""The protocol conversation driven with raw bytes, no sockets and no event loop: client bytes in, server messages out.

Client messages are built here by hand (independently of pgwire's encoders) and server output is cut into
``(type, body)`` frames and decoded by the small helpers below.  The conversation's effects are performed
against the fake backend by :func:`pgwire_fakes.run_without_loop`.
"""

from __future__ import annotations

import struct

from pgwire_fakes import FakeBackend, run_without_loop


# ---------------------------------------------------------------- client side helpers


def msg(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def cstr(text: str) -> bytes:
    return text.encode() + b"\x00"


def startup(user: str = "u", **params: str) -> bytes:
    body = struct.pack("!i", 196608) + cstr("user") + cstr(user)
    for name, value in params.items():
        body += cstr(name) + cstr(value)
    body += b"\x00"
    return struct.pack("!i", len(body) + 4) + body


SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def query(sql: str) -> bytes:
    return msg(b"Q", cstr(sql))


def parse(sql: str, oids: list[int] = (), name: str = "") -> bytes:  # type: ignore[assignment]
    return msg(b"P", cstr(name) + cstr(sql) + struct.pack("!h", len(oids)) + b"".join(struct.pack("!I", o) for o in oids))


def bind(params: list[bytes | None], formats: list[int] = (), result_formats: list[int] = (),  # type: ignore[assignment]
         portal: str = "", statement: str = "") -> bytes:
    body = cstr(portal) + cstr(statement) + struct.pack("!h", len(formats)) + b"".join(struct.pack("!h", f) for f in formats)
    body += struct.pack("!h", len(params))
    for param in params:
        body += struct.pack("!i", -1) if param is None else struct.pack("!i", len(param)) + param
    body += struct.pack("!h", len(result_formats)) + b"".join(struct.pack("!h", f) for f in result_formats)
    return msg(b"B", body)


def describe(kind: str, name: str = "") -> bytes:
    return msg(b"D", kind.encode() + cstr(name))


def execute(portal: str = "", max_rows: int = 0) -> bytes:
    return msg(b"E", cstr(portal) + struct.pack("!i", max_rows))


SYNC = msg(b"S")
TERMINATE = msg(b"X")


def copy_data(data: bytes) -> bytes:
    return msg(b"d", data)


COPY_DONE = msg(b"c")


# ---------------------------------------------------------------- server side helpers


def frames(data: bytes) -> list[tuple[bytes, bytes]]:
    out = []
    position = 0
    if data[:1] == b"N":  # the unframed reply to SSLRequest
        out.append((b"N", b""))
        position = 1
    while position < len(data):
        kind = data[position : position + 1]
        (length,) = struct.unpack_from("!i", data, position + 1)
        out.append((kind, data[position + 5 : position + 1 + length]))
        position += 1 + length
    return out


def error_fields(body: bytes) -> dict[str, str]:
    fields = {}
    for part in body.split(b"\x00"):
        if part:
            fields[part[:1].decode()] = part[1:].decode()
    return fields


def data_row(body: bytes) -> list[bytes | None]:
    (count,) = struct.unpack_from("!h", body)
    position, values = 2, []
    for _ in range(count):
        (size,) = struct.unpack_from("!i", body, position)
        position += 4
        if size < 0:
            values.append(None)
        else:
            values.append(body[position : position + size])
            position += size
    return values


def converse(chunks: list[bytes], backend: FakeBackend | None = None) -> tuple[list[tuple[bytes, bytes]], FakeBackend]:
    backend = backend or FakeBackend()
    output, _ = run_without_loop(chunks, backend)
    return frames(output), backend


def kinds(output: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(kind for kind, _ in output)


def after_startup(output: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    first_ready = next(i for i, (kind, _) in enumerate(output) if kind == b"Z")
    return output[first_ready + 1 :]


# ---------------------------------------------------------------- tests


def test_ssl_refused_then_startup_handshake() -> None:
    output, backend = converse([SSL_REQUEST, startup(application_name="app"), TERMINATE])
    assert kinds(output) == b"NR" + b"S" * (kinds(output).count(b"S")) + b"KZ"
    assert output[1] == (b"R", struct.pack("!i", 0))
    status = dict(tuple(body.rstrip(b"\x00").decode().split("\x00")) for kind, body in output if kind == b"S")
    assert status["server_version"] == "15.0 (steadystate)"
    assert status["DateStyle"] == "ISO, MDY" and status["TimeZone"] == "UTC"
    assert status["integer_datetimes"] == "on" and status["standard_conforming_strings"] == "on"
    assert status["application_name"] == "app" and status["cluster"] == "quickstart"
    pid, key = struct.unpack("!II", output[-2][1])
    assert pid >= 100 and key == 4_000_000_000 + pid
    assert output[-1] == (b"Z", b"I")
    assert backend.state.closed_sessions == 1


def test_startup_split_into_single_bytes() -> None:
    data = startup() + query("SELECT 1") + TERMINATE
    output, _ = converse([data[i : i + 1] for i in range(len(data))])
    assert kinds(after_startup(output)) == b"TDCZ"


def test_wrong_protocol_version_is_fatal() -> None:
    body = struct.pack("!i", 2 << 16) + b"user\x00u\x00\x00"
    output, backend = converse([struct.pack("!i", len(body) + 4) + body])
    assert kinds(output) == b"E"
    fields = error_fields(output[0][1])
    assert fields["S"] == "FATAL" and fields["C"] == "0A000"
    assert backend.state.closed_sessions == 0


def test_simple_query_error_in_the_middle_skips_the_rest() -> None:
    output, backend = converse([startup(), query(
        "INSERT INTO t VALUES (1, 'a'); SELECT fail; INSERT INTO t VALUES (2, 'b')"), TERMINATE])
    rest = after_startup(output)
    assert kinds(rest) == b"CEZ"
    assert rest[0][1] == b"INSERT 0 1\x00"
    fields = error_fields(rest[1][1])
    assert (fields["S"], fields["V"], fields["C"]) == ("ERROR", "ERROR", "42703")
    assert fields["M"] == 'column "fail" does not exist' and fields["H"] == "check the spelling"
    assert backend.state.rows == [(1, "a")]


def test_rows_notices_transaction_status_and_empty_query() -> None:
    output, _ = converse([startup(), query("BEGIN; NOTICE careful; SELECT generate 3"), query(" ; "),
                          query("COMMIT"), TERMINATE])
    rest = after_startup(output)
    assert kinds(rest) == b"CNCTDDDCZ" + b"IZ" + b"CZ"
    assert error_fields(rest[1][1])["M"] == "careful"
    assert [data_row(body) for kind, body in rest if kind == b"D"] == [[b"0"], [b"1"], [b"2"]]
    assert rest[7][1] == b"SELECT 3\x00"
    assert rest[8][1] == b"T" and rest[10][1] == b"T" and rest[12][1] == b"I"


def test_internal_error_keeps_connection() -> None:
    output, _ = converse([startup(), query("SELECT boom"), query("SELECT 1"), TERMINATE])
    rest = after_startup(output)
    assert kinds(rest) == b"EZTDCZ"
    fields = error_fields(rest[0][1])
    assert fields["C"] == "XX000" and fields["M"].startswith("internal error")


def test_extended_binary_params_and_results() -> None:
    params = [struct.pack("!i", -7), struct.pack("!d", 2.5), b"text", None]
    output, backend = converse([
        startup(),
        parse("SELECT $1, $2, $3, $4", [23, 701, 0, 0]),
        describe("S"),
        bind(params, formats=[1, 1, 0, 0], result_formats=[1]),
        describe("P"),
        execute(),
        SYNC,
        TERMINATE,
    ])
    rest = after_startup(output)
    assert kinds(rest) == b"1tT2TDCZ"
    assert rest[1][1] == struct.pack("!hIIII", 4, 23, 701, 25, 25)
    _, params_seen, oids = backend.state.executed[-1]
    assert params_seen == [-7, 2.5, "text", None] and oids == [23, 701, 25, 25]
    values = data_row(rest[5][1])
    assert struct.unpack("!i", values[0])[0] == -7 and struct.unpack("!d", values[1])[0] == 2.5
    assert values[2:] == [b"text", None]
    # the portal's RowDescription announces binary format codes
    assert rest[4][1].endswith(struct.pack("!h", 1))
    assert rest[6][1] == b"SELECT 1\x00" and rest[7][1] == b"I"


def test_portal_suspension_and_resume() -> None:
    output, _ = converse([
        startup(), parse("SELECT generate 5", name="gen"), bind([], statement="gen", portal="p"),
        execute("p", 2), execute("p", 2), execute("p", 2), SYNC, TERMINATE,
    ])
    rest = after_startup(output)
    assert kinds(rest) == b"12DDsDDsDCZ"
    assert [data_row(body)[0] for kind, body in rest if kind == b"D"] == [b"0", b"1", b"2", b"3", b"4"]
    assert rest[-2][1] == b"SELECT 5\x00"


def test_async_rows_portal_suspension() -> None:
    output, backend = converse([
        startup(), parse("SELECT generate 3 async"), bind([]), execute("", 2), execute("", 0), SYNC, TERMINATE,
    ])
    assert kinds(after_startup(output)) == b"12DDsDCZ"
    assert backend.state.closed_iterators == 1


def test_error_discards_until_sync() -> None:
    output, _ = converse([
        startup(),
        parse("SELECT fail"), bind([]), describe("P"), execute(), SYNC,
        parse("SELECT 1"), bind([]), execute(), SYNC,
        TERMINATE,
    ])
    rest = after_startup(output)
    assert kinds(rest) == b"EZ12DCZ"
    assert error_fields(rest[0][1])["C"] == "42703"


def test_bind_errors() -> None:
    output, _ = converse([
        startup(), bind([], statement="nope"), SYNC,
        parse("SELECT $1", [23]), bind([b"1", b"2"]), SYNC,
        parse("SELECT $1", [23]), bind([b"x"]), SYNC,
        TERMINATE,
    ])
    errors = [error_fields(body)["C"] for kind, body in after_startup(output) if kind == b"E"]
    assert errors == ["26000", "08P01", "22P02"]


def test_close_statement_and_portal() -> None:
    output, _ = converse([
        startup(), parse("SELECT 1", name="s"), msg(b"C", b"Ss\x00"), bind([], statement="s"), SYNC, TERMINATE,
    ])
    rest = after_startup(output)
    assert kinds(rest) == b"13EZ"
    assert error_fields(rest[2][1])["C"] == "26000"


def test_copy_in_text_split_across_chunks() -> None:
    payload = "1\tone\n2\t\\N\n3\ttab\\there é\n4\tback\\\\slash\n".encode()
    chunks = [copy_data(payload[i : i + 3]) for i in range(0, len(payload), 3)]
    output, backend = converse([startup(), query("COPY t FROM STDIN"), *chunks, COPY_DONE, TERMINATE])
    rest = after_startup(output)
    assert kinds(rest) == b"GCZ"
    assert rest[1][1] == b"COPY 4\x00"
    assert backend.state.copied == [("1", "one"), ("2", None), ("3", "tab\there é"), ("4", "back\\slash")]


def test_copy_in_csv_split_across_chunks_with_header() -> None:
    payload = b'a,b\n1,"x,""quoted"""\n2,\n3,""\n4,"two\nlines"\n5,last'
    chunks = [copy_data(payload[i : i + 2]) for i in range(0, len(payload), 2)]
    output, backend = converse([startup(), query("COPY t FROM STDIN WITH (FORMAT CSV, HEADER)"), *chunks,
                                COPY_DONE, TERMINATE])
    assert kinds(after_startup(output)) == b"GCZ"
    assert backend.state.copied == [("1", 'x,"quoted"'), ("2", None), ("3", ""), ("4", "two\nlines"), ("5", "last")]


def test_copy_in_large_batches() -> None:
    payload = b"".join(b"%d\tv\n" % i for i in range(25_000))
    output, backend = converse([startup(), query("COPY t FROM STDIN"), copy_data(payload[:100_001]),
                                copy_data(payload[100_001:]), copy_data(b"\\.\n"), COPY_DONE, TERMINATE])
    assert after_startup(output)[1][1] == b"COPY 25000\x00"
    assert sum(backend.state.copy_batches) == 25_000 and len(backend.state.copy_batches) <= 3


def test_copy_fail_and_bad_data() -> None:
    output, backend = converse([
        startup(),
        query("COPY t FROM STDIN"), copy_data(b"1\tx\n"), msg(b"f", cstr("client gave up")),
        query("COPY t FROM STDIN"), copy_data(b"1\tx\ty\n"), copy_data(b"2\tz\n"), COPY_DONE,
        query("SELECT 1"), TERMINATE,
    ])
    rest = after_startup(output)
    assert kinds(rest) == b"GEZGEZTDCZ"
    assert error_fields(rest[1][1])["C"] == "57014"
    assert error_fields(rest[4][1])["C"] == "22P04"
    assert len(backend.state.aborted) == 2


def test_copy_out_tag() -> None:
    backend = FakeBackend()
    backend.state.rows[:] = [(1, "a\\b"), (None, "x\ny")]
    output, _ = converse([startup(), query("COPY t TO STDOUT"), TERMINATE], backend)
    rest = after_startup(output)
    assert kinds(rest) == b"HddcCZ"
    assert [body for kind, body in rest if kind == b"d"] == [b"1\ta\\\\b\n", b"\\N\tx\\ny\n"]
    assert rest[4][1] == b"COPY 2\x00"


def test_garbage_after_startup_is_fatal_and_closes_session() -> None:
    output, backend = converse([startup(), b"\x01\x02\x03\x04\x05garbage"])
    rest = after_startup(output)
    assert kinds(rest) == b"E"
    fields = error_fields(rest[0][1])
    assert (fields["S"], fields["C"]) == ("FATAL", "08P01")
    assert backend.state.closed_sessions == 1


def test_oversized_and_truncated_messages() -> None:
    output, backend = converse([startup(), b"Q" + struct.pack("!i", 100 * 1024 * 1024)])
    assert error_fields(after_startup(output)[0][1])["C"] == "08P01"
    output, backend = converse([startup(), query("SELECT 1")[:-3]])  # then end of stream
    assert kinds(after_startup(output)) == b""
    assert backend.state.closed_sessions == 1
    output, _ = converse([struct.pack("!i", 1 << 20)])  # startup packet too large
    assert error_fields(output[0][1])["C"] == "08P01"


def test_malformed_body_is_fatal() -> None:
    output, _ = converse([startup(), msg(b"B", b"\x00\x00\x00\x05")])
    assert error_fields(after_startup(output)[0][1])["C"] == "08P01"


def test_cancel_request_reaches_backend() -> None:
    output, backend = converse([struct.pack("!iiII", 16, 80877102, 123, 4_000_000_123)])
    assert output == [] and backend.state.cancels == [(123, 4_000_000_123)]


def test_rejected_login() -> None:
    output, _ = converse([startup(user="nobody")])
    assert kinds(output) == b"E"
    assert error_fields(output[0][1])["S"] == "FATAL"




def test_a_session_that_asks_gets_its_row_runs_announced_by_bulk_frames() -> None:
    """``steadystate_bulk=on`` (what the proxy sends): every run of DataRows comes after a ``~`` frame giving its
    byte count; the proxy's splitter, dropping the frames, passes on exactly what a session without it gets."""
    from steadystate.pgwire.proxy_rules import Splitter

    plain, _ = run_without_loop([startup() + query("SELECT generate 5000")], FakeBackend())
    announced, _ = run_without_loop([startup(steadystate_bulk="on") + query("SELECT generate 5000")], FakeBackend())
    assert b"~" not in kinds(frames(plain))
    cut = frames(announced)
    bulk = [i for i, (kind, _) in enumerate(cut) if kind == b"~"]
    assert bulk
    for i in bulk:  # each frame counts the whole DataRows that follow it
        (size,) = struct.unpack("!i", cut[i][1])
        following = 0
        for kind, body in cut[i + 1:]:
            if following == size:
                break
            assert kind == b"D"
            following += 5 + len(body)
        assert following == size
    passed_on = b"".join(raw for _, raw in Splitter(frozenset({b"Z"}), bulk=True).feed(announced))
    assert after_startup(frames(passed_on)) == after_startup(frames(plain))  # (the cancel key differs)
    assert len(passed_on) == len(plain)
