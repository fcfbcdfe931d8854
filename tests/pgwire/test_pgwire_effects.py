"""The sans-I/O conversation as a transcript: bytes and results in, bytes and adapter requests out.

No event loop, no backend: each test steps :meth:`Conversation.run` by hand with :class:`Stepper`, answers
the effects it yields (or throws the adapter's exception in), and asserts on the effects and on the bytes
of every :class:`Send`.  Bookkeeping effects (Send, TakeNotices, TransactionStatus) are answered
automatically by :meth:`Stepper.settle`.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from test_pgwire_conversation import (
    COPY_DONE,
    SSL_REQUEST,
    SYNC,
    TERMINATE,
    bind,
    copy_data,
    cstr,
    error_fields,
    execute,
    frames,
    msg,
    parse,
    query,
    startup,
)

from steadystate.adapter.client import (
    CommandOutcome,
    CopyInOutcome,
    CopyOutOutcome,
    Field,
    RowsOutcome,
)
from steadystate.errors import ErrorFields, QueryCanceled, SteadyError, UndefinedColumn
from steadystate.pgwire.conversation import Conversation
from steadystate.pgwire.effects import (
    Authenticate,
    AuthMethod,
    Credentials,
    END,
    AbortCopy,
    CancelBackend,
    ClientGone,
    CloseIterator,
    CloseSession,
    Connect,
    Describe,
    Effect,
    Execute,
    ExecuteSimple,
    FatalProtocolError,
    FinishCopy,
    Interrupted,
    NextOutcome,
    NextRow,
    Phase,
    Receive,
    Send,
    SessionInfo,
    TakeNotices,
    TransactionStatus,
    WriteCopyRows,
)

INT4 = 23


class Handle:
    """Stands for an adapter object the conversation must only hand back (an async iterator, a sink)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __aiter__(self) -> Handle:
        return self

    async def __anext__(self) -> tuple:
        raise AssertionError("the conversation must not iterate an async source itself")

    async def aclose(self) -> None:
        raise AssertionError("the conversation must not close an async source itself")

    def __repr__(self) -> str:
        return f"Handle({self.name})"


class Stepper:
    """Drives a conversation one effect at a time."""

    def __init__(self) -> None:
        self.conversation = Conversation()
        self.steps = self.conversation.run()
        self.sent = bytearray()
        self.status = "I"
        self.notices: list[ErrorFields] = []
        self.done = False
        self.effect: Effect | None = next(self.steps)

    def _advance(self, reply: Any = None, error: BaseException | None = None) -> Effect | None:
        try:
            self.effect = self.steps.throw(error) if error is not None else self.steps.send(reply)
        except StopIteration:
            self.effect, self.done = None, True
        return self.effect

    def answer(self, reply: Any = None) -> Effect | None:
        self._advance(reply)
        return self.settle()

    def throw(self, error: BaseException) -> Effect | None:
        self._advance(error=error)
        return self.settle()

    def settle(self) -> Effect | None:
        """Answer Send, TakeNotices and TransactionStatus until another effect (or the end) comes."""
        while True:
            effect = self.effect
            if isinstance(effect, Send):
                self.sent += effect.data
                self._advance()
            elif isinstance(effect, TakeNotices):
                notices, self.notices = self.notices, []
                self._advance(notices)
            elif isinstance(effect, TransactionStatus):
                self._advance(self.status)
            elif isinstance(effect, Authenticate):  # authentication has its own tests (test_pgwire_scram.py)
                self._advance(Credentials(AuthMethod.TRUST))
            else:
                return effect

    def feed(self, data: bytes) -> Effect | None:
        assert isinstance(self.settle(), Receive), self.effect
        return self.answer(data)

    def take(self) -> list[tuple[bytes, bytes]]:
        """The server messages sent since the last call."""
        data, self.sent = bytes(self.sent), bytearray()
        return frames(data) if data else []


