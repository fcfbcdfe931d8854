"""The supervisor's pgwire proxy state machine, driven with raw bytes: no sockets, no coordinator.

Client and server messages are built here by hand; the test plays both the client and the coordinator,
loses the coordinator at chosen moments, and checks what each side receives: a read in flight is resent
to the new coordinator and answered once, session settings and prepared statements are replayed, and
anything that may not run twice ends in a FATAL 08006 error and a closed client connection.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as hs

from steadystate.pgwire.proxy import BackendState, ProxyConnection
from steadystate.pgwire.proxy_rules import (
    LOSS_DECISIONS,
    OUTCOME_UNKNOWN,
    BackendLost,
    CloseClient,
    ConnectBackend,
    Decision,
    ForwardCancel,
    Inflight,
    Splitter,
    ToBackend,
    ToClient,
    classify_sql,
    split_statements,
)
from steadystate.pgwire.wire import BULK_PARAMETER, bulk_header

PROXY_KEY = (42, 4242)


def msg(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def cstr(text: str) -> bytes:
    return text.encode() + b"\x00"


def startup(user: str = "u", *, proxied: bool = False) -> bytes:
    """A client's startup packet; ``proxied``: as the proxy sends it on to a coordinator (asking for bulk frames)."""
    body = struct.pack("!i", 196608) + cstr("user") + cstr(user)
    body += (cstr(BULK_PARAMETER) + cstr("on") if proxied else b"") + b"\x00"
    return struct.pack("!i", len(body) + 4) + body


def query(sql: str) -> bytes:
    return msg(b"Q", cstr(sql))


def parse(name: str, sql: str) -> bytes:
    return msg(b"P", cstr(name) + cstr(sql) + struct.pack("!h", 0))


def bind(portal: str = "", statement: str = "") -> bytes:
    return msg(b"B", cstr(portal) + cstr(statement) + struct.pack("!hhh", 0, 0, 0))


def execute(portal: str = "") -> bytes:
    return msg(b"E", cstr(portal) + struct.pack("!i", 0))


def close_statement(name: str) -> bytes:
    return msg(b"C", b"S" + cstr(name))


SYNC = msg(b"S")


def handshake(pid: int, secret: int = 1) -> bytes:
    return (msg(b"R", struct.pack("!i", 0)) + msg(b"S", cstr("server_version") + cstr("15.0"))
            + msg(b"K", struct.pack("!ii", pid, secret)) + rfq("I"))


def rfq(status: str) -> bytes:
    return msg(b"Z", status.encode())


def complete(tag: str) -> bytes:
    return msg(b"C", cstr(tag))


def row(*values: str) -> bytes:
    body = struct.pack("!h", len(values)) + b"".join(struct.pack("!i", len(v)) + v.encode() for v in values)
    return msg(b"D", body)


def answer(*values: str) -> bytes:
    return msg(b"T", b"\x00\x00") + b"".join(row(v) for v in values) + complete(f"SELECT {len(values)}") + rfq("I")


def error(sqlstate: str = "42P01") -> bytes:
    return msg(b"E", b"SERROR\x00C" + cstr(sqlstate) + b"Mboom\x00\x00")


def to_client(actions: list) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, ToClient))


def to_backend(actions: list) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, ToBackend))


def frames(data: bytes) -> list[tuple[bytes, bytes]]:
    out, position = [], 0
    while position < len(data):
        kind, length = struct.unpack_from("!ci", data, position)
        out.append((kind, data[position + 5 : position + 1 + length]))
        position += 1 + length
    return out


def fields(body: bytes) -> dict[str, str]:
    return {part[:1].decode(): part[1:].decode() for part in body.split(b"\x00") if part}


def connected(pid: int = 7) -> tuple[ProxyConnection, bytes]:
    """A machine past startup with a live backend; returns it and what the client received."""
    machine = ProxyConnection(*PROXY_KEY)
    actions = machine.client_data(startup())
    assert ConnectBackend(0.0) in actions
    assert to_backend(machine.backend_connected()) == startup(proxied=True)
    return machine, to_client(machine.backend_data(handshake(pid)))


