"""Admission: ``concurrency:`` as an engine policy over a counted lock of the state store.

An execution of a workflow with ``concurrency: {key, limit, on_conflict}`` takes a slot of
its rendered key before it runs anything, and gives it back when it ends. Taking a slot is
one atomic conditional write (a SQLite transaction locally, a conditional ``UpdateItem`` on
DynamoDB), so two starts racing for the last slot never both win, whichever processes they
run in. When the key is full: ``queue`` waits and looks again, ``skip`` ends the new
execution at once, ``cancel-running`` asks the holders to cancel and then waits for their slots.
A slot whose holder ended without giving it back (a crash) is freed by the next look.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from baton.engine.expressions import Expressions
from baton.engine.records import RUNNING, WAITING, ExecutionRecord
from baton.errors import ExecutionNotFoundError, StateConflictError
from baton.ports import StateStore

RECHECK_SECONDS = 1.0
"""How long a queued execution waits between looks at its key (locally; on AWS its message
comes back after the worker's ``recheck_seconds``)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to one look at the key: ``go``, ``wait`` or ``skip``."""

    outcome: str
    key: str = ""
    holders: list[str] = field(default_factory=list)
    cancel_holders: bool = False


GO = Verdict("go")


def render_concurrency(
    settings: Mapping[str, Any] | None, workflow: str, inputs: Mapping[str, Any], expressions: Expressions
) -> dict[str, Any] | None:
    """The settings with the key rendered over the execution's inputs (kept in its record)."""
    if settings is None:
        return None
    rendered = dict(settings)
    template = str(settings.get("key") or "{{ workflow }}")
    rendered["key"] = str(expressions.render(template, {"inputs": dict(inputs), "workflow": workflow}))
    rendered.setdefault("limit", 1)
    rendered.setdefault("on_conflict", "queue")
    return rendered


def concurrency_of(execution: ExecutionRecord) -> dict[str, Any] | None:
    """The rendered settings an execution was started with, if any."""
    settings = execution.trigger.get("concurrency")
    return settings if isinstance(settings, dict) else None


def lock_name(execution: ExecutionRecord, settings: Mapping[str, Any]) -> str:
    """Keys are per workflow: two workflows may use the same key text."""
    return f"{execution.workflow}/{settings['key']}"


def admit(store: StateStore, execution: ExecutionRecord) -> Verdict:
    """Take the execution's slot, or say why it cannot run yet."""
    settings = concurrency_of(execution)
    if settings is None:
        return GO
    lock, limit = lock_name(execution, settings), int(settings.get("limit", 1))
    me = execution.execution_id
    if store.take_slot(lock, me, limit):
        return GO
    for holder in store.slot_holders(lock):
        if holder != me and not _active(store, holder):
            store.release_slot(lock, holder)  # it ended without giving its slot back
    if store.take_slot(lock, me, limit):
        return GO
    holders = sorted(h for h in store.slot_holders(lock) if h != me)
    policy = settings.get("on_conflict", "queue")
    if policy == "skip":
        return Verdict("skip", str(settings["key"]), holders)
    return Verdict("wait", str(settings["key"]), holders, cancel_holders=policy == "cancel-running")


def release(store: StateStore, execution: ExecutionRecord) -> None:
    """Give the execution's slot back (it ended)."""
    settings = concurrency_of(execution)
    if settings is not None:
        store.release_slot(lock_name(execution, settings), execution.execution_id)


def request_cancel(store: StateStore, execution_id: str) -> bool:
    """Ask a holder to cancel; False if it already ended."""
    for _ in range(10):
        try:
            execution = store.get_execution(execution_id)
        except ExecutionNotFoundError:
            return False
        if execution.status not in (RUNNING, WAITING):
            return False
        if execution.cancel_requested:
            return True
        try:
            store.update_execution(execution.evolve(cancel_requested=True, status=RUNNING))
        except StateConflictError:
            continue
        return True
    return False


def _active(store: StateStore, execution_id: str) -> bool:
    try:
        return store.get_execution(execution_id).status in (RUNNING, WAITING)
    except ExecutionNotFoundError:
        return False
