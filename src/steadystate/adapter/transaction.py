"""A session's transaction block: its state and the rules of BEGIN/COMMIT/ROLLBACK and savepoints.

:class:`Transaction` is what a :class:`~steadystate.adapter.session.ClientSession` knows of its transaction: whether a
block is open (``active``), whether a statement in it failed (``failed``: every later statement fails with 25P02 until
``ROLLBACK``), the writes buffered for ``COMMIT`` (``pending``, all or nothing), the ``ALTER ... RENAME``/``SWAP``
statements buffered for ``COMMIT`` (``renames``, applied in one catalog transaction) and the savepoint names.

Transactions follow Materialize: a block that has written cannot read (25000, "write-only") nor run DDL; renames and
writes do not mix.  The session runs the statements; this module holds the state changes and refusals, so the rules
read in one place: :meth:`Transaction.check_no_pending_writes`, :meth:`Transaction.fail`, :meth:`Transaction.end`
and :func:`savepoint`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from steadystate.adapter.client import CommandOutcome, Outcome
from steadystate.adapter.metrics import statement_kind
from steadystate.adapter.writes import Changes
from steadystate.errors import ActiveTransaction, FeatureNotSupported, SteadyError, quote_ident
from steadystate.sql import plan as p
from steadystate.sql.statements import TransactionAction

#: what a read-only transaction may run (PostgreSQL's rule): reads and session statements; every other plan, writes
#: and DDL and any plan added later, is refused with 25006
READ_ONLY_ALLOWED: tuple[type, ...] = (
    p.SelectPlan, p.SubscribePlan, p.CopyToPlan, p.ExplainPlan, p.SetVariablePlan, p.ResetVariablePlan,
    p.ShowVariablePlan, p.ShowObjectsPlan, p.ShowCreatePlan, p.ShowColumnsPlan, p.TransactionPlan, p.DiscardPlan,
    p.DeallocatePlan, p.DeclarePlan, p.FetchPlan, p.ClosePlan,
)

#: the statements a failed transaction still accepts
ENDS_FAILURE = frozenset({TransactionAction.COMMIT, TransactionAction.ROLLBACK,
                          TransactionAction.ROLLBACK_TO_SAVEPOINT})


@dataclass
class Transaction:
    """The open transaction block of one session (``active`` False: none, every statement commits by itself)."""

    active: bool = False
    failed: bool = False
    pending: Changes = field(default_factory=dict)
    savepoints: list[str] = field(default_factory=list)
    renames: list[p.AlterNamePlan] = field(default_factory=list)  # ALTER ... RENAME/SWAP buffered until COMMIT
    read_only: bool = False  # BEGIN READ ONLY, SET TRANSACTION READ ONLY, default_transaction_read_only
    local_saved: dict[str, str] = field(default_factory=dict)  # SET LOCAL: each variable's value before the block

    @property
    def status(self) -> str:
        """ReadyForQuery's transaction status: ``E`` failed block, ``T`` in a block, ``I`` idle."""
        if self.failed:
            return "E"
        return "T" if self.active else "I"

    def fail(self) -> None:
        """A statement in the block failed: discard what it buffered; only ROLLBACK (or COMMIT) ends it now."""
        if self.active:
            self.failed = True
            self.pending.clear()
            self.renames.clear()

    def end(self, variables: dict[str, str]) -> tuple[Changes, list[p.AlterNamePlan], bool]:
        """Close the block: what it buffered (writes, renames) and whether it had failed; the variables it SET LOCAL
        go back to their values before it."""
        ended = self.pending, self.renames, self.failed
        self.active, self.failed, self.pending, self.renames, self.read_only = False, False, {}, [], False
        self.savepoints.clear()
        variables.update(self.local_saved)
        self.local_saved.clear()
        return ended

    def set_local(self, variables: dict[str, str], name: str, value: str) -> None:
        """``SET LOCAL`` (and ``SET TRANSACTION``): ``name`` takes ``value`` until the block ends."""
        self.local_saved.setdefault(name, variables.get(name, ""))
        variables[name] = value
        if name == "transaction_read_only":
            self.read_only = value.lower() in ("on", "true", "yes", "1")

    def check_allowed(self, plan: p.Plan, default_read_only: bool) -> None:
        """25006 for a plan that writes in a read-only transaction (a statement outside a block is one, read-only
        when ``default_transaction_read_only`` is on)."""
        read_only = self.read_only if self.active else default_read_only
        if read_only and not isinstance(plan, READ_ONLY_ALLOWED):
            what = statement_kind(plan).replace("_", " ").upper()
            raise SteadyError(f"cannot execute {what} in a read-only transaction", sqlstate="25006")

    def check_no_pending_writes(self, what: str) -> None:
        """Refuse ``what`` (DDL, a write) in a block that has buffered renames or writes it would not commit with."""
        if self.renames:
            raise ActiveTransaction(f"{what} cannot run in a transaction that renames or swaps", sqlstate="25000",
                                    hint="COMMIT the ALTER ... RENAME / SWAP statements first")
        if self.pending:
            raise ActiveTransaction(f"{what} cannot run in a transaction that has written", sqlstate="25000",
                                    hint="COMMIT the writes first")

    def check_readable(self) -> None:
        if self.pending:
            raise ActiveTransaction("transaction in write-only mode", sqlstate="25000",
                                    hint="COMMIT the writes before reading")


def savepoint(txn: Transaction, action: TransactionAction, name: str) -> Outcome:
    """``SAVEPOINT``, ``RELEASE SAVEPOINT``, ``ROLLBACK TO SAVEPOINT``: only where they cannot lose a write.

    Materialize refuses savepoints.  Here ``SAVEPOINT`` is accepted only while the transaction has buffered no
    write (psycopg's ``TypeInfo.fetch``, SQLAlchemy's dialects and ORM ``begin_nested`` around reads open one), and
    refused with 0A000 once a write is buffered.  So every buffered write came after the newest savepoint:
    ``ROLLBACK TO`` any of them discards them all (and clears an error), ``RELEASE`` keeps them, as in PostgreSQL.
    """
    if not txn.active:
        raise SteadyError(f"{action.replace('_', ' ').upper()} can only be used in transaction blocks",
                          sqlstate="25P01")
    if action is TransactionAction.SAVEPOINT and txn.pending:
        raise FeatureNotSupported("SAVEPOINT in a transaction that has written is not supported",
                                  hint="savepoints are accepted before the transaction's first write")
    if action is TransactionAction.SAVEPOINT:
        txn.savepoints.append(name)
        return CommandOutcome("SAVEPOINT")
    if name not in txn.savepoints:
        raise SteadyError(f"savepoint {quote_ident(name)} does not exist", sqlstate="3B001")
    position = len(txn.savepoints) - 1 - txn.savepoints[::-1].index(name)
    if action is TransactionAction.RELEASE_SAVEPOINT:
        del txn.savepoints[position:]
        return CommandOutcome("RELEASE")
    del txn.savepoints[position + 1:]
    txn.failed = False
    txn.pending = {}
    return CommandOutcome("ROLLBACK")