def reconnect(machine: ProxyConnection, pid: int) -> bytes:
    """Connect a new backend, answer its handshake; returns what the machine sends to it after the handshake."""
    assert to_backend(machine.backend_connected()) == startup(proxied=True)
    return to_backend(machine.backend_data(handshake(pid)))


# ---------------------------------------------------------------- startup and cancel


def test_startup_is_forwarded_with_the_proxy_key_and_ssl_refused() -> None:
    machine = ProxyConnection(*PROXY_KEY)
    assert to_client(machine.client_data(struct.pack("!ii", 8, 80877103))) == b"N"
    _, received = connected()
    kinds = [k for k, _ in frames(received)]
    assert kinds == [b"R", b"S", b"K", b"Z"]
    (key_body,) = [b for k, b in frames(received) if k == b"K"]
    assert struct.unpack("!ii", key_body) == PROXY_KEY


def test_cancel_request_is_handed_to_the_driver_with_the_key_it_names() -> None:
    machine = ProxyConnection(1, 2)
    actions = machine.client_data(struct.pack("!iiii", 16, 80877102, *PROXY_KEY))
    assert ForwardCancel(*PROXY_KEY) in actions and CloseClient() in actions


def test_backend_key_is_remembered_per_backend() -> None:
    machine, _ = connected(pid=7)
    assert machine.backend_key == (7, 1)
    machine.backend_lost(0.0)
    machine.client_data(query("SELECT 1"))
    reconnect(machine, pid=8)
    assert machine.backend_key == (8, 1)


# ---------------------------------------------------------------- losing the coordinator


def test_idle_session_reconnects_lazily_and_replays_its_settings() -> None:
    machine, _ = connected()
    machine.client_data(query("SET cluster = c"))
    assert to_client(machine.backend_data(complete("SET") + rfq("I"))) == complete("SET") + rfq("I")
    actions = machine.backend_lost(1.0)
    assert BackendLost(Decision.RECONNECT_LAZILY, 0) in actions
    assert not any(isinstance(a, ConnectBackend) for a in actions)
    assert machine.state is BackendState.DOWN
    # the next request brings a new backend; the handshake is swallowed, the setting replayed first
    actions = machine.client_data(query("SHOW cluster"))
    assert ConnectBackend(0.0) in actions and not to_backend(actions)
    assert reconnect(machine, pid=8) == query("SET cluster = c")
    assert to_client(machine.backend_data(complete("SET"))) == b""
    assert to_backend(machine.backend_data(rfq("I"))) == query("SHOW cluster")
    assert to_client(machine.backend_data(answer("c"))) == answer("c")


def test_read_in_flight_is_resent_and_answered_once() -> None:
    machine, _ = connected()
    sent = to_backend(machine.client_data(query("SELECT k FROM t")))
    assert sent == query("SELECT k FROM t")
    actions = machine.backend_lost(1.0)
    assert BackendLost(Decision.RETRY, 1) in actions and ConnectBackend(0.0) in actions
    assert not to_client(actions)
    assert reconnect(machine, pid=8) == query("SELECT k FROM t")
    assert to_client(machine.backend_data(answer("1"))) == answer("1")
    assert machine.state is BackendState.LIVE


def test_extended_read_in_flight_is_resent_whole() -> None:
    machine, _ = connected()
    request = parse("", "SELECT 1") + bind() + execute() + SYNC
    machine.client_data(request)
    assert BackendLost(Decision.RETRY, 1) in machine.backend_lost(1.0)
    assert reconnect(machine, pid=8) == request


@pytest.mark.parametrize("sql", ["INSERT INTO t VALUES (1)", "CREATE TABLE u (a int)", "COPY t FROM STDIN",
                                 "SUBSCRIBE t", "SELECT 1; DELETE FROM t"])
def test_write_in_flight_fails_the_client_and_is_never_resent(sql: str) -> None:
    machine, _ = connected()
    machine.client_data(query(sql))
    actions = machine.backend_lost(1.0)
    assert BackendLost(Decision.FAIL, 1) in actions and CloseClient() in actions
    assert not any(isinstance(a, ConnectBackend) for a in actions)
    ((kind, body),) = frames(to_client(actions))
    assert kind == b"E"
    error_fields = fields(body)
    assert error_fields["S"] == "FATAL" and error_fields["C"] == "08006"
    assert error_fields["M"] == "connection to the coordinator was lost; the outcome of the statement is unknown"
    assert "H" in error_fields
    assert machine.closed and machine.client_data(query("SELECT 1")) == []


