"""A running SUBSCRIBE's output: the controller's batches turned into the rows the client sees.

:class:`SubscribeReader` owns one subscribe sink (its channel on the cluster's compute instance) and hands out
rows batch by batch (``next_rows``), for the streaming ``SUBSCRIBE`` statement and for cursors (``FETCH``) alike.
It applies the options the dataflow does not know about, following Materialize:

* ``SNAPSHOT = false``: updates at the ``as_of`` (the snapshot) are left out;
* ``UP TO t``: only updates at times before ``t``; the subscribe ends once its frontier reaches ``t``;
* ``PROGRESS``: an ``mz_progressed`` column after ``mz_timestamp``, false on data rows; the first row is a
  progress row at the ``as_of``, and each time the frontier advances a row ``(frontier, true, NULL, NULL...)``
  says no more updates at earlier times will come;
* ``ENVELOPE UPSERT (KEY (k...))``: per timestamp and key, ``(t, mz_state, key..., value...)``: ``upsert`` with the
  key's one new row, ``delete`` (values NULL) when the key only lost rows, ``key_violation`` (values NULL) when
  the key gained more than one row;
* ``ENVELOPE DEBEZIUM (KEY (k...))``: ``(t, mz_state, key..., before_value..., after_value...)`` with ``insert``
  (no old row), ``upsert`` (old and new), ``delete`` (old row only) or ``key_violation``.

Rows within a timestamp come in a deterministic order (by diff, then row; envelope rows by key).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import TYPE_CHECKING, Any, AsyncIterator

from steadystate.errors import SteadyError
from steadystate.protocol import messages as m
from steadystate.repr import Row, codec
from steadystate.repr.types import Column, RelationDesc, ScalarType
from steadystate.sql import plan as p
from steadystate.sql.statements import SubscribeEnvelope

if TYPE_CHECKING:
    from steadystate.controller.instance import ComputeInstance, SubscribeChannel


def output_desc(plan: p.SubscribePlan) -> RelationDesc:
    """The columns a SUBSCRIBE answers with, given its options."""
    head = [Column("mz_timestamp", ScalarType.INT8, False)]
    if plan.progress:
        head.append(Column("mz_progressed", ScalarType.BOOL, False))
    columns = plan.desc.columns
    if plan.envelope is SubscribeEnvelope.NONE:
        head.append(Column("mz_diff", ScalarType.INT8, plan.progress))
        body = list(columns)
    else:
        head.append(Column("mz_state", ScalarType.TEXT, False))
        keys = [columns[i] for i in plan.key]
        values = [c for i, c in enumerate(columns) if i not in plan.key]
        body = keys + [Column(c.name, c.type, True, c.mod) for c in values]
        if plan.envelope is SubscribeEnvelope.DEBEZIUM:
            body = keys + [Column("before_" + c.name, c.type, True, c.mod) for c in values] \
                + [Column("after_" + c.name, c.type, True, c.mod) for c in values]
    if plan.progress:
        body = [Column(c.name, c.type, True, c.mod) for c in body]
    return RelationDesc(tuple(head) + tuple(body))


class SubscribeReader:
    """The rows of one running SUBSCRIBE, a batch at a time; ``close`` drops its dataflow."""

    def __init__(self, plan: p.SubscribePlan, instance: "ComputeInstance", sink_id: str, channel: "SubscribeChannel",
                 as_of: int) -> None:
        self.plan = plan
        self.instance = instance
        self.sink_id = sink_id
        self.channel = channel
        self.as_of = as_of
        self.done = False
        self._progress: int | None = None  # the last frontier reported in a progress row
        self._width = output_desc(plan).arity

    def close(self) -> None:
        if not self.done:
            self.done = True
            self.instance.drop(self.sink_id, f"drop transient dataflow {self.sink_id}")

    async def next_rows(self, timeout: float | None = None) -> list[Row] | None:
        """The rows of the next batch (``[]`` if it carries none, or nothing came within ``timeout`` seconds);
        ``None`` once the subscribe has ended."""
        if self.done:
            return None
        try:
            if timeout is None:
                item = await self.channel.queue.get()
            elif timeout <= 0:
                item = self.channel.queue.get_nowait()
            else:
                item = await asyncio.wait_for(self.channel.queue.get(), timeout)
        except (asyncio.QueueEmpty, asyncio.TimeoutError):
            return []
        if item is None:
            self.close()
            return None
        if isinstance(item, SteadyError):
            self.close()
            raise item
        return self._rows(item)

    def ready(self) -> bool:
        """Whether a batch is waiting (``next_rows(0)`` would not be empty-handed for lack of one)."""
        return not self.done and not self.channel.queue.empty()

    def _rows(self, batch: m.SubscribeBatch) -> list[Row]:
        plan = self.plan
        up_to = plan.up_to
        updates = [(row, time, diff) for row, time, diff in codec.decode_updates(batch.updates)
                   if (plan.with_snapshot or time > self.as_of) and (up_to is None or time < up_to)]
        by_time: dict[int, list[tuple[Row, int]]] = defaultdict(list)
        for row, time, diff in updates:
            by_time[time].append((row, diff))
        out: list[Row] = []
        if plan.progress and self._progress is None:  # the first row says where the subscribe starts
            self._progress = self.as_of
            out.append((self.as_of, True) + (None,) * (self._width - 2))
        for time in sorted(by_time):
            out.extend(self._shape(time, by_time[time]))
        upper = batch.upper
        finished = upper is None or (up_to is not None and upper >= up_to)
        if plan.progress and upper is not None:
            frontier = min(upper, up_to) if up_to is not None else upper
            if self._progress is None or frontier > self._progress:
                self._progress = frontier
                out.append((frontier, True) + (None,) * (self._width - 2))
        if finished:
            self.close()
        return out

    def _shape(self, time: int, changes: list[tuple[Row, int]]) -> list[Row]:
        plan = self.plan
        head: tuple[Any, ...] = (time, False) if plan.progress else (time,)
        if plan.envelope is SubscribeEnvelope.NONE:
            consolidated: dict[Row, int] = defaultdict(int)
            for row, diff in changes:
                consolidated[row] += diff
            ordered = sorted(((d, r) for r, d in consolidated.items() if d), key=lambda x: (x[0], _sort_key(x[1])))
            return [head + (diff,) + tuple(row) for diff, row in ordered]
        return [head + row for row in envelope_rows(plan.envelope, plan.key, changes)]


def envelope_rows(envelope: SubscribeEnvelope, key: tuple[int, ...], changes: list[tuple[Row, int]]) -> list[Row]:
    """One timestamp's changes as ENVELOPE UPSERT / DEBEZIUM rows ``(mz_state, key..., values...)``."""
    per_key: dict[Row, dict[Row, int]] = defaultdict(lambda: defaultdict(int))
    for row, diff in changes:
        per_key[tuple(row[i] for i in key)][tuple(row)] += diff
    out: list[Row] = []
    for key_values in sorted(per_key, key=_sort_key):
        rows = per_key[key_values]
        inserted = [r for r, d in rows.items() for _ in range(max(d, 0))]
        deleted = [r for r, d in rows.items() for _ in range(max(-d, 0))]
        if not inserted and not deleted:
            continue
        width = len(next(iter(rows))) - len(key)

        def values(row: Row | None) -> tuple[Any, ...]:
            return (None,) * width if row is None else tuple(v for i, v in enumerate(row) if i not in key)
        if envelope is SubscribeEnvelope.UPSERT:
            if len(inserted) > 1:
                out.append(("key_violation", *key_values, *values(None)))
            elif inserted:
                out.append(("upsert", *key_values, *values(inserted[0])))
            else:
                out.append(("delete", *key_values, *values(None)))
            continue
        if len(inserted) > 1 or len(deleted) > 1:
            out.append(("key_violation", *key_values, *values(None), *values(None)))
        elif inserted and deleted:
            out.append(("upsert", *key_values, *values(deleted[0]), *values(inserted[0])))
        elif inserted:
            out.append(("insert", *key_values, *values(None), *values(inserted[0])))
        else:
            out.append(("delete", *key_values, *values(deleted[0]), *values(None)))
    return out


def _sort_key(row: Row) -> tuple[Any, ...]:
    return tuple((v is None, str(type(v)), v if v is not None else 0) for v in row)


async def stream(reader: SubscribeReader) -> AsyncIterator[Row]:
    """The streaming SUBSCRIBE statement: every row until the subscribe ends (or the client goes away)."""
    try:
        while True:
            rows = await reader.next_rows()
            if rows is None:
                return
            for row in rows:
                yield row
    finally:
        reader.close()
