"""``EventBridgePublisher``: lifecycle events on the Baton bus.

Events are buffered and sent ten to a ``PutEvents`` request when the worker flushes (at the
end of each unit's work and of each invocation), so a chain of steps run inline costs a
tenth of a request per event. They are notifications, delivered at most once: an entry the
bus refuses twice is dropped and counted, never allowed to fail a step that succeeded.
Per-step events are opt-in (``step_events``, the stack's ``baton:step-events``): each is a
billed event, and a 50-step chain would publish 50 of them for 2 about the execution.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from baton import resource_names as names
from baton.engine.records import ExecutionRecord, StepRecord

MAX_ENTRIES = 10
MAX_DETAIL_BYTES = 200_000
"""PutEvents entries are at most 256 KB; larger details are cut down to their summary."""

EXECUTION_STARTED = "Baton Execution Started"
EXECUTION_SUCCEEDED = "Baton Execution Succeeded"
EXECUTION_FAILED = "Baton Execution Failed"
EXECUTION_CANCELLED = "Baton Execution Cancelled"
STEP_SUCCEEDED = "Baton Step Succeeded"
STEP_FAILED = "Baton Step Failed"
DEFINITION_REGISTERED = "Baton Definition Registered"
DEFINITION_REJECTED = "Baton Definition Rejected"

_EXECUTION_ENDED = {"succeeded": EXECUTION_SUCCEEDED, "failed": EXECUTION_FAILED, "cancelled": EXECUTION_CANCELLED}
_STEP_ENDED = {"succeeded": STEP_SUCCEEDED, "cached": STEP_SUCCEEDED, "failed": STEP_FAILED}


class EventBridgePublisher:
    """Buffers events for one bus and sends them in batches."""

    def __init__(
        self, events: Callable[[], Any], *, bus: str, source: str = names.EVENT_SOURCE, step_events: bool = False
    ) -> None:
        self._events = events
        self.step_events = step_events
        self.bus = bus
        self.source = source
        self._pending: list[dict[str, Any]] = []
        self.dropped = 0
        """Entries the bus refused twice (reported by the handlers as a metric)."""

    def publish(self, detail_type: str, detail: Mapping[str, Any], resources: list[str] | None = None) -> None:
        """Queue one event; it is sent by :meth:`flush`."""
        text = json.dumps(detail, separators=(",", ":"), default=str)
        if len(text) > MAX_DETAIL_BYTES:
            text = json.dumps({k: v for k, v in detail.items() if not isinstance(v, dict | list)}, default=str)
        entry: dict[str, Any] = {
            "Source": self.source,
            "DetailType": detail_type,
            "Detail": text,
            "EventBusName": self.bus,
        }
        if resources:
            entry["Resources"] = resources
        self._pending.append(entry)
        if len(self._pending) >= MAX_ENTRIES:
            self.flush()

    def flush(self) -> None:
        """Send every queued event (failed entries are retried once)."""
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), MAX_ENTRIES):
            batch = pending[start : start + MAX_ENTRIES]
            refused = self._put(batch)
            if refused:
                self.dropped += len(self._put(refused))

    def _put(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = self._events().put_events(Entries=batch)
        if not response.get("FailedEntryCount"):
            return []
        return [entry for entry, result in zip(batch, response["Entries"], strict=False) if result.get("ErrorCode")]

    # -- lifecycle ------------------------------------------------------------------------

    def execution_started(self, execution: ExecutionRecord) -> None:
        """``Baton Execution Started``."""
        self.publish(EXECUTION_STARTED, execution_detail(execution))

    def execution_ended(self, execution: ExecutionRecord) -> None:
        """``Baton Execution Succeeded|Failed|Cancelled``, by its final status."""
        detail_type = _EXECUTION_ENDED.get(execution.status)
        if detail_type is not None:
            self.publish(detail_type, execution_detail(execution))

    def step_ended(self, execution: ExecutionRecord, record: StepRecord) -> None:
        """``Baton Step Succeeded|Failed`` for a step, item or compensation that ended (when
        step events are on)."""
        if not self.step_events:
            return
        detail_type = _STEP_ENDED.get(record.status)
        if detail_type is not None:
            self.publish(detail_type, step_detail(execution, record))


def execution_detail(execution: ExecutionRecord) -> dict[str, Any]:
    """What lifecycle events tell of an execution (outputs stay in the record)."""
    return {
        "execution_id": execution.execution_id,
        "workflow": execution.workflow,
        "version": execution.workflow_version,
        "status": execution.status,
        "error": execution.error,
        "started_at": execution.started_at,
        "finished_at": execution.finished_at,
    }


def step_detail(execution: ExecutionRecord, record: StepRecord) -> dict[str, Any]:
    """What lifecycle events tell of one unit."""
    return {
        "execution_id": execution.execution_id,
        "workflow": execution.workflow,
        "step": record.step_id,
        "key": record.key,
        "kind": record.kind,
        "status": record.status,
        "attempt": record.attempt,
        "cache_hit": record.cache_hit,
        "error": record.error,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
    }