def test_open_transaction_fails_at_once_even_when_idle() -> None:
    machine, _ = connected()
    machine.client_data(query("BEGIN"))
    machine.backend_data(complete("BEGIN") + rfq("T"))
    actions = machine.backend_lost(1.0)
    ((kind, body),) = frames(to_client(actions))
    assert kind == b"E" and "transaction was aborted" in fields(body)["M"]
    assert CloseClient() in actions


@pytest.mark.parametrize("sql", ["COMMIT", "END", "INSERT INTO t VALUES (1); COMMIT"])
def test_a_commit_in_flight_has_an_unknown_outcome_not_an_aborted_transaction(sql: str) -> None:
    """The coordinator may have applied the transaction before the connection dropped: the client is told the
    outcome is unknown (to check it), never that the transaction was aborted, and nothing is resent."""
    machine, _ = connected()
    machine.client_data(query("BEGIN"))
    machine.backend_data(complete("BEGIN") + rfq("T"))
    machine.client_data(query("INSERT INTO t VALUES (1)"))
    machine.backend_data(complete("INSERT 0 1") + rfq("T"))
    machine.client_data(query(sql))
    actions = machine.backend_lost(1.0)
    assert BackendLost(Decision.FAIL, 1) in actions and CloseClient() in actions
    assert not any(isinstance(a, ConnectBackend) for a in actions)
    ((kind, body),) = frames(to_client(actions))
    assert kind == b"E" and fields(body)["M"] == OUTCOME_UNKNOWN.message


def test_read_whose_answer_started_fails() -> None:
    machine, _ = connected()
    machine.client_data(query("SELECT k FROM t"))
    machine.backend_data(msg(b"T", b"\x00\x00") + row("1"))
    actions = machine.backend_lost(1.0)
    assert BackendLost(Decision.FAIL, 1) in actions
    assert "result was being sent" in fields(frames(to_client(actions))[0][1])["M"]


def test_requests_arriving_while_reconnecting_wait_and_go_after_the_replay() -> None:
    machine, _ = connected()
    machine.client_data(query("SELECT 1"))
    machine.backend_lost(1.0)
    machine.client_data(query("INSERT INTO t VALUES (1)"))  # never sent: safe to send to the new backend
    assert reconnect(machine, pid=8) == query("SELECT 1") + query("INSERT INTO t VALUES (1)")


def test_reconnection_backs_off_then_fails_after_the_deadline() -> None:
    machine, _ = connected()
    machine.client_data(query("SELECT 1"))
    machine.backend_lost(100.0)
    delays = [next(a.delay for a in machine.connect_failed(100.0 + i) if isinstance(a, ConnectBackend))
              for i in range(5)]
    assert delays == sorted(delays) and delays[0] > 0
    actions = machine.connect_failed(131.0)
    assert CloseClient() in actions and "could not reach the coordinator" in to_client(actions).decode("latin-1")


def test_handshake_that_never_completes_is_bounded_by_tick() -> None:
    machine, _ = connected()
    machine.client_data(query("SELECT 1"))
    machine.backend_lost(0.0)
    machine.backend_connected()
    assert machine.tick(10.0) == []
    assert CloseClient() in machine.tick(31.0)


# ---------------------------------------------------------------- session state


def test_settings_replay_in_order_latest_per_setting_and_reset_forgets() -> None:
    machine, _ = connected()
    for sql in ("SET cluster = a", "SET search_path = s", "SET cluster = b", "SET x = 1", "RESET x"):
        machine.client_data(query(sql))
        machine.backend_data(complete("SET") + rfq("I"))
    assert list(machine.settings.values()) == ["SET search_path = s", "SET cluster = b"]


def test_failed_set_local_set_and_set_in_an_open_transaction_are_not_replayed() -> None:
    machine, _ = connected()
    machine.client_data(query("SET cluster = nope"))
    machine.backend_data(error("22023") + rfq("I"))
    machine.client_data(query("SET LOCAL cluster = a"))
    machine.backend_data(complete("SET") + rfq("I"))
    machine.client_data(query("BEGIN; SET cluster = a"))
    machine.backend_data(complete("BEGIN") + complete("SET") + rfq("T"))
    assert machine.settings == {}


