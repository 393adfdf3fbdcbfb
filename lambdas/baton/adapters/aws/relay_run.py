"""``MessageRun``: the work of one step message on one execution (see ``relay``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from baton.adapters.aws.relay_support import Delivery, RelayResult, restore_declared_files, unit_budget_seconds
from baton.adapters.aws.sqs_dispatcher import StepMessage
from baton.engine.driver import final_changes
from baton.engine.executor import Executor
from baton.engine.planner import Decision, plan
from baton.engine.records import (
    FAILED,
    PENDING,
    RUNNING,
    TERMINAL_EXECUTION,
    TERMINAL_STEP,
    WAITING,
    ExecutionRecord,
    StepRecord,
)
from baton.errors import StateConflictError

if TYPE_CHECKING:
    from baton.adapters.aws.relay import Relay

POLL_SECONDS = 1.0
"""How often a running step's lease and the execution's cancel flag are looked at."""
CHECK_SECONDS = 5.0
"""How often the execution record is re-read (for ``baton cancel``) while work goes on."""
NOT_READY_DELAY_SECONDS = 5
"""When a unit's message arrives while its ``for_each`` has no free slot: look again then."""


class MessageRun:
    """The work of one message on one execution."""

    def __init__(self, relay: Relay, executor: Executor, delivery: Delivery, *, stored_workspace: str) -> None:
        self.relay = relay
        self.executor = executor
        self.delivery = delivery
        self.stored_workspace = stored_workspace
        self.clock = executor.ports.clock
        self.result = RelayResult()
        self.known: set[str] = set()
        """Units seen ready (ours to run or already someone's): never sent twice."""
        self._checked_at = self.clock.monotonic()

    @property
    def execution_id(self) -> str:
        return self.executor.execution.execution_id

    def run(self) -> RelayResult:
        target = self.delivery.message.unit
        decision = self._plan()
        if target is not None and not self.delivery.redelivered:
            self.known = set(decision.start)
        if target is not None:
            record = self.executor.records.get(target)
            if target in decision.start and self.delivery.final and record is not None and record.status == RUNNING:
                self._give_up(record)  # every worker that took this unit died with it
            elif target in decision.start:
                self.known.add(target)
                self._run_or_pass_on(target)
            else:
                self._not_ready(target, decision)
        self._advance()
        if self.delivery.redelivered:
            self._watch_held_units()
        self.result.status = self.executor.execution.status
        return self.result

    # -- the loop -------------------------------------------------------------------------

    def _advance(self) -> None:
        """Settle, run or send what is ready, until nothing more is ours to do."""
        executor = self.executor
        while True:
            self._check_execution()
            if executor.execution.status in TERMINAL_EXECUTION and not executor.in_flight:
                return  # another worker ended it (found after a lost race): nothing left here
            decision = self._plan()
            if self._settle(decision):
                continue
            if decision.outcome is not None and not executor.in_flight:
                if self._finalize(decision.outcome):
                    return
                continue
            ready = [key for key in decision.start if key not in self.known]
            self.known.update(ready)
            if not ready:
                self._suspend_if_only_answers_awaited(decision)
                return
            here = ready[0] if self._fits(ready[0]) else None
            self._send([key for key in ready if key != here])
            if here is None:
                return
            self._run_unit(here)

    def _plan(self) -> Decision:
        executor = self.executor
        now = self.clock.now()
        orphaned = frozenset(
            key
            for key in executor.foreign
            if (lease := executor.records[key].lease_expires_at) is not None and lease <= now
        )
        return plan(
            executor.definition,
            executor.records,
            now=now,
            cancel_requested=executor.execution.cancel_requested,
            orphaned=orphaned,
        )

    def _settle(self, decision: Decision) -> bool:
        """Skip what will not run and close finished ``for_each`` steps; stop at a lost race."""
        executor = self.executor
        conflicts, changed = executor.conflicts, False
        for key, status, reason in decision.skip:
            changed |= executor.skip(key, status, reason)
            if executor.conflicts != conflicts:
                return True
        for key in decision.finish:
            changed |= executor.aggregate(key)
            if executor.conflicts != conflicts:
                return True
        return changed

    # -- one unit -------------------------------------------------------------------------

    def _fits(self, key: str) -> bool:
        budget = unit_budget_seconds(self.executor, key) + self.relay.margin_seconds
        return self.relay.remaining_seconds() > budget

    def _run_or_pass_on(self, key: str) -> None:
        if self._fits(key):
            self._run_unit(key)
        else:
            self._send([key])  # too little time left in this invocation: the next one runs it

    def _run_unit(self, key: str) -> None:
        executor = self.executor
        restore_declared_files(executor)
        with self.relay.hooks.unit(executor.execution, key) as annotate:
            executor.begin(key)
            self._wait_for(key)
            record = executor.records.get(key)
            if record is not None:
                annotate(record)
        self.result.ran.append(key)
        self._wake_later(key)

    def _wait_for(self, key: str) -> None:
        """Collect a unit that runs on the dispatcher, renewing its lease meanwhile."""
        executor = self.executor
        while key in executor.in_flight:
            for done, outcome in executor.dispatcher.collect(POLL_SECONDS):
                executor.finish(done, outcome)
            if key not in executor.in_flight:
                return
            self._renew_lease(key)
            self._check_execution()
            if self.relay.remaining_seconds() < self.relay.margin_seconds / 3:
                # The invocation is about to end: stop the step so its failure is recorded
                # (and retried by its policy) instead of the lease running out unnoticed.
                executor.ports.supervisor.reap(self.execution_id, key)

    def _renew_lease(self, key: str) -> None:
        executor = self.executor
        record, flight = executor.records.get(key), executor.in_flight.get(key)
        if record is None or flight is None or record.version != flight.record.version:
            return
        now = self.clock.now()
        horizon = now + timedelta(seconds=executor.lease_seconds * 2 / 3)
        if record.lease_expires_at is not None and record.lease_expires_at < horizon:
            expires = now + timedelta(seconds=executor.lease_seconds)
            if executor.ports.store.renew_lease(record, expires):
                executor.remember(record.evolve(lease_expires_at=expires))

    def _wake_later(self, key: str) -> None:
        """A unit this worker put to sleep gets its wake-up message."""
        record = self.executor.records.get(key)
        if record is not None and record.status in (PENDING, WAITING) and record.wake_at is not None:
            self.relay.queue.dispatch_at(StepMessage(self.execution_id, key), record.wake_at)
            self.result.sent += 1

    def _not_ready(self, key: str, decision: Decision) -> None:
        """The message's unit cannot run now: re-send it for when it can, or let it go."""
        record = self.executor.records.get(key)
        if record is None or record.status in TERMINAL_STEP:
            return
        now = self.clock.now()
        if record.status in (PENDING, WAITING) and record.wake_at is not None and record.wake_at > now:
            self._resend(key, record.wake_at)
        elif record.status == RUNNING and key in self.executor.foreign and record.lease_expires_at is not None:
            # A duplicate delivery while another worker holds the unit: watch its lease, so
            # the unit is taken over if that worker dies without sending anything.
            self._resend(key, record.lease_expires_at + timedelta(seconds=1))
        elif record.status == PENDING and key not in {k for k, _, _ in decision.skip}:
            self.relay.queue.dispatch([StepMessage(self.execution_id, key)], NOT_READY_DELAY_SECONDS)
            self.result.sent += 1

    def _watch_held_units(self) -> None:
        """After a redelivery, watch the leases of units still held by other workers.

        The worker that had this message may have died holding them, with their leases not
        yet expired; a wake-up at each expiry makes sure someone takes them over.
        """
        executor = self.executor
        now = self.clock.now()
        for key in sorted(executor.foreign):
            record = executor.records[key]
            if record.status == RUNNING and record.lease_expires_at is not None and record.lease_expires_at > now:
                self._resend(key, record.lease_expires_at + timedelta(seconds=1))

    def _resend(self, key: str, when: datetime) -> None:
        self.relay.queue.dispatch_at(StepMessage(self.execution_id, key), when)
        self.result.sent += 1

    def _give_up(self, record: StepRecord) -> None:
        """The last delivery finds the unit orphaned: every worker that ran it died with it."""
        error = (
            f"the worker running this step stopped {self.delivery.receive_count - 1} times without finishing it "
            "(Lambda timeout or crash); giving up"
        )
        failed = record.evolve(status=FAILED, error=error, finished_at=self.clock.now(),
                               lease_owner=None, lease_expires_at=None)  # fmt: skip
        self.executor.write(failed)

    def _send(self, keys: list[str]) -> None:
        if keys:
            self.relay.queue.dispatch([StepMessage(self.execution_id, key) for key in keys])
            self.result.sent += len(keys)

    # -- the execution record -------------------------------------------------------------

    def _check_execution(self) -> None:
        """Re-read the execution now and then, to notice ``baton cancel``."""
        if self.clock.monotonic() - self._checked_at < CHECK_SECONDS:
            return
        self._checked_at = self.clock.monotonic()
        executor = self.executor
        latest = executor.ports.store.get_execution(self.execution_id)
        if latest.cancel_requested and not executor.execution.cancel_requested:
            for key in executor.in_flight:
                executor.ports.supervisor.reap(self.execution_id, key)
        executor.execution = latest

    def _update(self, **changes: object) -> ExecutionRecord | None:
        executor = self.executor
        changed = executor.execution.evolve(workspace=self.stored_workspace, **changes)
        try:
            stored = executor.ports.store.update_execution(changed)
        except StateConflictError:
            executor.execution = executor.ports.store.get_execution(self.execution_id)
            executor.refresh()
            return None
        executor.execution = stored
        return stored

    def _finalize(self, outcome: str) -> bool:
        stored = self._update(**final_changes(self.executor, outcome), finished_at=self.clock.now())
        if stored is None:
            return False
        self.relay.lifecycle.execution_ended(stored)
        self.relay.hooks.execution_ended(stored)
        return True

    def _suspend_if_only_answers_awaited(self, decision: Decision) -> None:
        executor = self.executor
        if executor.in_flight or decision.has_actions or not executor.waiting or executor.foreign:
            return
        if executor.execution.status == WAITING:
            return
        if any(r.status == PENDING and r.wake_at is not None for r in executor.records.values()):
            return  # a retry is backing off
        if all(executor.body_of(executor.records[key]).type == "approval" for key in executor.waiting):
            self._update(status=WAITING)
