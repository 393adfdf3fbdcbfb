"""The driver: the loop that asks the planner what is next and has the executor do it.

One driver runs per ``baton run``/``resume``/``approve`` process. Several drivers may work on
one execution at once (two ``resume`` commands): each claim is a conditional write, so
they share the work and never run a unit twice; each re-reads the records while another
holds units.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from baton.engine.executor import Executor
from baton.engine.planner import Decision, plan
from baton.engine.records import (
    CANCELLED,
    FAILED,
    PENDING,
    SUCCEEDED,
    TERMINAL_EXECUTION,
    WAITING,
    ExecutionRecord,
)
from baton.errors import BatonError, StateConflictError

POLL_SECONDS = 0.1
"""How often the records are re-read while another worker holds units."""
CHECK_SECONDS = 0.25
"""How often the execution is re-read for a cancel request while steps run."""


class Driver:
    """Runs one execution until it ends or has only approvals left to wait for."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.clock = executor.ports.clock
        self._checked_at = self.clock.monotonic()
        self._refreshed_at = self._checked_at
        self._alive: dict[str, bool] = {}

    def run(self) -> ExecutionRecord:
        """Drive to the end (or to a wait for answers); return the execution record."""
        executor = self.executor
        try:
            while True:
                ended = self._step()
                if ended is not None:
                    return ended
        finally:
            for key in list(executor.in_flight):
                executor.ports.supervisor.reap(executor.execution.execution_id, key)
            executor.dispatcher.shutdown()

    def _step(self) -> ExecutionRecord | None:
        executor = self.executor
        self._check_execution()
        if executor.execution.status in TERMINAL_EXECUTION and not executor.in_flight:
            return executor.execution
        now = self.clock.now()
        decision = plan(
            executor.definition,
            executor.records,
            now=now,
            cancel_requested=executor.execution.cancel_requested,
            orphaned=self._orphaned(now),
        )
        settled = executor.settled
        if self._act(decision) and (executor.settled != settled or not executor.in_flight):
            return None  # something ended: the planner may have more to start at once
        if decision.outcome is not None and not executor.in_flight:
            return self._finalize(decision.outcome)
        if self._only_answers_awaited(decision):
            return self._suspend()
        self._wait(decision, now)
        return None

    def _act(self, decision: Decision) -> bool:
        """Carry out a decision; stop at the first lost race, since the records it was made
        from are stale (acting on would, say, take over a unit another worker just claimed)."""
        executor = self.executor
        conflicts = executor.conflicts
        changed = False
        actions = [
            *((executor.skip, (key, status, reason)) for key, status, reason in decision.skip),
            *((executor.aggregate, (key,)) for key in decision.finish),
            *((executor.begin, (key,)) for key in decision.start if key not in executor.in_flight),
        ]
        for action, arguments in actions:
            changed |= action(*arguments)  # type: ignore[operator]
            if executor.conflicts != conflicts:
                return True
        return changed

    # -- waiting --------------------------------------------------------------------------

    def _wait(self, decision: Decision, now: datetime) -> None:
        """Block until something can change: a result, a wake time, another worker."""
        executor = self.executor
        timeout = CHECK_SECONDS
        if decision.wake_at is not None:
            timeout = max(0.0, min(timeout, (decision.wake_at - now).total_seconds()))
        others = self._others_active()
        if others:
            timeout = min(timeout, POLL_SECONDS)
        if executor.in_flight:
            for key, outcome in executor.dispatcher.collect(timeout):
                executor.finish(key, outcome)
            self._renew_leases()
        elif others or decision.wake_at is not None:
            self.clock.sleep(timeout)
        elif not executor.waiting:
            # Nothing runs, nothing is due and no answer is awaited: a unit is held by this
            # process outside the loop. Never spin; look again shortly.
            self.clock.sleep(POLL_SECONDS)
            executor.refresh()
        if others and self.clock.monotonic() - self._refreshed_at >= POLL_SECONDS:
            self._refreshed_at = self.clock.monotonic()
            executor.refresh()

    def _only_answers_awaited(self, decision: Decision) -> bool:
        """True when nothing runs and no timer is set: only approvals wait, for people.

        An approval's own deadline does not keep a local run alive; whoever drives the
        execution next (``approve``, ``resume``) finds it expired.
        """
        executor = self.executor
        if executor.in_flight or decision.has_actions or decision.outcome is not None:
            return False
        if not executor.waiting or self._others_active():
            return False
        if any(r.status == PENDING and r.wake_at is not None for r in executor.records.values()):
            return False  # a retry is backing off
        return all(executor.body_of(executor.records[key]).type == "approval" for key in executor.waiting)

    def _others_active(self) -> bool:
        return bool(self.executor.foreign)

    def _orphaned(self, now: datetime) -> frozenset[str]:
        """Running units whose holder's lease expired or whose holder is known dead."""
        supervisor = self.executor.ports.supervisor
        found = set()
        for key in self.executor.foreign:
            record = self.executor.records[key]
            owner = record.lease_owner
            if owner is None:
                continue
            expired = record.lease_expires_at is not None and record.lease_expires_at <= now
            if owner not in self._alive:
                self._alive[owner] = supervisor.is_alive(owner)
            if expired or not self._alive[owner]:
                found.add(record.key)
        return frozenset(found)

    def _renew_leases(self) -> None:
        executor = self.executor
        now = self.clock.now()
        horizon = now + timedelta(seconds=executor.lease_seconds * 2 / 3)
        for key, flight in executor.in_flight.items():
            record = executor.records.get(key)
            if record is None or record.version != flight.record.version:
                continue
            if record.lease_expires_at is not None and record.lease_expires_at < horizon:
                expires = now + timedelta(seconds=executor.lease_seconds)
                if executor.ports.store.renew_lease(record, expires):
                    executor.remember(record.evolve(lease_expires_at=expires))

    # -- the execution record -------------------------------------------------------------

    def _check_execution(self) -> None:
        """Re-read the execution now and then, to notice ``baton cancel``."""
        executor = self.executor
        if self.clock.monotonic() - self._checked_at < CHECK_SECONDS:
            return
        self._checked_at = self.clock.monotonic()
        latest = executor.ports.store.get_execution(executor.execution.execution_id)
        if latest.cancel_requested and not executor.execution.cancel_requested:
            for key in executor.in_flight:
                executor.ports.supervisor.reap(latest.execution_id, key)
        executor.execution = latest

    def _update(self, **changes: Any) -> ExecutionRecord | None:
        executor = self.executor
        try:
            stored = executor.ports.store.update_execution(executor.execution.evolve(**changes))
        except StateConflictError:
            executor.execution = executor.ports.store.get_execution(executor.execution.execution_id)
            executor.refresh()
            return None
        executor.execution = stored
        executor.observer.execution_changed(stored)
        return stored

    def _suspend(self) -> ExecutionRecord | None:
        if self.executor.execution.status == WAITING:
            return self.executor.execution
        return self._update(status=WAITING)

    def _finalize(self, outcome: str) -> ExecutionRecord | None:
        return self._update(**final_changes(self.executor, outcome), finished_at=self.clock.now())


