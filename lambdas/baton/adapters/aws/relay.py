"""``Relay``: what one worker invocation does with one step message.

The local ``Driver`` runs a whole execution in one process; on AWS an execution moves
between invocations through the step queue. For one message the relay loads the execution
(one query), runs the unit the message names, and then keeps going while time remains:

- a unit that became ready through its own work runs next in the same invocation (a
  linear chain is one invocation and no queue traffic: "inline continuation");
- other units that became ready are sent to the queue (fan-out branches), one message each;
- a unit put to sleep (a retry's backoff, a ``wait``, an approval's deadline) gets a
  wake-up message at its time (SQS delay, or EventBridge Scheduler beyond 15 minutes);
- the execution ends (or waits for approvals) when the planner says so.

Who sends what: a unit gets a message from the worker whose write made it ready, so each
ready unit has one courier. A message whose unit cannot run yet is re-sent for when it can
(a live lease held by a duplicate delivery, a wake time not reached); a redelivered message
(its previous receiver died) re-drives everything ready, since that receiver may have died
before sending its successors. Every claim is conditional, so a duplicate message costs a
read, never a second run.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from baton.adapters.aws.relay_run import MessageRun
from baton.adapters.aws.relay_support import (
    Delivery,
    Hooks,
    Lifecycle,
    LifecycleObserver,
    RelayResult,
    StepQueue,
)
from baton.engine.executor import Executor
from baton.engine.records import (
    PENDING,
    TERMINAL_EXECUTION,
    ExecutionRecord,
    StepRecord,
)
from baton.engine.service import Engine
from baton.errors import ExecutionNotFoundError

__all__ = ["Delivery", "ExecutionLoader", "Relay", "RelayResult"]


class ExecutionLoader(Protocol):
    """What the relay needs beyond the ``StateStore`` port: one read of a whole execution."""

    def load(self, execution_id: str) -> tuple[ExecutionRecord, dict[str, StepRecord]]:
        """The execution and every record of it."""
        ...


class Relay:
    """Handles step messages for one worker invocation."""

    def __init__(
        self,
        engine: Engine,
        loader: ExecutionLoader,
        queue: StepQueue,
        lifecycle: Lifecycle,
        *,
        remaining_seconds: Callable[[], float],
        workspace_root: Path,
        hooks: Hooks | None = None,
        margin_seconds: float = 15.0,
        gate: Callable[[ExecutionRecord], int | None] | None = None,
    ) -> None:
        self.engine = engine
        self.loader = loader
        self.queue = queue
        self.lifecycle = lifecycle
        self.remaining_seconds = remaining_seconds
        self.workspace_root = workspace_root
        self.hooks = hooks or Hooks()
        self.margin_seconds = margin_seconds
        self.gate = gate
        """Seconds a not yet started execution must wait for (``concurrency: queue``)."""

    def handle(self, delivery: Delivery) -> RelayResult:
        """Do the message's work and whatever follows while time remains."""
        execution_id = delivery.message.execution_id
        try:
            execution, records = self.loader.load(execution_id)
        except ExecutionNotFoundError:
            return RelayResult(note=f"execution {execution_id} does not exist (expired or never created)")
        if execution.status in TERMINAL_EXECUTION:
            return RelayResult(status=execution.status, note="the execution already ended")
        wait = self._held_back(delivery, execution, records)
        if wait is not None:
            self.queue.dispatch([delivery.message], wait)
            return RelayResult(sent=1, status=execution.status, note=f"queued behind its concurrency key for {wait}s")
        definition = self.engine.definition_of(execution)
        workspace = self._workspace(execution_id)
        ports = self.engine.ports
        executor = Executor(
            definition,
            execution.evolve(workspace=str(workspace)),
            records,
            ports,
            ports.new_dispatcher(),
            secrets=self.engine.resolve_secrets(definition),
            base_env=self.engine.base_env,
            observer=LifecycleObserver(self.lifecycle, self.hooks),
            lease_seconds=self.engine.lease_seconds,
        )
        try:
            return MessageRun(self, executor, delivery, stored_workspace=execution.workspace).run()
        finally:
            executor.dispatcher.shutdown()
            shutil.rmtree(executor.scratch, ignore_errors=True)
            self.lifecycle.flush()

    def _held_back(self, delivery: Delivery, execution: ExecutionRecord, records: dict[str, StepRecord]) -> int | None:
        """Seconds to wait before a queued execution may start, or None."""
        if self.gate is None or delivery.message.unit is not None:
            return None
        if any(record.attempt or record.status != PENDING for record in records.values()):
            return None  # it has started: it holds its key
        return self.gate(execution)

    def _workspace(self, execution_id: str) -> Path:
        """This execution's folder; other executions' folders are stale in this sandbox."""
        root = self.workspace_root / "executions"
        root.mkdir(parents=True, exist_ok=True)
        for other in root.iterdir():
            if other.name != execution_id:
                shutil.rmtree(other, ignore_errors=True)
        workspace = root / execution_id
        workspace.mkdir(exist_ok=True)
        return workspace
