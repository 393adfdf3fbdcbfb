"""The end of a message no worker could handle: its execution is marked failed with the
reason, so the dead-letter queue is never the only place a failure is recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from baton.adapters.aws.events import EventBridgePublisher
from baton.adapters.aws.step_messages import ExecutionLoader
from baton.engine.children import notify_parent
from baton.engine.records import FAILED, TERMINAL_EXECUTION, TERMINAL_STEP, ExecutionRecord
from baton.errors import ExecutionNotFoundError, StateConflictError
from baton.ports import StateStore, StepQueue

_ATTEMPTS = 5


class Store(ExecutionLoader, StateStore, Protocol):
    """A state store that can also load an execution whole (``DynamoDBStateStore``)."""


def fail_execution(
    store: Store,
    publisher: EventBridgePublisher,
    execution_id: str,
    *,
    unit: str | None,
    reason: str,
    now: datetime,
    queue: StepQueue | None = None,
) -> ExecutionRecord | None:
    """Mark the execution (and the unit, if it had not ended) failed with ``reason``; a
    child's parent is woken through ``queue`` as when a child ends by its own driver.

    Returns the failed execution, or None when this call did not end it (it had ended
    already, does not exist, or kept changing under us).
    """
    for _ in range(_ATTEMPTS):
        try:
            execution, records = store.load(execution_id)
        except ExecutionNotFoundError:
            return None
        if execution.status in TERMINAL_EXECUTION:
            return None  # ended meanwhile, and reported by whoever ended it
        record = records.get(unit) if unit is not None else None
        updates = []
        if record is not None and record.status not in TERMINAL_STEP:
            updates.append(record.evolve(status=FAILED, error=reason, finished_at=now,
                                         lease_owner=None, lease_expires_at=None))  # fmt: skip
        try:
            _, stored = store.commit(updates, execution=execution.evolve(status=FAILED, error=reason, finished_at=now))
        except StateConflictError:
            continue  # it moved on meanwhile: look again
        assert stored is not None
        if queue is not None:
            notify_parent(store, queue, stored, now)
        publisher.execution_ended(stored)
        publisher.flush()
        return stored
    return None