def final_changes(executor: Executor, outcome: str) -> dict[str, Any]:
    """The execution's last status, outputs and error for an ``outcome`` of the planner; a
    success whose outputs cannot be rendered becomes a failure."""
    outputs: dict[str, Any] = {}
    error = None
    if outcome == SUCCEEDED:
        try:
            outputs = render_workflow_outputs(executor)
        except BatonError as exc:
            outcome, error = FAILED, f"outputs: {executor.masker.text(str(exc))}"
    elif outcome == FAILED:
        error = first_failure(executor)
    elif outcome == CANCELLED:
        error = "cancelled"
    return {"status": outcome, "outputs": outputs, "error": error}


def first_failure(executor: Executor) -> str:
    """The execution's error: the first failed step in file order."""
    for step in executor.definition.steps:
        record = executor.records.get(step.id)
        if record is not None and record.status == FAILED and not step.continue_on_error:
            return f"step '{step.id}' failed: {record.error}"
    return "failed"


def render_workflow_outputs(executor: Executor) -> dict[str, Any]:
    """The workflow's ``outputs``, rendered once every step has ended."""
    from baton.engine.inputs import convert_output

    definition = executor.definition
    if not definition.outputs:
        return {}
    context = executor.context_for(None)
    outputs = {}
    for name, spec in definition.outputs.items():
        if spec.get("type") == "artifact":
            step_id, _, output = spec["from"].partition(".")
            outputs[name] = context["steps"].get(step_id, {}).get("outputs", {}).get(output)
            continue
        value = executor.expressions.render_value(spec["value"], context)
        outputs[name] = convert_output(name, value, spec.get("type"))
    masked: dict[str, Any] = executor.masker.data(outputs)
    return masked
