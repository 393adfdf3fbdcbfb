"""What the relay works with: its queue and lifecycle protocols, observability hooks (the
handlers fill them with Powertools), the time a unit needs, and the workspace files a unit
expects from the steps before it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from baton.adapters.aws.sqs_dispatcher import StepMessage
from baton.engine.context import UnitContext
from baton.engine.executor import Executor
from baton.engine.records import (
    COMPENSATION_SUFFIX,
    KIND_ITEM,
    TERMINAL_STEP,
    ExecutionRecord,
    StepRecord,
)
from baton.ports import ArtifactRef

DEFAULT_STEP_SECONDS = 60.0
"""Time set aside for a step without a ``timeout`` before running it inline."""
SUSPENDING_TYPES = frozenset({"wait", "approval"})


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message as the queue delivered it."""

    message: StepMessage
    receive_count: int = 1
    final: bool = False
    """The last delivery before the dead-letter queue."""

    @property
    def redelivered(self) -> bool:
        """True when an earlier receiver took the message and never finished with it."""
        return self.receive_count > 1


@dataclass
class RelayResult:
    """What one message led to (for logs, metrics and tests)."""

    ran: list[str] = field(default_factory=list)
    sent: int = 0
    status: str | None = None
    """The execution's status when the relay stopped (None if it does not exist)."""
    note: str = ""


class StepQueue(Protocol):
    """Where units go to be run by another invocation (``SqsDispatcher`` on AWS)."""

    def dispatch(self, messages: Sequence[StepMessage], delay_seconds: int = 0) -> None:
        """Send messages, due after ``delay_seconds``."""
        ...

    def dispatch_at(self, message: StepMessage, when: datetime) -> None:
        """Have a message delivered at ``when``."""
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


class Hooks:
    """Observability around the relay's work; the handlers override these with Powertools
    (a trace subsegment per unit, metrics when units and executions end)."""

    @contextmanager
    def unit(self, execution: ExecutionRecord, key: str) -> Iterator[Callable[[StepRecord], None]]:
        """Wraps running one unit; the yielded callable is given the unit's final record."""
        yield lambda record: None

    def unit_ended(self, execution: ExecutionRecord, record: StepRecord) -> None:
        """A unit reached a final status."""

    def execution_ended(self, execution: ExecutionRecord) -> None:
        """The execution reached a final status."""


class LifecycleObserver:
    """The engine's ``Observer``: forwards every unit that ended to events and hooks."""

    def __init__(self, lifecycle: Lifecycle, hooks: Hooks) -> None:
        self.lifecycle = lifecycle
        self.hooks = hooks

    def step_changed(self, unit: UnitContext, record: StepRecord) -> None:
        """Publish ``Baton Step ...`` when a unit ends."""
        if record.status in TERMINAL_STEP:
            self.lifecycle.step_ended(unit.execution, record)
            self.hooks.unit_ended(unit.execution, record)

    def execution_changed(self, execution: ExecutionRecord) -> None:
        """The relay reports the execution's end itself."""


def unit_budget_seconds(executor: Executor, key: str) -> float:
    """Seconds a unit may need: its timeout (or a default); nearly none to suspend or expand."""
    record = executor.records.get(key)
    step_id = record.step_id if record is not None else key.removesuffix(COMPENSATION_SUFFIX).split("[")[0]
    step = executor.definition.step(step_id)
    body = step.compensate if key.endswith(COMPENSATION_SUFFIX) and step.compensate else step.body
    expanding = step.for_each is not None and (record is None or record.kind != KIND_ITEM)
    if body.type in SUSPENDING_TYPES or (expanding and not key.endswith(COMPENSATION_SUFFIX)):
        return 0.0
    return body.timeout_seconds or DEFAULT_STEP_SECONDS


def restore_declared_files(executor: Executor) -> None:
    """Put the files earlier units declared as outputs into this invocation's workspace.

    Steps of one execution run in different sandboxes; a later step must still find an
    earlier one's declared output files where the workflow says they are. When two units
    declared the same path, the one that finished last wins.
    """
    latest: dict[str, tuple[datetime | None, dict[str, object]]] = {}
    for record in executor.records.values():
        for info in record.artifacts.values():
            path = str(info["path"])
            seen = latest.get(path)
            if seen is None or (record.finished_at and (seen[0] is None or record.finished_at > seen[0])):
                latest[path] = (record.finished_at, info)
    for path, (_, info) in latest.items():
        destination = executor.workspace / path
        if not destination.exists():
            ref = info["ref"]
            assert isinstance(ref, dict)
            executor.ports.artifacts.restore_file(ArtifactRef.from_data(ref), destination)
