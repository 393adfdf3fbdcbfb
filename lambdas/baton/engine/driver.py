"""The driver: the one loop that runs an execution, on a laptop and on Lambda alike.

The loop asks the planner what is next and has the executor do it: skip what will not run,
close finished ``for_each`` steps, start ready units while there is room and time, collect
results (renewing leases meanwhile), and end the execution when the planner says so.

Where the two homes differ is data, not code:

- the ``StepQueue``: ready units the driver does not run itself go there. The in-process
  queue hands them back to this driver when it has room (a laptop runs everything in one
  process); the SQS queue hands them to other worker invocations, so on Lambda the driver
  stops once nothing is left that is its own to do;
- the time budget: unbounded locally; the invocation's remaining time on Lambda, so a unit
  that cannot finish before the function ends is passed on instead of started;
- the room: how many units run at once in this process;
- the long-step runner (``Ports.long_runner``): none locally; on AWS a ``runner: long``
  unit is claimed for a CodeBuild build and handed to it instead of being run here, and
  the build's process runs this same loop for that one unit (``DriveRequest.held``).

Several drivers may work on one execution at once (two ``resume`` commands, or many Lambda
invocations): every claim is a conditional write, so they share the work and never run a
unit twice. A driver that sees units held by others re-reads the records after its own
writes, so the last one to finish a ``for_each`` item always sees the join ready.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from baton.engine import children
from baton.engine.admission import RECHECK_SECONDS, admit, release, request_cancel
from baton.engine.executor import RUNNER_OWNER_PREFIX, Executor
from baton.engine.outcome import final_changes
from baton.engine.planner import Decision, plan
from baton.engine.records import (
    CANCELLED,
    FAILED,
    KIND_ITEM,
    KIND_STEP,
    PENDING,
    RUNNING,
    TERMINAL_EXECUTION,
    TERMINAL_STEP,
    WAITING,
    ExecutionRecord,
    StepRecord,
)
from baton.engine.units import restore_declared_files, unit_budget_seconds
from baton.errors import StateConflictError
from baton.ports import ItemJoin, StepQueue
from baton.steps import settle_step_types, step_type

NOT_READY_DELAY_SECONDS = 5
"""A unit named by a message arrives while its ``for_each`` has no free slot: look again then."""


@dataclass(frozen=True, slots=True)
class Pace:
    """How often a driver looks again: at other workers' units, and at the execution record
    (for a cancel request) while steps run. Local polls are cheap; on AWS each is a read."""

    poll_seconds: float = 0.1
    check_seconds: float = 0.25


LAMBDA_PACE = Pace(poll_seconds=1.0, check_seconds=5.0)


@dataclass(frozen=True, slots=True)
class DriveRequest:
    """What a driver is asked to do: drive the whole execution (``unit`` None), or start
    with the unit a message names.

    ``courier``: the message is a first delivery, so units that were ready before this
    driver looked have messages of their own (each ready unit has one courier: the worker
    whose write made it ready). A redelivered message re-drives everything ready, since its
    earlier receiver may have died before sending its successors.
    """

    unit: str | None = None
    courier: bool = False
    receive_count: int = 1
    last_delivery: bool = False
    alone: bool = False
    """The unit is a ``for_each`` item read without its siblings: run it by itself, and look
    at the whole execution only when the item join says the item was the last to end."""
    held: bool = False
    """``unit`` is held in this driver's name by the driver that handed it to the long-step
    runner (this is the runner's process): run it, and pass every other ready unit on."""


@dataclass
class DriveResult:
    """What one drive did (for logs, metrics and tests)."""

    execution: ExecutionRecord
    ran: list[str] = field(default_factory=list)
    sent: int = 0
    note: str = ""


class DriverHooks:
    """Observability and liveness around the loop; the Lambda handlers fill these in
    (a trace subsegment per unit, metrics, extending the message's visibility)."""

    def unit_started(self, execution: ExecutionRecord, key: str) -> None:
        """A unit was handed to the executor."""

    def unit_ended(self, execution: ExecutionRecord, record: StepRecord | None) -> None:
        """A unit this driver started has left the executor (its last record, if any)."""

    def execution_ended(self, execution: ExecutionRecord) -> None:
        """This driver wrote the execution's final status."""

    def heartbeat(self) -> None:
        """Called while units run, at least every ``poll_seconds``."""


class Driver:
    """Runs one execution until it ends, waits for answers, or has nothing left here."""

    def __init__(
        self,
        executor: Executor,
        queue: StepQueue,
        *,
        remaining_seconds: Callable[[], float] = lambda: math.inf,
        margin_seconds: float = 0.0,
        room: int | None = None,
        pace: Pace = Pace(),
        hooks: DriverHooks | None = None,
        most_seconds: float = math.inf,
        stored_workspace: str | None = None,
        recheck_seconds: float = RECHECK_SECONDS,
        join: ItemJoin | None = None,
    ) -> None:
        self.executor = executor
        self.queue = queue
        self.clock = executor.ports.clock
        self.remaining_seconds = remaining_seconds
        self.margin_seconds = margin_seconds
        self.room = room
        self.pace = pace
        self.hooks = hooks or DriverHooks()
        self.most_seconds = most_seconds
        self.recheck_seconds = recheck_seconds
        """How long an execution queued behind its concurrency key waits between looks."""
        """The longest budget any worker gets: a unit that needs more is refused, not passed on."""
        self.workspace = executor.execution.workspace
        self.stored_workspace = stored_workspace or self.workspace
        """The workspace the record names; a worker runs in a sandbox folder of its own, into
        which the declared files of earlier units are restored."""
        self.handed_off: set[str] = set()
        """Units sent to the queue and not received back: someone else's to start."""
        self._target: str | None = None
        self._held: str | None = None
        """The unit handed to this driver by a long-step runner: the only one it starts."""
        self._checked_at = self.clock.monotonic()
        self._refreshed_at = self._checked_at
        self._looked_after = executor.settled
        """``executor.settled`` when this driver last re-read the records for others' units."""
        self._alive: dict[str, bool] = {}
        self._started: set[str] = set()
        self._foreseen: tuple[str, int, str] | None = None
        """What ``_successor(alone=True)`` chose last: the unit that ended, how many changes
        the records had seen (``UnitContext.changes``), and the unit chosen."""
        self.result = DriveResult(executor.execution)
        self.join = join
        """Counts item ends (AWS), so an item run alone knows when it ended last."""
        self._join_due = False

    @property
    def execution_id(self) -> str:
        """The execution being driven."""
        return self.executor.execution.execution_id

    def run(self, request: DriveRequest | None = None) -> DriveResult:
        """Drive; return what happened and the execution as this driver last saw it."""
        executor = self.executor
        executor.successor = self._successor
        executor.item_ended = self._item_ended if self.join is not None else None
        executor.watch = self._watch
        try:
            if self.stored_workspace != self.workspace:
                restore_declared_files(executor)
            request = request or DriveRequest()
            if request.alone:
                request = self._run_alone(request)
            if request is not None and (request.unit is not None or self._admitted()):
                self._open(request)
                while self._turn():
                    pass
            if request is not None and self.queue.shared and request.receive_count > 1:
                self._watch_held_units()
            executor.flush_notices()
        finally:
            executor.drop_early()
            with contextlib.suppress(Exception):  # after a failure: that failure is the one raised
                executor.flush_notices()
            for key in list(executor.in_flight):
                executor.ports.supervisor.reap(self.execution_id, key)
            executor.dispatcher.shutdown()
            for key in list(executor.handed):
                executor.release_hand_off(key)
            settle_step_types()
            # The executor calls back into this driver only while it runs: without the links
            # its records (a wide fan-out's are many) go as soon as the caller drops it.
            executor.successor = executor.item_ended = executor.watch = None
        self.result.execution = executor.execution.evolve(workspace=self.stored_workspace)
        return self.result

    # -- admission ------------------------------------------------------------------------

    def _admitted(self) -> bool:
        """Take the execution's ``concurrency:`` slot; False when it must not run now (it was
        skipped, or it waits: in this process, or for a message that looks again later)."""
        executor = self.executor
        store = executor.ports.store
        asked_to_cancel = False
        while True:
            if executor.execution.status != RUNNING or executor.execution.cancel_requested:
                return True  # nothing will start: the loop only settles or cancels
            verdict = admit(store, executor.execution)
            if verdict.outcome == "go":
                return True
            held_by = ", ".join(verdict.holders) or "another execution"
            if verdict.outcome == "skip":
                error = f"skipped: concurrency key {verdict.key!r} is held by {held_by}"
                self._update(status=CANCELLED, error=error, finished_at=self.clock.now())
                self.result.note = error
                return False
            if verdict.cancel_holders and not asked_to_cancel:
                asked_to_cancel = True
                for holder in verdict.holders:
                    if request_cancel(store, holder) and self.queue.shared:
                        self.queue.send_at(holder, None, self.clock.now())
            self.result.note = f"queued behind concurrency key {verdict.key!r}, held by {held_by}"
            if self.queue.shared:
                self.queue.send_at(self.execution_id, None, self.clock.now() + timedelta(seconds=self.recheck_seconds))
                self.result.sent += 1
                return False
            self.clock.sleep(self.recheck_seconds)
            latest = store.get_execution(self.execution_id)
            executor.execution = latest.evolve(workspace=self.workspace)

    # -- one for_each item, run alone ----------------------------------------------------

    def _run_alone(self, request: DriveRequest) -> DriveRequest | None:
        """Run a ``for_each`` item from records read without its siblings.

        A wide fan-out then reads the same few records per item whatever its width. The
        item's end is counted by the join; the worker whose count completes the expansion
        (or sees a failure) reads the whole execution and drives on. Returns the request to
        drive the whole execution with, or None when this driver is done.
        """
        executor = self.executor
        key = request.unit
        assert key is not None
        if not self._fits_alone(key):
            self._read_whole()
            return request
        executor.successor = None  # the plan needs every record; this driver has only some
        try:
            self._begin(key)
            while key in executor.in_flight:
                self._check_execution()
                self._collect(self.pace.poll_seconds)
        finally:
            executor.successor = self._successor
        if not self._join_due:
            return None
        self._read_whole()
        return DriveRequest()

    def _fits_alone(self, key: str) -> bool:
        executor = self.executor
        record = executor.records.get(key)
        if self.join is None or record is None or record.kind != KIND_ITEM:
            return False
        parent = executor.records.get(record.step_id)
        if parent is None or parent.status != RUNNING or parent.items_open is None:
            return False
        if executor.execution.status != RUNNING or executor.execution.cancel_requested:
            return False
        step = executor.definition.step(record.step_id)
        if step.max_concurrency is not None and step.max_concurrency < (parent.item_count or 0):
            return False  # a finished item must start the next one: that needs the plan
        if record.status != PENDING or (record.wake_at is not None and record.wake_at > self.clock.now()):
            return False
        return self._fits_here(key)

    def _fits_here(self, key: str) -> bool:
        """True when this driver has room for ``key`` and time for its timeout and the margin."""
        needed = unit_budget_seconds(self.executor, key) + self.margin_seconds
        return needed < min(self.most_seconds, self.remaining_seconds()) and self._has_room()

    def _item_ended(self, record: StepRecord) -> None:
        """Count an item this driver wrote as ended; note when the expansion is complete."""
        parent = self.executor.records.get(record.step_id)
        if self.join is None or parent is None or parent.items_open is None or parent.status != RUNNING:
            return
        counted = self.join.count_item_end(parent, failed=record.status in (FAILED, CANCELLED))
        if counted is None or counted[1] or counted[0] >= parent.items_open:
            self._join_due = True

    def _read_whole(self) -> None:
        """Read the execution and every record (after a drive of one item alone)."""
        executor = self.executor
        latest = executor.ports.store.get_execution(self.execution_id)
        executor.execution = latest.evolve(workspace=self.workspace)
        executor.refresh()

    # -- the message a drive starts from --------------------------------------------------

    def _open(self, request: DriveRequest) -> None:
        target = request.unit
        if target is None:
            return
        if request.held:
            self._held = target
        decision = self._plan(every_item=True)
        if request.courier:
            self.handed_off = set(decision.start) - {target}
        record = self.executor.records.get(target)
        if target not in decision.start:
            self._not_ready(target, decision)
        elif request.last_delivery and record is not None and record.status == RUNNING:
            self._give_up(record, request.receive_count)  # every worker that took it died with it
        else:
            self._target = target

    def _not_ready(self, key: str, decision: Decision) -> None:
        """A message's unit cannot run now: have it sent again for when it can, or let it go."""
        record = self.executor.records.get(key)
        self.handed_off.add(key)
        if record is None or record.status in TERMINAL_STEP or not self.queue.shared:
            return
        now = self.clock.now()
        if record.status in (PENDING, WAITING) and record.wake_at is not None and record.wake_at > now:
            self._send_at(key, record.wake_at)
        elif record.status == RUNNING and key in self.executor.foreign and record.lease_expires_at is not None:
            # A duplicate delivery while another worker holds the unit: watch its lease, so
            # the unit is taken over if that worker dies without sending anything. A build
            # may hold one for hours: the sweeper watches those instead of a chain of messages.
            if not _held_by_runner(record):
                self._send_at(key, record.lease_expires_at + timedelta(seconds=1))
        elif record.status == PENDING and key not in {k for k, _, _ in decision.skip}:
            self.queue.send(self.execution_id, [key], NOT_READY_DELAY_SECONDS)
            self.result.sent += 1

    def _give_up(self, record: StepRecord, receive_count: int) -> None:
        error = (
            f"the worker running this step stopped {receive_count - 1} times without finishing it "
            "(Lambda timeout or crash); giving up"
        )
        failed = record.evolve(status=FAILED, error=error, finished_at=self.clock.now(),
                               lease_owner=None, lease_expires_at=None)  # fmt: skip
        self.executor.write(failed)

    # -- the loop -------------------------------------------------------------------------

    def _turn(self) -> bool:
        """One look at the execution; False when this driver is done."""
        executor = self.executor
        self._check_execution()
        if executor.execution.status in TERMINAL_EXECUTION and not executor.in_flight:
            return False
        self._receive()
        decision = self._plan()
        if self._settle(decision):
            return True
        if decision.outcome is not None and not executor.in_flight:
            return not self._finalize(decision.outcome)  # a lost race: look again
        settled = executor.settled
        if self._start_ready(decision) and (executor.settled != settled or not executor.in_flight):
            return True  # something ended: the planner may have more to start at once
        if self._only_answers_awaited(decision):
            self._suspend()
            return False
        return self._wait(decision)

    def _plan(self, *, every_item: bool = False) -> Decision:
        executor = self.executor
        now = self.clock.now()
        return plan(
            executor.definition,
            executor.records,
            now=now,
            cancel_requested=executor.execution.cancel_requested,
            orphaned=self._orphaned(now),
            index=executor.plan_index,
            item_room=None if every_item else self._item_room(),
        )

    def _item_room(self, most: int | None = None) -> int | None:
        """How many pending ``for_each`` items a plan lists for this driver to start.

        A driver that shares its queue passes every ready item on (each has one courier), so
        it asks for all of them. A driver that runs everything itself asks only for what fits
        in its free room: a wide fan-out is then planned a few items at a time instead of
        listing every pending item on every turn. Units handed to the queue and not received
        back are listed but not started here, so the room covers them too.
        """
        if self.queue.shared:
            return None
        room = self._free_room() if most is None else min(most, self._free_room())
        return room + len(self.handed_off)

    def _settle(self, decision: Decision) -> bool:
        """Skip what will not run and close finished ``for_each`` steps; stop at the first
        lost race, since the records the decision was made from are stale."""
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

    def _start_ready(self, decision: Decision) -> bool:
        """Start the ready units that fit here; pass the others to the queue."""
        executor = self.executor
        ready = [k for k in decision.start if k not in executor.in_flight and k not in self.handed_off]
        ready.sort(key=lambda key: key != self._target)
        here = len(ready) == 1 and self._nothing_else_moves(decision)
        passed: list[str] = []
        changed = False
        conflicts = executor.conflicts
        for key in ready:
            runner = executor.long_runner_for(key)
            needed = unit_budget_seconds(executor, key) + self.margin_seconds
            most = runner.most_seconds if runner is not None else self.most_seconds
            if needed >= most:
                changed |= self._refuse(key, needed, most, long=runner is not None)
            elif self._held not in (None, key):
                executor.release_hand_off(key)
                passed.append(key)  # a long-step runner's process runs its one unit only
            elif runner is None and (needed >= self.remaining_seconds() or not self._has_room()):
                executor.release_hand_off(key)
                passed.append(key)
            else:
                changed |= self._begin(key, here=here)  # a long unit is only handed over: that takes no time
            if executor.conflicts != conflicts:
                return True  # stale records: plan again before starting anything else
        if passed:
            executor.commit_ahead()  # whoever receives them reads the store
            self.queue.send(self.execution_id, passed)
            self.handed_off.update(passed)
            self.result.sent += len(passed) if self.queue.shared else 0
        return changed

    def _successor(self, ended: StepRecord, *, alone: bool = False) -> str | None:
        """The one unit this driver would start next once ``ended`` is written, or None.

        Its claim then rides on that write instead of a write of its own, so steps run back
        to back cost one write each. Only a plain step qualifies (no ``for_each``, not a
        wait or approval, nothing else to settle first), and only when it fits here.
        ``alone``: only a unit that would run on this thread, nothing else of the execution
        able to move meanwhile (see ``_nothing_else_moves``).
        """
        executor = self.executor
        if executor.execution.cancel_requested or executor.execution.status != RUNNING:
            return None
        foreseen, self._foreseen = self._foreseen, None
        if foreseen is not None and foreseen[:2] == (ended.key, executor.changes):
            # Chosen already while ``ended`` ran, alone (no timer, nothing elsewhere), and no
            # record has changed since: the plan would be the same.
            key = foreseen[2]
            free = key not in executor.in_flight and key not in self.handed_off
            return key if free and self._fits_here(key) else None
        now = self.clock.now()
        records, index = executor.records, executor.plan_index
        before = records[ended.key]
        records[ended.key] = ended  # as if written; put back below
        index.update(before, ended)
        try:
            # One listed item is enough to know that no plain step is the only one ready.
            decision = plan(executor.definition, records, now=now, orphaned=self._orphaned(now), index=index,
                            item_room=self._item_room(most=1))  # fmt: skip
        finally:
            records[ended.key] = before
            index.update(ended, before)
        if decision.skip or decision.finish or decision.outcome is not None:
            return None
        ready = [k for k in decision.start if k not in executor.in_flight and k not in self.handed_off]
        if len(ready) != 1:
            return None
        record = records.get(ready[0])
        if record is None or record.status != PENDING or record.kind != KIND_STEP or record.wake_at is not None:
            return None
        step = executor.definition.step(record.step_id)
        if step.for_each is not None or step_type(step.body.type).mode == "suspend":
            return None
        if executor.long_runner_for(record.key) is not None or self._held is not None:
            return None
        if alone and not self._nothing_else_moves(decision):
            return None
        if not self._fits_here(record.key):
            return None
        if alone:
            self._foreseen = (ended.key, executor.changes, record.key)
        return record.key

    def _refuse(self, key: str, needed: float, most: float, *, long: bool = False) -> bool:
        """A unit no worker of this kind can give the time it needs fails, instead of being
        passed on from worker to worker forever."""
        record = self.executor.records[key]
        where, advice = ("the long-step runner", "lower its timeout") if long else (
            "a worker", "lower its timeout or give it `runner: long`")  # fmt: skip
        error = (
            f"this step needs up to {needed:.0f}s (its timeout and a margin) but {where} runs for at most "
            f"{most:.0f}s; {advice}"
        )
        failed = record.evolve(status=FAILED, error=error, finished_at=self.clock.now(), error_kind="timeout",
                               lease_owner=None, lease_expires_at=None, wake_at=None)  # fmt: skip
        return self.executor.write(failed)

    def _nothing_else_moves(self, decision: Decision) -> bool:
        """True when, besides the one ready unit, nothing of the execution can change before
        it ends: nothing runs or waits (here, elsewhere, in a child), no timer is set, nothing
        is queued. The unit may then run on this thread (``Executor.begin``)."""
        executor = self.executor
        if executor.in_flight or executor.foreign or executor.waiting or self.handed_off or self._held is not None:
            return False
        if decision.wake_at is not None or decision.skip or decision.finish:
            return False
        return not executor.ports.children.active(self.execution_id)

    def _begin(self, key: str, *, here: bool = False) -> bool:
        executor = self.executor
        self._target = None
        self._started.add(key)
        self.hooks.unit_started(executor.execution, key)
        changed = executor.begin(key, here=here)
        if key not in executor.in_flight:
            self._unit_left(key)
        return changed

    def _unit_left(self, key: str) -> None:
        """A unit this driver started is no longer in flight: report it, and have a wake-up
        sent when it was put to sleep (a retry's backoff, a ``wait``, an approval deadline)."""
        record = self.executor.records.get(key)
        if key in self._started:
            self._started.discard(key)
            self.result.ran.append(key)
            self.hooks.unit_ended(self.executor.execution, record)
        if record is not None and record.status in (PENDING, WAITING) and record.wake_at is not None:
            self._send_at(key, record.wake_at)

    def _has_room(self) -> bool:
        return self.room is None or len(self.executor.in_flight) < self.room

    def _free_room(self) -> int:
        return 1 << 30 if self.room is None else max(0, self.room - len(self.executor.in_flight))

    def _receive(self) -> None:
        """Units the in-process queue hands back (room freed, or their time came)."""
        if self.queue.shared or not self.handed_off:
            return
        for key in self.queue.receive(self.execution_id, self.clock.now(), self._free_room()):
            self.handed_off.discard(key)

    def _send_at(self, key: str, when: datetime) -> None:
        self.executor.commit_ahead()
        self.queue.send_at(self.execution_id, key, when)
        if self.queue.shared:
            self.handed_off.add(key)
            self.result.sent += 1

    # -- waiting --------------------------------------------------------------------------

    def _wait(self, decision: Decision) -> bool:
        """Block until something can change; False when nothing more is this driver's."""
        executor = self.executor
        executor.drop_early()  # a unit it was started for would have been begun instead
        executor.flush_notices()
        now = self.clock.now()
        timeout = self.pace.check_seconds
        if decision.wake_at is not None:
            timeout = max(0.0, min(timeout, (decision.wake_at - now).total_seconds()))
        if executor.foreign:
            timeout = min(timeout, self.pace.poll_seconds)
        if executor.in_flight:
            self._collect(timeout)
            return True
        if self.queue.shared:
            return self._look_again_after_own_writes()
        if executor.foreign:
            self.clock.sleep(timeout)
            executor.refresh()
            return True
        if decision.wake_at is not None:
            self.clock.sleep(timeout)
            return True
        if not executor.waiting or executor.ports.children.active(self.execution_id):
            # Nothing runs, nothing is due and no answer is awaited: a unit is held by this
            # process outside the loop (or a child runs here). Never spin; look again shortly.
            self.clock.sleep(self.pace.poll_seconds)
            executor.refresh()
            return True
        return False

    def _collect(self, timeout: float) -> None:
        executor = self.executor
        executor.flush_notices()
        for key, outcome in executor.dispatcher.collect(timeout):
            executor.finish(key, outcome)
            self._unit_left(key)
        self._supervise()
        if executor.foreign and self.clock.monotonic() - self._refreshed_at >= self.pace.poll_seconds:
            self._refreshed_at = self.clock.monotonic()
            executor.refresh()

    def _supervise(self) -> None:
        """What a driver does while units run: renew their leases, keep its message alive,
        and stop them when the time budget is about to end."""
        executor = self.executor
        self._renew_leases()
        self.hooks.heartbeat()
        if executor.in_flight and self.remaining_seconds() < self.margin_seconds / 3:
            # The budget is about to end: stop the steps so their failure is recorded (and
            # retried by their policy) instead of their leases running out unnoticed.
            for key in list(executor.in_flight):
                executor.ports.supervisor.reap(self.execution_id, key)

    def _watch(self) -> None:
        """While a unit runs on this thread: look for a cancel, and supervise it."""
        self._check_execution()
        self._supervise()

    def _look_again_after_own_writes(self) -> bool:
        """Nothing here is this driver's to do; other workers carry on with the rest.

        Before leaving, re-read once after this driver's own last write: the last finisher
        of a fan-out must see the join ready, and a plan made from a read taken before the
        others' writes would show their units still pending or running. Whichever worker
        writes last reads everyone's writes.
        """
        executor = self.executor
        if self._looked_after == executor.settled:
            return False
        self._looked_after = executor.settled
        executor.refresh()
        return True

    def _watch_held_units(self) -> None:
        """After a redelivery, watch the leases of units still held by other workers.

        The worker that had this message may have died holding them, with their leases not
        yet expired; a wake-up at each expiry makes sure someone takes them over.
        """
        now = self.clock.now()
        for key in sorted(self.executor.foreign):
            record = self.executor.records[key]
            if key in self.handed_off or record.lease_expires_at is None or record.lease_expires_at <= now:
                continue
            if _held_by_runner(record):
                continue  # the sweeper watches a long-step build's lease
            self._send_at(key, record.lease_expires_at + timedelta(seconds=1))

    def _only_answers_awaited(self, decision: Decision) -> bool:
        """True when nothing runs and no timer is set: only approvals wait, for people.

        An approval's own deadline does not keep a local run alive; whoever drives the
        execution next (``approve``, ``resume``) finds it expired.
        """
        executor = self.executor
        if executor.in_flight or decision.has_actions or decision.outcome is not None:
            return False
        if not executor.waiting or executor.foreign:
            return False
        if any(r.status == PENDING and r.wake_at is not None for r in executor.records.values()):
            return False  # a retry is backing off
        return all(self._awaits_answer(key) for key in executor.waiting)

    def _awaits_answer(self, key: str) -> bool:
        """An approval, or a child that itself waits for one (no child runs here meanwhile)."""
        executor = self.executor
        record = executor.records[key]
        kind = executor.body_of(record).type
        if kind == "workflow":
            return not executor.ports.children.active(self.execution_id) and children.awaits_answer(executor, record)
        return kind == "approval"

    def _orphaned(self, now: datetime) -> frozenset[str]:
        """Running units whose holder's lease expired or whose holder is known dead."""
        supervisor = self.executor.ports.supervisor
        found = set()
        held = self.executor.records.get(self._held) if self._held is not None else None
        if held is not None and held.status == RUNNING and held.lease_owner == self.executor.owner \
                and held.key not in self.executor.in_flight:  # fmt: skip
            found.add(held.key)  # claimed for this process by the driver that handed it over
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
        for key in list(executor.in_flight):
            record = executor.records.get(key)
            if record is not None and record.lease_expires_at is not None and record.lease_expires_at < horizon:
                executor.renew_lease(key, now + timedelta(seconds=executor.lease_seconds))

    # -- the execution record -------------------------------------------------------------

    def _check_execution(self) -> None:
        """Re-read the execution now and then, to notice ``baton cancel``."""
        executor = self.executor
        if self.clock.monotonic() - self._checked_at < self.pace.check_seconds:
            return
        self._checked_at = self.clock.monotonic()
        latest = executor.ports.store.get_execution(self.execution_id)
        if latest.cancel_requested and not executor.execution.cancel_requested:
            for key in executor.in_flight:
                executor.ports.supervisor.reap(latest.execution_id, key)
        executor.execution = latest.evolve(workspace=self.workspace)

    def _update(self, **changes: object) -> ExecutionRecord | None:
        executor = self.executor
        changed = executor.execution.evolve(**changes, workspace=self.stored_workspace)
        try:
            stored = executor.ports.store.update_execution(changed)
        except StateConflictError:
            latest = executor.ports.store.get_execution(self.execution_id)
            executor.execution = latest.evolve(workspace=self.workspace)
            executor.refresh()
            return None
        executor.execution = stored.evolve(workspace=self.workspace)
        executor.flush_notices()  # the steps' changes come before the execution's
        executor.observer.execution_changed(stored)
        return stored

    def _suspend(self) -> None:
        if self.executor.execution.status != WAITING and self._update(status=WAITING) is not None:
            children.tell_parent(self.executor.execution, self.queue, self.clock.now())

    def _finalize(self, outcome: str) -> bool:
        stored = self._update(**final_changes(self.executor, outcome), finished_at=self.clock.now())
        if stored is None:
            return False
        release(self.executor.ports.store, stored)
        children.notify_parent(self.executor.ports, self.queue, stored, self.clock.now())
        self.hooks.execution_ended(stored)
        return True


def _held_by_runner(record: StepRecord) -> bool:
    """True for a unit claimed for (or by) a long-step runner's process."""
    return (record.lease_owner or "").startswith(RUNNER_OWNER_PREFIX)
