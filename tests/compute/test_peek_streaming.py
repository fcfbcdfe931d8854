"""A row-path peek's chunks leave the replica as they are built: :func:`~steadystate.compute.peeks.stream_chunks`
gives each chunk out before the rows of the later ones are read, and ``ComputeState`` hands every chunk but the
last to its ``send_now`` at once (what the tick had gathered before it goes first), the final chunk — or the
error that stopped the result — coming with the tick's responses; the chunks are the whole result, in order."""

from __future__ import annotations

from typing import Iterator

import pytest

import steadystate.compute.peeks as peeks_module
from steadystate.compute.peeks import stream_chunks
from steadystate.compute.state import ComputeState
from steadystate.expr.ir import MapFilterProject
from steadystate.protocol import messages as m
from steadystate.repr import arrow_rows, codec
from steadystate.repr.types import RelationDesc, ScalarType as T
from steadystate.storage import open_store

ROWS = 20_000
TARGET = m.PeekTarget("shard", "u1", shard="t", desc=RelationDesc.of(("a", T.INT4), ("s", T.TEXT)))


def payload_rows(response: m.PeekResponse) -> list[tuple]:
    if response.batches is not None:
        return list(arrow_rows.ArrowRows(arrow_rows.decode_ipc(response.batches)))
    return codec.decode_rows(response.rows or b"")


@pytest.mark.parametrize("arrow", [False, True])
def test_each_chunk_is_given_out_before_the_later_rows_are_read(monkeypatch: pytest.MonkeyPatch,
                                                                 arrow: bool) -> None:
    monkeypatch.setattr(peeks_module, "CHUNK_BYTES", 8192)
    consumed = 0

    def rows() -> Iterator[tuple]:
        nonlocal consumed
        for i in range(ROWS):
            consumed += 1
            yield (i, f"row {i}")

    seen, read_when_given = [], []
    for response in stream_chunks(m.Peek("p", TARGET, 0, MapFilterProject(2), arrow=arrow), rows()):
        seen.append(response)
        read_when_given.append(consumed)
    assert len(seen) > 10
    assert read_when_given[0] < ROWS // 4  # the first chunk went before most rows were read
    through = [0]  # rows in the chunks up to each one
    for r in seen:
        through.append(through[-1] + len(payload_rows(r)))
    for i, read in enumerate(read_when_given[:-1]):  # at most one chunk built past the one given out
        assert read <= through[i + 2] + 1
    assert [r.partial for r in seen] == [True] * (len(seen) - 1) + [False]
    assert [row for r in seen for row in payload_rows(r)] == [(i, f"row {i}") for i in range(ROWS)]


def test_an_exact_multiple_of_the_batch_and_an_empty_result_end_with_a_final_chunk() -> None:
    for n in (0, 1024, 1):
        responses = list(stream_chunks(m.Peek("p", TARGET, 0, MapFilterProject(2)), ((i, "x") for i in range(n))))
        assert not responses[-1].partial and all(r.partial for r in responses[:-1])
        assert [row for r in responses for row in payload_rows(r)] == [(i, "x") for i in range(n)]


def ready_state() -> ComputeState:
    store = open_store("sqlite:///:memory:")
    store.create_shard("t")
    store.compare_and_append("t", [((i, f"row {i}"), 0, 1) for i in range(ROWS)], 0, 1)
    state = ComputeState("r1", store)
    state.handle(m.Hello("n1", "secret"))
    state.handle(m.CreateInstance(m.InstanceConfig("c1", "r1", "sqlite:///:memory:")))
    state.handle(m.InitializationComplete())
    return state


@pytest.mark.parametrize("limit", [None, 60_000])
def test_the_replica_sends_each_chunk_as_it_is_built(monkeypatch: pytest.MonkeyPatch, limit: int | None) -> None:
    monkeypatch.setattr(peeks_module, "CHUNK_BYTES", 8192)
    state = ready_state()
    sent: list[list[m.Response]] = []
    state.send_now = lambda responses: sent.append(responses)
    state.handle(m.Peek("p", TARGET, 0, MapFilterProject(2), max_result_size=limit, arrow=True))
    rest = [r for r in state.tick() if isinstance(r, m.PeekResponse) and r.uuid == "p"]
    streamed = [r for batch in sent for r in batch if isinstance(r, m.PeekResponse) and r.uuid == "p"]
    assert len(streamed) > 3 and all(r.partial and r.has_result for r in streamed)
    (final,) = rest
    assert not final.partial
    if limit is None:
        rows = [row for r in [*streamed, final] for row in payload_rows(r)]
        assert sorted(rows) == sorted((i, f"row {i}") for i in range(ROWS))
    else:  # past the limit after some chunks went out: the error is the final response
        assert final.error is not None and final.error.sqlstate == "53000"
        assert sum(len(r.batches or b"") for r in streamed) <= limit
