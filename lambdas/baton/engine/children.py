"""Child executions: what a ``workflow`` unit does when it begins, wakes or is cancelled, and
how a child's end wakes it.

A ``workflow`` unit is a ``suspend`` unit. When it begins, the child's definition is found
through the home's ``ChildWorkflows`` port, the child's inputs are checked against the
child's own ``inputs:``, and the child is created (its id derived from the parent's id, the
unit's key and the attempt, so a repeated begin finds the same child) and launched; the unit
waits with the child's id on its record and holds no compute. When the child ends, its
driver sets the unit's ``wake_at`` to now (and tells the step queue), so the parent's next
plan wakes the unit, which takes the child's outputs or fails with its error.

A unit begun again after a ``resume`` keeps its link: a failed or cancelled child is resumed
(only its failed steps run again), a succeeded one gives its outputs at once. Cancelling the
unit (the parent was cancelled or failed elsewhere) asks the child to cancel.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baton.engine.attempt import AttemptOutcome
from baton.engine.definition import Definition
from baton.engine.records import (
    CANCELLED,
    FAILED,
    RUNNING,
    SUCCEEDED,
    TERMINAL_EXECUTION,
    WAITING,
    ExecutionRecord,
    StepRecord,
)
from baton.errors import BatonError, ExecutionNotFoundError, ResumeError, StateConflictError
from baton.ports import CacheEntry, ChildDefinition, Ports, StateStore, StepQueue
from baton.steps.base import StepResult

if TYPE_CHECKING:
    from baton.engine.executor import Executor
    from baton.engine.service import Engine

MAX_DEPTH = 10
"""How deep children may nest: a workflow that calls itself through a template stops here."""
CHILD_SOURCE = "workflow"
"""``trigger.source`` of a child execution."""
_RETRIES = 20


def child_execution_id(parent_id: str, unit_key: str, attempt: int) -> str:
    """The id of the child attempt ``attempt`` of unit ``unit_key`` starts: the parent's
    time part (so ``baton list`` shows them together) and a hash, of a fixed length."""
    token = hashlib.sha256(f"{parent_id}/{unit_key}/{attempt}".encode()).hexdigest()[:10]
    return f"{parent_id[:15]}-c{token}"


def parent_link(execution: ExecutionRecord) -> dict[str, Any] | None:
    """``{execution_id, unit, depth}`` of a child execution's parent, or None."""
    parent = execution.trigger.get("parent")
    return parent if isinstance(parent, dict) else None


def depth_of(execution: ExecutionRecord) -> int:
    """0 for an execution nobody started as a child."""
    link = parent_link(execution)
    return int(link.get("depth", 1)) if link else 0


# -- begin ------------------------------------------------------------------------------


def begin(executor: Executor, waiting: StepRecord, fields: dict[str, Any]) -> bool:
    """Start (or pick up again) the child of a claimed unit ``waiting`` (not yet written)."""
    previous = executor.records[waiting.key].child
    try:
        child, launch = _attach(executor, waiting, fields, previous)
    except BatonError as exc:
        failure = StepResult.failure(executor.masker.text(str(exc)), retryable=False)
        return executor.finish_waiting(waiting, failure)
    if not executor.write(waiting.evolve(child=child.execution_id)):
        return False
    if launch:
        executor.ports.children.launch(child)
    latest = _get(executor.ports, child.execution_id)
    if latest is not None and latest.status in TERMINAL_EXECUTION:
        return wake(executor, executor.records[waiting.key])  # it ended before the unit waited
    return True


def _attach(
    executor: Executor, waiting: StepRecord, fields: dict[str, Any], previous: str | None
) -> tuple[ExecutionRecord, bool]:
    """The child to wait on, and whether it must be launched."""
    if previous is not None:
        child = _get(executor.ports, previous)
        if child is not None and child.status == SUCCEEDED:
            return child, False
        if child is not None and child.status in (FAILED, CANCELLED):
            return _resume(executor, previous, fields), True
        if child is not None:
            return child, child.status == RUNNING  # a child nobody drives any more is taken over
    return _create(executor, waiting, fields), True


def _resume(executor: Executor, child_id: str, fields: dict[str, Any]) -> ExecutionRecord:
    """Resume a failed or cancelled child with the inputs rendered now."""
    try:
        resumed: ExecutionRecord = _engine(executor).resume(child_id, inputs=fields["inputs"])
    except ResumeError:
        child = _get(executor.ports, child_id)
        if child is None or child.status in (FAILED, CANCELLED):
            raise
        return child  # another worker resumed it first
    return resumed


