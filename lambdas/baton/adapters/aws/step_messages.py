"""``StepMessageHandler``: what one worker invocation does with one step message.

A message names an execution and, usually, the unit to run. The handler loads the
execution (one query), holds back a start queued behind its concurrency key, and hands the
rest to the engine's ``Driver`` with the SQS step queue, the invocation's remaining time and
room for one unit at a time. The driver runs the unit, then keeps going while time remains:
a unit made ready by its own work runs next in the same invocation (a linear chain is one
invocation and no queue traffic), other ready units are sent to the queue (fan-out
branches), a unit put to sleep gets a wake-up message at its time, and the execution ends
(or waits for approvals) when the planner says so.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from baton.adapters.aws.long_steps import WORKER_MARGIN_SECONDS
from baton.adapters.aws.sqs_step_queue import SqsStepQueue, StepMessage
from baton.adapters.aws.workspaces import WorkspaceSeeds
from baton.engine.context import UnitContext
from baton.engine.driver import LAMBDA_PACE, DriveRequest, DriveResult, DriverHooks
from baton.engine.records import TERMINAL_EXECUTION, TERMINAL_STEP, ExecutionRecord, StepRecord, is_item_key
from baton.engine.service import Engine
from baton.errors import ExecutionNotFoundError
from baton.ports import ItemJoin

__all__ = ["Delivery", "ExecutionLoader", "Lifecycle", "StepMessageHandler"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message as the queue delivered it."""

    message: StepMessage
    receive_count: int = 1
    final: bool = False
    """The last delivery before the dead-letter queue."""
    receipt_handle: str | None = None
    """The queue's handle of this receipt (to keep the message hidden while it is worked on)."""
    held: bool = False
    """Not from the queue: a long-step runner's job, its unit claimed for this process."""

    def request(self) -> DriveRequest:
        """What the driver is asked to do for this delivery."""
        unit = self.message.unit
        courier = unit is not None and self.receive_count == 1
        return DriveRequest(unit=unit, courier=courier, receive_count=self.receive_count, last_delivery=self.final,
                            held=self.held, alone=courier and not self.held and unit is not None
                            and is_item_key(unit))  # fmt: skip


class ExecutionLoader(ItemJoin, Protocol):
    """What the handler needs beyond the ``StateStore`` port: one read of a whole execution,
    a narrower read for one ``for_each`` item, and the item join."""

    def load(self, execution_id: str) -> tuple[ExecutionRecord, dict[str, StepRecord]]:
        """The execution and every record of it."""
        ...

    def load_unit(self, execution_id: str, key: str) -> tuple[ExecutionRecord, dict[str, StepRecord]]:
        """The execution and the records one ``for_each`` item needs (not its siblings)."""
        ...


class Lifecycle(Protocol):
    """Where lifecycle events go (``EventBridgePublisher`` on AWS)."""

    def step_ended(self, execution: ExecutionRecord, record: StepRecord) -> None:
        """A unit ended."""
        ...

    def execution_ended(self, execution: ExecutionRecord) -> None:
        """The execution ended."""
        ...

    def flush(self) -> None:
        """Send what is buffered."""
        ...


class StepObserver(Protocol):
    """What the handlers' observability does when a unit ends (metrics, a log line)."""

    def step_ended(self, execution: ExecutionRecord, record: StepRecord) -> None:
        """A unit reached a final status."""
        ...


class LifecycleObserver:
    """The engine's ``Observer`` on AWS: every unit that ended goes to events and metrics."""

    def __init__(self, lifecycle: Lifecycle, steps: StepObserver | None) -> None:
        self.lifecycle = lifecycle
        self.steps = steps

    def step_changed(self, unit: UnitContext, record: StepRecord) -> None:
        """Publish ``Baton Step ...`` when a unit ends."""
        if record.status in TERMINAL_STEP:
            self.lifecycle.step_ended(unit.execution, record)
            if self.steps is not None:
                self.steps.step_ended(unit.execution, record)

    def execution_changed(self, execution: ExecutionRecord) -> None:
        """The driver's hooks report the execution's end."""


VISIBILITY_MARGIN_SECONDS = 30
"""How much longer than a lease a message stays hidden: past a dead receiver's lease."""
BACKOFF_BASE_SECONDS = 2
"""A message whose handling failed comes back after 2, 4, 8... seconds (capped at 15 min)."""


class MessageVisibility:
    """Keeps a message hidden in lease-sized steps while its work goes on.

    The queue's own visibility timeout is only a ceiling (it must cover the function's
    timeout): a message is hidden for one lease (plus a margin) when its work starts and
    again every third of that while units run. A worker that dies leaves it hidden for at
    most that long, so another worker takes over in lease time, not queue time.
    """

    def __init__(self, queue: SqsStepQueue, receipt_handle: str, *, lease_seconds: float,
                 monotonic: Callable[[], float]) -> None:  # fmt: skip
        self.queue = queue
        self.receipt_handle = receipt_handle
        self.seconds = int(lease_seconds) + VISIBILITY_MARGIN_SECONDS
        self.monotonic = monotonic
        self._held_at = -1e18

    def hold(self) -> None:
        """Hide the message for a lease from now."""
        self.queue.keep_invisible(self.receipt_handle, self.seconds)
        self._held_at = self.monotonic()

    def heartbeat(self) -> None:
        """Hide it again when a third of the last hold has passed."""
        if self.monotonic() - self._held_at >= self.seconds / 3:
            self.hold()

    def back_off(self, receive_count: int) -> None:
        """After a failure: let the message come back soon, later with each failure."""
        self.queue.keep_invisible(self.receipt_handle, min(900, BACKOFF_BASE_SECONDS * 2 ** max(0, receive_count - 1)))