def kinds(messages: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(kind for kind, _ in messages)


def started() -> Stepper:
    stepper = Stepper()
    assert stepper.feed(startup()) == Connect("u", "u", {})
    assert stepper.answer(SessionInfo(7, 8, {"cluster": "c"})) == Receive()
    stepper.take()
    return stepper


# ---------------------------------------------------------------- startup


def test_startup_ssl_refusal_connect_and_handshake_bytes() -> None:
    stepper = Stepper()
    assert stepper.effect == Receive() and stepper.conversation.phase is Phase.STARTUP
    assert stepper.feed(SSL_REQUEST) == Receive()
    assert bytes(stepper.sent) == b"N"
    stepper.sent.clear()
    assert stepper.feed(startup(application_name="app", search_path="x")) == Connect(
        "u", "u", {"application_name": "app", "search_path": "x"})
    assert stepper.answer(SessionInfo(7, 8, {"cluster": "c"})) == Receive()
    out = stepper.take()
    assert kinds(out)[:1] == b"R" and kinds(out)[-2:] == b"KZ"
    assert out[-2][1] == struct.pack("!ii", 7, 8) and out[-1][1] == b"I"
    assert (b"S", b"cluster\x00c\x00") in out
    assert stepper.conversation.phase is Phase.READY


def test_cancel_request_is_routed_and_ends_the_connection() -> None:
    stepper = Stepper()
    assert stepper.feed(struct.pack("!iiII", 16, 80877102, 123, 456)) == CancelBackend(123, 456)
    assert stepper.answer(None) is None and stepper.done
    assert stepper.sent == b""  # no reply, no session to close


def test_rejected_login_is_fatal_without_a_session() -> None:
    stepper = Stepper()
    stepper.feed(startup())
    assert stepper.throw(SteadyError('role "u" does not exist', sqlstate="28000")) is None
    (kind, body), = stepper.take()
    assert kind == b"E" and error_fields(body)["S"] == "FATAL"


def test_startup_timeout_thrown_in_by_the_driver() -> None:
    stepper = Stepper()
    assert stepper.throw(FatalProtocolError(SteadyError("too slow", sqlstate="08P01"))) is None
    (_, body), = stepper.take()
    assert error_fields(body)["C"] == "08P01" and error_fields(body)["S"] == "FATAL"


# ---------------------------------------------------------------- simple query


def test_simple_query_streams_sync_rows_and_closes_the_outcomes() -> None:
    stepper = started()
    outcomes = Handle("outcomes")
    assert stepper.feed(query("SELECT 1")) == ExecuteSimple("SELECT 1")
    assert isinstance(stepper.answer(outcomes), NextOutcome) and stepper.effect.outcomes is outcomes
    stepper.notices.append(ErrorFields("00000", "hello", severity="NOTICE"))
    assert isinstance(stepper.answer(RowsOutcome([Field("n", INT4, 4)], [(1,), (2,)])), NextOutcome)
    assert stepper.answer(END) == CloseIterator(outcomes) and stepper.effect.source is outcomes
    assert stepper.answer(None) == Receive()
    out = stepper.take()
    assert kinds(out) == b"TDDNCZ"
    assert out[4][1] == b"SELECT 2\x00"


def test_async_rows_are_sent_as_they_come() -> None:
    stepper = started()
    rows = Handle("rows")
    stepper.feed(query("SELECT n"))
    stepper.answer(Handle("outcomes"))
    assert stepper.answer(RowsOutcome([Field("n", INT4, 4)], rows)) == NextRow(rows)
    assert stepper.conversation.phase is Phase.STREAMING
    for n in range(3):
        assert stepper.answer((n,)) == NextRow(rows)
        # each row has reached the client before the next one is asked for: nothing is held
        assert kinds(stepper.take()) == (b"TD" if n == 0 else b"D")
    assert stepper.answer(END) == CloseIterator(rows)
    assert isinstance(stepper.answer(None), NextOutcome)
    assert stepper.conversation.phase is Phase.READY
    stepper.answer(END)
    stepper.answer(None)
    assert kinds(stepper.take()) == b"CZ"


def test_cancel_while_streaming_closes_the_rows_and_reports_57014() -> None:
    stepper = started()
    rows = Handle("rows")
    stepper.feed(query("SELECT n"))
    outcomes = Handle("outcomes")
    stepper.answer(outcomes)
    stepper.answer(RowsOutcome([Field("n", INT4, 4)], rows))
    stepper.answer((1,))
    assert stepper.throw(QueryCanceled("canceling statement due to user request")) == CloseIterator(rows)
    assert stepper.answer(None) == CloseIterator(outcomes)
    assert stepper.answer(None) == Receive()
    out = stepper.take()
    assert kinds(out) == b"TDEZ" and error_fields(out[2][1])["C"] == "57014"


def test_error_in_a_batch_skips_the_rest() -> None:
    stepper = started()
    outcomes = Handle("outcomes")
    stepper.feed(query("INSERT 1; SELECT fail; INSERT 2"))
    stepper.answer(outcomes)
    assert isinstance(stepper.answer(CommandOutcome("INSERT 0 1")), NextOutcome)
    assert stepper.throw(UndefinedColumn('column "fail" does not exist')) == CloseIterator(outcomes)
    assert stepper.answer(None) == Receive()
    assert kinds(stepper.take()) == b"CEZ"


def test_client_gone_and_terminate_close_the_session() -> None:
    stepper = started()
    assert stepper.feed(b"") == CloseSession()
    assert stepper.answer(None) is None and stepper.done
    stepper = started()
    assert stepper.feed(TERMINATE) == CloseSession()
    stepper.answer(None)
    assert stepper.conversation.phase is Phase.CLOSED and stepper.sent == b""


def test_interrupted_mid_stream_releases_everything_silently() -> None:
    stepper = started()
    rows, outcomes = Handle("rows"), Handle("outcomes")
    stepper.feed(query("SELECT n"))
    stepper.answer(outcomes)
    stepper.answer(RowsOutcome([Field("n", INT4, 4)], rows))
    stepper.take()
    assert stepper.throw(Interrupted()) == CloseIterator(rows)
    assert stepper.answer(None) == CloseIterator(outcomes)
    assert stepper.answer(None) == CloseSession()
    assert stepper.answer(None) is None and stepper.sent == b""


def test_write_failure_while_sending_ends_quietly() -> None:
    stepper = started()
    transcript = [
        (query("DO"), ExecuteSimple("DO")),
        (Handle("outcomes"), NextOutcome(None)),
        (CommandOutcome("DO"), TakeNotices()),
        ([], NextOutcome(None)),
        (END, CloseIterator(None)),
        (None, TakeNotices()),
        ([], TransactionStatus()),
    ]
    for reply, expected in transcript:
        assert stepper._advance(reply) == expected
    assert stepper._advance("I") == Send(b"C\x00\x00\x00\x07DO\x00Z\x00\x00\x00\x05I")
    assert stepper.throw(ClientGone()) == CloseSession()


# ---------------------------------------------------------------- extended protocol


def test_extended_requests_carry_the_decoded_messages() -> None:
    stepper = started()
    assert stepper.feed(parse("SELECT $1", [INT4]) + bind([b"42"]) + execute() + SYNC) == Describe("SELECT $1", [INT4])
    assert stepper.answer(([INT4], [Field("x", INT4, 4)])) == Execute("SELECT $1", [42], [INT4])
    assert stepper.answer(RowsOutcome([Field("x", INT4, 4)], [(42,)])) == Receive()
    assert kinds(stepper.take()) == b"12DCZ"


def test_error_inside_a_batch_skips_to_sync() -> None:
    stepper = started()
    batch = parse("SELECT fail") + bind([]) + execute() + SYNC + parse("SELECT 1") + bind([]) + execute() + SYNC
    assert stepper.feed(batch) == Describe("SELECT fail", [])
    # Bind and Execute of the failed batch reach the adapter not at all; the next batch runs
    assert stepper.throw(UndefinedColumn('column "fail" does not exist')) == Describe("SELECT 1", [])
    assert stepper.conversation.skip_until_sync is False
    assert stepper.answer(([], [Field("?column?", INT4, 4)])) == Execute("SELECT 1", [], [])
    assert stepper.answer(RowsOutcome([Field("?column?", INT4, 4)], [(1,)])) == Receive()
    out = stepper.take()
    assert kinds(out) == b"EZ12DCZ" and error_fields(out[0][1])["C"] == "42703"


def test_portal_suspended_keeps_async_rows_open_until_sync_outside_a_transaction() -> None:
    stepper = started()
    rows = Handle("rows")
    stepper.feed(parse("SELECT n") + bind([]) + execute("", 1) + SYNC)
    stepper.answer(([], [Field("n", INT4, 4)]))
    assert stepper.answer(RowsOutcome([Field("n", INT4, 4)], rows)) == NextRow(rows)
    # one row reaches the limit: PortalSuspended, then Sync (status "I") closes the portal's rows
    assert stepper.answer((1,)) == CloseIterator(rows)
    assert stepper.answer(None) == Receive()
    assert kinds(stepper.take()) == b"12DsZ"


# ---------------------------------------------------------------- COPY


def test_copy_in_feeds_the_sink_and_finishes() -> None:
    stepper = started()
    sink, outcomes = Handle("sink"), Handle("outcomes")
    stepper.feed(query("COPY t FROM STDIN"))
    stepper.answer(outcomes)
    copy_in = CopyInOutcome(columns=2, format="text", delimiter="\t", null="\\N", header=False, sink=sink)
    assert stepper.answer(copy_in) == Receive()
    assert stepper.conversation.phase is Phase.COPY_IN
    assert kinds(stepper.take()) == b"G"
    assert stepper.feed(copy_data(b"1\ta\n2\t")) == Receive()
    effect = stepper.feed(copy_data(b"\\N\n") + COPY_DONE)
    assert isinstance(effect, WriteCopyRows) and effect.rows == [("1", "a"), ("2", None)] and effect.sink is sink
    assert stepper.answer(None) == FinishCopy(sink)
    assert isinstance(stepper.answer("COPY 2"), NextOutcome)
    stepper.answer(END)
    stepper.answer(None)
    out = stepper.take()
    assert kinds(out) == b"CZ" and out[0][1] == b"COPY 2\x00"


@pytest.mark.parametrize("bad, sqlstate", [
    (copy_data(b"1\ta\tb\n"), "22P04"),  # too many columns
    (msg(b"f", cstr("client gave up")), "57014"),  # CopyFail
    (query("SELECT 1"), "08P01"),  # not a COPY message
])
def test_errors_during_copy_in_abort_the_sink(bad: bytes, sqlstate: str) -> None:
    stepper = started()
    sink, outcomes = Handle("sink"), Handle("outcomes")
    stepper.feed(query("COPY t FROM STDIN"))
    stepper.answer(outcomes)
    stepper.answer(CopyInOutcome(columns=2, format="text", delimiter="\t", null="\\N", header=False, sink=sink))
    effect = stepper.feed(bad)
    assert isinstance(effect, AbortCopy) and effect.sink is sink
    assert stepper.answer(None) == CloseIterator(outcomes)
    assert stepper.answer(None) == Receive()
    out = stepper.take()
    assert kinds(out) == b"GEZ" and error_fields(out[1][1])["C"] == sqlstate
    # stray COPY messages after the failure are dropped
    assert stepper.feed(copy_data(b"x") + COPY_DONE) == Receive() and stepper.take() == []


def test_copy_out_of_a_subscribe_streams_until_cancelled() -> None:
    stepper = started()
    rows, outcomes = Handle("subscribe"), Handle("outcomes")
    stepper.feed(query("COPY (SUBSCRIBE t) TO STDOUT"))
    stepper.answer(outcomes)
    assert stepper.answer(CopyOutOutcome([Field("a", INT4, 4)], rows)) == NextRow(rows)
    assert kinds(stepper.take()) == b"H"  # the CopyOutResponse is out before the first row is awaited
    for n in range(3):
        assert stepper.answer((n,)) == NextRow(rows)
        assert stepper.take() == [(b"d", b"%d\n" % n)]
    assert stepper.conversation.phase is Phase.STREAMING
    assert stepper.throw(QueryCanceled("canceling statement due to user request")) == CloseIterator(rows)
    stepper.answer(None)
    assert stepper.answer(None) == Receive()
    out = stepper.take()
    assert kinds(out) == b"EZ" and error_fields(out[0][1])["C"] == "57014"


# ---------------------------------------------------------------- protocol violations


@pytest.mark.parametrize("garbage", [
    b"\x01\x02\x03\x04\x05garbage",  # unknown message type
    msg(b"B", b"\x00\x00\x00\x05"),  # a Bind cut short
    b"Q" + struct.pack("!i", 2),  # a length below 4
])
def test_malformed_message_is_a_fatal_protocol_violation(garbage: bytes) -> None:
    stepper = started()
    assert stepper.feed(garbage) == CloseSession()
    (kind, body), = stepper.take()
    fields = error_fields(body)
    assert kind == b"E" and (fields["S"], fields["C"]) == ("FATAL", "08P01")
    assert stepper.answer(None) is None and stepper.conversation.phase is Phase.CLOSED