def test_extended_protocol_set_is_remembered() -> None:
    machine, _ = connected()
    machine.client_data(parse("", "SET cluster = e") + bind() + execute() + SYNC)
    machine.backend_data(msg(b"1") + msg(b"2") + complete("SET") + rfq("I"))
    assert list(machine.settings.values()) == ["SET cluster = e"]


def test_prepared_statements_are_replayed_and_closed_ones_forgotten() -> None:
    machine, _ = connected()
    machine.client_data(parse("s1", "SELECT 1") + parse("s2", "SELECT 2") + SYNC)
    machine.backend_data(msg(b"1") + msg(b"1") + rfq("I"))
    machine.client_data(close_statement("s2") + SYNC)
    machine.backend_data(msg(b"3") + rfq("I"))
    machine.client_data(parse("bad", "SELEC") + SYNC)
    machine.backend_data(error("42601") + rfq("I"))
    assert list(machine.prepared) == ["s1"]
    machine.backend_lost(1.0)
    machine.client_data(bind("", "s1") + execute() + SYNC)
    assert reconnect(machine, pid=8) == parse("s1", "SELECT 1") + SYNC
    assert to_client(machine.backend_data(msg(b"1"))) == b""
    assert to_backend(machine.backend_data(rfq("I"))) == bind("", "s1") + execute() + SYNC


def test_execute_of_a_prepared_write_is_not_resent() -> None:
    machine, _ = connected()
    machine.client_data(parse("w", "INSERT INTO t VALUES ($1)") + SYNC)
    machine.backend_data(msg(b"1") + rfq("I"))
    machine.client_data(bind("", "w") + execute() + SYNC)
    assert BackendLost(Decision.FAIL, 1) in machine.backend_lost(1.0)


def test_replay_that_fails_closes_the_client() -> None:
    machine, _ = connected()
    machine.client_data(query("SET cluster = c"))
    machine.backend_data(complete("SET") + rfq("I"))
    machine.backend_lost(1.0)
    machine.client_data(query("SELECT 1"))
    reconnect(machine, pid=8)
    actions = machine.backend_data(error("22023"))
    assert CloseClient() in actions and "session could not be restored" in to_client(actions).decode("latin-1")


# ---------------------------------------------------------------- tables and splitting


def test_decision_table_is_complete_and_never_retries_what_may_not_run_twice() -> None:
    keys = {(t, i, s) for t in (False, True) for i in Inflight for s in (False, True)}
    assert set(LOSS_DECISIONS) == keys
    retried = {key for key, (decision, _) in LOSS_DECISIONS.items() if decision is Decision.RETRY}
    assert retried == {(False, Inflight.RETRYABLE, False)}
    for (_, _, _), (decision, failure) in LOSS_DECISIONS.items():
        assert (decision is Decision.FAIL) == (failure is not None)


@pytest.mark.parametrize("sql,retryable,settings_", [
    ("SELECT 1", True, ()),
    ("  select * from t; show clusters", True, ()),
    ("/* c */ EXPLAIN SELECT 1", True, ()),
    ("VALUES (1)", True, ()),
    ("TABLE t", True, ()),
    ("SET cluster = c", True, ("SET cluster = c",)),
    ("set local cluster = c", True, ()),
    ("DEALLOCATE s1", True, ()),
    ("RESET cluster", True, ("RESET cluster",)),
    ("SELECT ';INSERT'; SET a = 1 -- ; DELETE", True, ("SET a = 1",)),
    ("WITH x AS (SELECT 1) SELECT * FROM x", True, ()),
    ("WITH x AS (DELETE FROM t RETURNING *) SELECT 1", False, ()),
    ("INSERT INTO t VALUES (1)", False, ()),
    ("SUBSCRIBE t", False, ()),
    ("COPY (SELECT 1) TO STDOUT", False, ()),
    ("ALTER CLUSTER c SEAL", False, ()),
    ("SELECT 1; COMMIT", False, ()),
])
def test_classify_sql(sql: str, retryable: bool, settings_: tuple[str, ...]) -> None:
    classified = classify_sql(sql)
    assert (classified.retryable, classified.settings) == (retryable, settings_)