class _EndedHooks(DriverHooks):
    """The driver's hooks, with the execution's end also published as an event and the
    message kept hidden while units run."""

    def __init__(self, inner: DriverHooks, lifecycle: Lifecycle, visibility: MessageVisibility | None) -> None:
        self.inner = inner
        self.lifecycle = lifecycle
        self.visibility = visibility

    def unit_started(self, execution: ExecutionRecord, key: str) -> None:
        self.inner.unit_started(execution, key)

    def unit_ended(self, execution: ExecutionRecord, record: StepRecord | None) -> None:
        self.inner.unit_ended(execution, record)

    def execution_ended(self, execution: ExecutionRecord) -> None:
        self.lifecycle.execution_ended(execution)
        self.inner.execution_ended(execution)

    def heartbeat(self) -> None:
        if self.visibility is not None:
            self.visibility.heartbeat()
        self.inner.heartbeat()


class StepMessageHandler:
    """Turns step messages into driver runs, for one worker invocation."""

    def __init__(
        self,
        engine: Engine,
        loader: ExecutionLoader,
        queue: SqsStepQueue,
        lifecycle: Lifecycle,
        *,
        remaining_seconds: Callable[[], float],
        workspace_root: Path,
        hooks: DriverHooks | None = None,
        steps: StepObserver | None = None,
        margin_seconds: float = WORKER_MARGIN_SECONDS,
        most_seconds: float | None = None,
        recheck_seconds: float = 30.0,
        seeds: WorkspaceSeeds | None = None,
    ) -> None:
        self.engine = engine
        self.loader = loader
        self.queue = queue
        self.lifecycle = lifecycle
        self.remaining_seconds = remaining_seconds
        self.workspace_root = workspace_root
        self.hooks = hooks or DriverHooks()
        self.steps = steps
        self.margin_seconds = margin_seconds
        self.most_seconds = most_seconds
        """The longest time any invocation gets (the function's timeout), if known."""
        self.recheck_seconds = recheck_seconds
        """How long an execution queued behind its concurrency key waits between looks."""
        self.seeds = seeds
        """Unpacks an execution's starting files (``baton start --workspace``) into this sandbox."""

    def visibility_of(self, delivery: Delivery) -> MessageVisibility | None:
        """What keeps this delivery's message hidden, when the queue gave a handle."""
        if delivery.receipt_handle is None:
            return None
        return MessageVisibility(self.queue, delivery.receipt_handle, lease_seconds=self.engine.lease_seconds,
                                 monotonic=self.engine.ports.clock.monotonic)  # fmt: skip

    def handle(self, delivery: Delivery, visibility: MessageVisibility | None = None) -> DriveResult:
        """Do the message's work and whatever follows while time remains."""
        execution_id = delivery.message.execution_id
        request = delivery.request()
        try:
            if request.alone and request.unit is not None:
                execution, records = self.loader.load_unit(execution_id, request.unit)
            else:
                execution, records = self.loader.load(execution_id)
        except ExecutionNotFoundError:
            gone = ExecutionRecord(execution_id, "", "", status="unknown")
            return DriveResult(gone, note=f"execution {execution_id} does not exist (expired or never created)")
        if execution.status in TERMINAL_EXECUTION:
            return DriveResult(execution, note="the execution already ended")
        workspace = self._workspace(execution)
        driver = self.engine.driver(
            execution,
            records,
            self.queue,
            observer=LifecycleObserver(self.lifecycle, self.steps),
            workspace=workspace,
            remaining_seconds=self.remaining_seconds,
            margin_seconds=self.margin_seconds,
            most_seconds=self.most_seconds if self.most_seconds is not None else float("inf"),
            room=1,
            pace=LAMBDA_PACE,
            hooks=_EndedHooks(self.hooks, self.lifecycle, visibility),
            recheck_seconds=self.recheck_seconds,
            join=self.loader,
        )
        if visibility is not None:
            visibility.hold()
        try:
            return self.engine.run_driver(driver, request)
        finally:
            self.lifecycle.flush()

    def _workspace(self, execution: ExecutionRecord) -> Path:
        """This execution's folder, with its starting files; other executions' folders are
        stale in this sandbox. Raises ``WorkspaceError`` when the starting files cannot be had."""
        root = self.workspace_root / "executions"
        root.mkdir(parents=True, exist_ok=True)
        for other in root.iterdir():
            if other.name != execution.execution_id:
                shutil.rmtree(other, ignore_errors=True)
        workspace = root / execution.execution_id
        if self.seeds is not None:
            self.seeds.prepare(workspace, execution.trigger)
        else:
            workspace.mkdir(exist_ok=True)
        return workspace