def _create(executor: Executor, waiting: StepRecord, fields: dict[str, Any]) -> ExecutionRecord:
    parent = executor.execution
    depth = depth_of(parent) + 1
    if depth > MAX_DEPTH:
        raise BatonError(
            f"workflow {fields['workflow']!r}: children nest more than {MAX_DEPTH} deep (does a workflow call itself?)"
        )
    if executor.masker.reveals(fields["inputs"]):
        raise BatonError("an input of a child workflow may not hold a secret; declare the secret in the child")
    found = executor.ports.children.resolve(fields["workflow"], parent)
    child_id = child_execution_id(parent.execution_id, waiting.key, waiting.attempt)
    existing = _get(executor.ports, child_id) or _create_new(
        executor, waiting, fields, found=found, child_id=child_id, depth=depth
    )
    link = parent_link(existing) or {}
    if (link.get("execution_id"), link.get("unit")) != (parent.execution_id, waiting.key):
        raise BatonError(f"execution {child_id} exists and is not this step's child; run the step again")
    return existing  # new, or created before a crash by this unit's same attempt


def _create_new(
    executor: Executor,
    waiting: StepRecord,
    fields: dict[str, Any],
    *,
    found: ChildDefinition,
    child_id: str,
    depth: int,
) -> ExecutionRecord:
    from baton.engine.creation import new_execution

    parent = executor.execution
    definition = Definition.from_data(found.data)
    link = {"execution_id": parent.execution_id, "unit": waiting.key, "depth": depth, "workflow": parent.workflow}
    trigger: dict[str, Any] = {"source": CHILD_SOURCE, "parent": link, "env": _start_env(executor, definition)}
    if found.file is not None:
        trigger["file"] = found.file
    if "workspace" in parent.trigger:  # the starting files a deployed parent was given
        trigger["workspace"] = parent.trigger["workspace"]
    try:
        execution, records = new_execution(
            executor.ports, definition, found.digest, fields["inputs"], execution_id=child_id,
            workspace=Path(parent.workspace), trigger=trigger, no_cache=parent.no_cache,
        )  # fmt: skip
    except BatonError as exc:
        raise BatonError(f"workflow {fields['workflow']!r}: {exc}") from exc
    try:
        return executor.ports.store.create_execution(execution, records)
    except StateConflictError:
        return executor.ports.store.get_execution(child_id)


def _start_env(executor: Executor, definition: Definition) -> dict[str, str]:
    """The start environment the child reads through ``env``: the parent's, else this process's."""
    given = {**executor.base_env, **(executor.execution.trigger.get("env") or {})}
    return {name: given[name] for name in definition.environment_names() if name in given}


# -- wake -------------------------------------------------------------------------------


def wake(executor: Executor, record: StepRecord) -> bool:
    """A waiting ``workflow`` unit is due: take the child's end, or time the unit out."""
    child = _get(executor.ports, record.child) if record.child else None
    if child is None:
        result = StepResult.failure(f"its child execution {record.child} is gone", retryable=False)
        return executor.finish(record.key, AttemptOutcome(result))
    if child.status not in TERMINAL_EXECUTION:
        _cancel_child(executor, child.execution_id)
        result = StepResult.failure(
            f"the child execution {child.execution_id} did not end before the step timed out",
            kind="timeout",
            retryable=False,
        )
        return executor.finish(record.key, AttemptOutcome(result))
    result = outcome_of(child)
    error = executor.masker.text(result.error) if result.error else None
    masked = StepResult(executor.masker.data(result.outputs), error, result.kind, result.retryable)
    files = _put_cached(executor, record, child, masked) if masked.ok and record.cache_key is not None else {}
    return executor.finish(record.key, AttemptOutcome(masked, files))


def definition_digest(executor: Executor, fields: dict[str, Any]) -> str:
    """The digest of the definition a ``workflow`` unit would run (part of a cached unit's key)."""
    return executor.ports.children.resolve(fields["workflow"], executor.execution).digest