def test_split_statements_respects_quotes_and_dollar_quotes() -> None:
    assert split_statements("SELECT 'a;b'; SELECT $$c;d$$;; SELECT \"e;f\"") == [
        "SELECT 'a;b'", "SELECT $$c;d$$", 'SELECT "e;f"']


_messages = hs.lists(hs.tuples(hs.sampled_from([b"D", b"Z", b"E", b"T", b"d"]), hs.binary(max_size=40)),
                     max_size=30)


@settings(max_examples=200, deadline=None)
@given(_messages, hs.lists(hs.integers(min_value=0, max_value=2000), max_size=12))
def test_splitter_gives_the_same_messages_for_any_chunking(messages: list, cuts: list[int]) -> None:
    stream = b"".join(msg(kind, body) for kind, body in messages)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    splitter = Splitter(frozenset({b"Z", b"E"}))
    pieces = [piece for a, b in zip(points, points[1:]) for piece in splitter.feed(stream[a:b])]
    assert b"".join(raw for _, raw in pieces) == stream
    assert [raw for kind, raw in pieces if kind is not None] == [
        msg(kind, body) for kind, body in messages if kind in (b"Z", b"E")]
    assert splitter.buffered == 0


@settings(max_examples=100, deadline=None)
@given(hs.lists(hs.integers(min_value=1, max_value=400), max_size=10))
def test_proxy_output_is_independent_of_chunking(cuts: list[int]) -> None:
    """The same conversation cut anywhere: the client receives the same bytes, the backend the same requests."""
    server = handshake(7) + complete("SET") + rfq("I") + answer("1", "2", "3") + msg(b"1") + rfq("I")
    client = startup() + query("SET cluster = c") + query("SELECT k FROM t") + parse("s", "SELECT 1") + SYNC

    def run(chunks: list[int]) -> tuple[bytes, bytes, dict, dict]:
        machine = ProxyConnection(*PROXY_KEY)
        up = down = b""
        for data in _chunks(client, chunks):
            up += to_backend(machine.client_data(data))
        up += to_backend(machine.backend_connected())
        for data in _chunks(server, chunks):
            down += to_client(machine.backend_data(data))
        return up, down, dict(machine.settings), dict(machine.prepared)

    assert run(cuts) == run([])


def _chunks(data: bytes, sizes: list[int]) -> list[bytes]:
    out, position = [], 0
    for size in sizes:
        out.append(data[position : position + size])
        position += size
    out.append(data[position:])
    return [chunk for chunk in out if chunk]


def test_client_that_never_completes_startup_is_told_and_closed() -> None:
    machine = ProxyConnection(*PROXY_KEY)
    machine.client_data(startup()[:6])
    actions = machine.startup_expired(1.0)
    ((kind, body),) = frames(to_client(actions))
    assert kind == b"E" and fields(body)["C"] == "08P01" and "startup" in fields(body)["M"]
    assert CloseClient() in actions


def test_garbage_after_startup_is_a_fatal_protocol_violation() -> None:
    machine, _ = connected()
    actions = machine.client_data(b"Q\x00\x00\x00\x01")
    ((kind, body),) = frames(to_client(actions))
    assert kind == b"E" and fields(body)["S"] == "FATAL" and fields(body)["C"] == "08P01"
    assert CloseClient() in actions


def test_a_session_the_coordinator_ends_itself_is_closed_not_carried_over() -> None:
    machine, _ = connected()
    fatal = msg(b"E", b"SFATAL\x00C57P01\x00Mterminating connection\x00\x00")
    assert to_client(machine.backend_data(fatal)) == fatal
    actions = machine.backend_lost(1.0)
    assert CloseClient() in actions and not to_client(actions)
    assert not any(isinstance(a, ConnectBackend) for a in actions)


