"""``concurrency:`` on AWS: how many executions with one key run at once.

The starter renders the key and records it with the execution (in its ``trigger``, under
``concurrency``). ``skip`` and ``cancel-running`` are settled by the starter; ``queue``
creates the execution and the first worker to see it holds it back, re-sending its first
message until the executions started before it with the same key have ended (first in,
first out, by start time).
"""

from __future__ import annotations

from typing import Any, Protocol

from baton.engine.records import RUNNING, WAITING, ExecutionRecord

ACTIVE = frozenset({RUNNING, WAITING})
RECHECK_SECONDS = 30
"""How long a queued execution waits before looking again."""
LOOKUP_LIMIT = 200
"""Recent executions of a workflow examined for holders of a key."""


class WorkflowExecutions(Protocol):
    """The GSI query ``DynamoDBStateStore`` offers."""

    def list_workflow_executions(self, workflow: str, limit: int = 50) -> list[ExecutionRecord]:
        """Recent executions of one workflow, newest first."""
        ...


def concurrency_of(execution: ExecutionRecord) -> dict[str, Any] | None:
    """The rendered concurrency settings an execution was started with, if any."""
    settings = execution.trigger.get("concurrency")
    return settings if isinstance(settings, dict) else None


class ConcurrencyGate:
    """Finds the executions holding a concurrency key."""

    def __init__(self, executions: WorkflowExecutions, *, recheck_seconds: int = RECHECK_SECONDS) -> None:
        self.executions = executions
        self.recheck_seconds = recheck_seconds

    def holders(self, workflow: str, key: str, *, exclude: str | None = None) -> list[ExecutionRecord]:
        """Active executions of ``workflow`` started with ``key``, oldest first."""
        found = [
            execution
            for execution in self.executions.list_workflow_executions(workflow, LOOKUP_LIMIT)
            if execution.status in ACTIVE
            and execution.execution_id != exclude
            and (concurrency_of(execution) or {}).get("key") == key
        ]
        return sorted(found, key=_started)

    def wait_seconds(self, execution: ExecutionRecord) -> int | None:
        """For a queued execution: seconds until it should look again, or None to go now."""
        settings = concurrency_of(execution)
        if settings is None or settings.get("on_conflict") != "queue":
            return None
        ahead = [
            holder
            for holder in self.holders(execution.workflow, settings["key"], exclude=execution.execution_id)
            if _started(holder) < _started(execution)
        ]
        return self.recheck_seconds if len(ahead) >= int(settings.get("limit", 1)) else None


def _started(execution: ExecutionRecord) -> tuple[str, str]:
    started = execution.started_at.isoformat() if execution.started_at else ""
    return started, execution.execution_id