def _put_cached(executor: Executor, record: StepRecord, child: ExecutionRecord, result: StepResult) -> dict[str, Any]:
    """Keep a cached unit's result: the child's outputs, and the files its outputs name (the
    declared files of the child's steps), which a hit puts back in the workspace. The files
    are also the unit's own, so the steps after it see their digests as after a hit."""
    workspace = Path(child.workspace)
    files: dict[str, Any] = {}
    for unit in executor.ports.store.get_steps(child.execution_id).values():
        for info in unit.artifacts.values():
            path = str(workspace / info["path"])
            files.update({name: info for name, value in result.outputs.items() if value == path})
    now = executor.ports.clock.now()
    ttl = executor.definition.step(record.step_id).cache_ttl_seconds
    expires = now + timedelta(seconds=ttl) if ttl is not None else None
    assert record.cache_key is not None
    executor.ports.artifacts.put_cached(record.cache_key, CacheEntry(result.outputs, files, now, expires))
    return files


def outcome_of(child: ExecutionRecord) -> StepResult:
    """A child's end as the result of the unit that waited on it."""
    if child.status == SUCCEEDED:
        return StepResult(outputs=dict(child.outputs))
    what = f"child execution {child.execution_id} ({child.workflow})"
    if child.status == CANCELLED:
        return StepResult.failure(f"{what} was cancelled" + (f": {child.error}" if child.error != "cancelled" else ""))
    return StepResult.failure(f"{what} failed: {child.error}")


def awaits_answer(executor: Executor, record: StepRecord) -> bool:
    """True when the unit's child itself waits for an answer (an approval)."""
    child = _get(executor.ports, record.child) if record.child else None
    return child is not None and child.status == WAITING


# -- cancel -----------------------------------------------------------------------------


def cancel(executor: Executor, record: StepRecord) -> None:
    """A waiting unit is being cancelled or skipped: ask its child to stop too."""
    if record.child is not None and record.status == WAITING:
        _cancel_child(executor, record.child)


def _cancel_child(executor: Executor, child_id: str) -> None:
    store = executor.ports.store
    for _ in range(_RETRIES):
        child = _get(executor.ports, child_id)
        if child is None or child.status in TERMINAL_EXECUTION:
            return
        try:
            stored = store.update_execution(child.evolve(cancel_requested=True, status=RUNNING))
        except StateConflictError:
            continue
        executor.ports.children.launch(stored)  # someone must drive it to run its finally steps
        return


# -- the child's end --------------------------------------------------------------------


def notify_parent(ports: Ports | StateStore, queue: StepQueue, child: ExecutionRecord, now: datetime) -> bool:
    """Wake the unit waiting on ``child`` (which ended); False when none waits on it."""
    store = ports.store if isinstance(ports, Ports) else ports
    link = parent_link(child)
    if link is None:
        return False
    parent_id, unit = str(link["execution_id"]), str(link["unit"])
    for _ in range(_RETRIES):
        try:
            parent = store.get_execution(parent_id)
        except ExecutionNotFoundError:
            return False
        record = store.get_steps(parent_id).get(unit)
        if record is None or record.status != WAITING or record.child != child.execution_id:
            return False
        running = parent.evolve(status=RUNNING) if parent.status == WAITING else None
        try:
            store.commit([record.evolve(wake_at=now)], execution=running)
        except StateConflictError:
            continue
        queue.send_at(parent_id, unit, now)
        return True
    return False


def reattach(ports: Ports, queue: StepQueue, records: Mapping[str, StepRecord]) -> bool:
    """Before a drive: relaunch the running children nobody drives any more (their process
    died), and wake the units whose child ended without waking them. True when a unit was
    woken (its record in ``records`` is then out of date)."""
    woken = False
    for record in records.values():
        child = _get(ports, record.child) if record.status == WAITING else None
        if child is None:
            continue
        if child.status == RUNNING:
            ports.children.launch(child)
        elif child.status in TERMINAL_EXECUTION and record.wake_at is None:
            woken |= notify_parent(ports, queue, child, ports.clock.now())
    return woken


def tell_parent(child: ExecutionRecord, queue: StepQueue, now: datetime) -> None:
    """A child now waits for an answer: have its parent looked at, so it waits too."""
    link = parent_link(child)
    if link is not None:
        queue.send_at(str(link["execution_id"]), None, now)


def _get(ports: Ports, execution_id: str | None) -> ExecutionRecord | None:
    if execution_id is None:
        return None
    try:
        return ports.store.get_execution(execution_id)
    except ExecutionNotFoundError:
        return None


def _engine(executor: Executor) -> Engine:
    """An engine over the executor's ports (for a resume of a child)."""
    from baton.engine.service import Engine

    return Engine(executor.ports, base_env=executor.base_env, lease_seconds=executor.lease_seconds)