def test_first_handshake_cut_short_is_retried_without_the_client_seeing_it_twice() -> None:
    machine = ProxyConnection(*PROXY_KEY)
    machine.client_data(startup())
    machine.backend_connected()
    greeting = handshake(7)
    assert to_client(machine.backend_data(greeting[:12])) == b""  # held back until complete
    assert ConnectBackend(0.0) in machine.backend_lost(1.0)
    machine.backend_connected()
    received = to_client(machine.backend_data(greeting))
    assert [k for k, _ in frames(received)] == [b"R", b"S", b"K", b"Z"]


def test_deallocated_prepared_statements_are_not_replayed() -> None:
    machine, _ = connected()
    machine.client_data(parse("_pg3_0", "SELECT 1") + parse("Odd", "SELECT 2") + parse("s3", "SELECT 3") + SYNC)
    machine.backend_data(msg(b"1") * 3 + rfq("I"))
    machine.client_data(query('DEALLOCATE _pg3_0; DEALLOCATE PREPARE "Odd"'))
    machine.backend_data(complete("DEALLOCATE") * 2 + rfq("I"))
    assert list(machine.prepared) == ["s3"]
    machine.client_data(query("DEALLOCATE ALL"))
    machine.backend_data(complete("DEALLOCATE ALL") + rfq("I"))
    assert machine.prepared == {}


def test_set_inside_a_transaction_is_remembered_only_if_it_commits() -> None:
    machine, _ = connected()
    for sql, answer_ in (("BEGIN", rfq("T")), ("SET cluster = a", rfq("T")), ("ROLLBACK", rfq("I")),
                         ("BEGIN", rfq("T")), ("SET cluster = b", rfq("T")), ("COMMIT", rfq("I"))):
        machine.client_data(query(sql))
        machine.backend_data(complete(sql.split()[0]) + answer_)
        if sql == "ROLLBACK":
            assert machine.settings == {}
    assert list(machine.settings.values()) == ["SET cluster = b"]


def test_a_coordinator_still_starting_up_is_tried_again_unseen() -> None:
    machine = ProxyConnection(*PROXY_KEY)
    machine.client_data(startup())
    machine.backend_connected()
    starting = msg(b"E", b"SFATAL\x00C57P03\x00Mthe server is starting up\x00\x00")
    actions = machine.backend_data(starting)
    assert not to_client(actions) and any(isinstance(a, ConnectBackend) for a in actions)
    assert not machine.closed
    machine.backend_connected()
    assert [k for k, _ in frames(to_client(machine.backend_data(handshake(7))))] == [b"R", b"S", b"K", b"Z"]


def test_requests_held_while_no_coordinator_is_live_are_bounded() -> None:
    machine, _ = connected()
    machine.backend_lost(1.0)
    big = query("SELECT '" + "x" * (1024 * 1024) + "'")
    actions: list = []
    for _ in range(70):
        actions = machine.client_data(big)
        if machine.closed:
            break
    assert machine.closed and CloseClient() in actions
    assert fields(frames(to_client(actions))[0][1])["C"] == "53200"


@settings(max_examples=200, deadline=None)
@given(_messages, hs.lists(hs.booleans(), max_size=30), hs.lists(hs.integers(min_value=0, max_value=2000), max_size=12))
def test_bulk_frames_are_dropped_and_their_runs_passed_on_unread(messages: list, announce: list[bool],
                                                                 cuts: list[int]) -> None:
    """A coordinator's stream with runs of DataRows/CopyData announced by bulk frames, cut anywhere: the splitter
    passes on exactly the stream without the frames, and still finds every wanted message outside the runs."""
    plain = b"".join(msg(kind, body) for kind, body in messages)
    stream, run = b"", b""
    for i, (kind, body) in enumerate(messages):
        if kind in (b"D", b"d") and i < len(announce) and announce[i]:
            run += msg(kind, body)
            continue
        stream += (bulk_header(len(run)) + run if run else b"") + msg(kind, body)
        run = b""
    stream += bulk_header(len(run)) + run if run else b""
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    splitter = Splitter(frozenset({b"Z", b"E"}), bulk=True)
    pieces = [piece for a, b in zip(points, points[1:]) for piece in splitter.feed(stream[a:b])]
    assert b"".join(raw for _, raw in pieces) == plain
    assert [raw for kind, raw in pieces if kind is not None] == [
        msg(kind, body) for kind, body in messages if kind in (b"Z", b"E")]
    assert splitter.buffered == 0
