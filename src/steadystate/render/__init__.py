"""Rendering plans into running dataflows: the evaluation layer shared by the replica and the coordinator.

A :class:`RenderedDataflow` turns a ``DataflowDescription`` (plans in the SQL IR, ``steadystate.expr``) into
operators of the engine (``steadystate.dataflow``), which knows nothing of SQL: this package is where the IR is
translated — scalar expressions compiled to row functions, join equivalences planned into binary steps, SQL
aggregates turned into the engine's aggregate states and accumulators, ORDER BY into sort keys.

It sits below both of its users: the replica (``steadystate.compute``) renders every dataflow it runs, and the
coordinator (``steadystate.adapter``) renders in-process to answer queries over builtin relations
(``Reads.evaluate_locally``) and to let ``EXPLAIN`` report what the replica's renderer decides (which joins read
an imported index in place).  The coordinator never imports ``steadystate.compute``, the replica's process
code; both import this.  It depends on ``dataflow``, ``expr``, ``repr``, ``errors`` and the dataflow
descriptions of ``protocol.messages``.
"""

from steadystate.dataflow.arrangement import Arrangement, ArrangementCursor
from steadystate.dataflow.collection import Update
from steadystate.render.dataflow import ImportJoin, RenderedDataflow

__all__ = ["Arrangement", "ArrangementCursor", "ImportJoin", "RenderedDataflow", "Update"]
