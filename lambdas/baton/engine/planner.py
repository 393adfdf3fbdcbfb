"""The planner: a pure function from (definition, records, now) to what happens next.

No I/O and no clock: the caller passes ``now`` and the set of running units whose holder is
gone (``orphaned``). The order of an execution is: ``steps`` (a DAG), then, if it failed,
the compensations of succeeded steps in reverse completion order, then ``on_failure``, and
always ``finally`` last.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from baton.engine.definition import Definition, StepDef
from baton.engine.records import (
    ACTIVE_STEP,
    CANCELLED,
    DONE_OK,
    FAILED,
    KIND_ITEM,
    KIND_STEP,
    PENDING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    TERMINAL_STEP,
    WAITING,
    StepRecord,
    compensation_key,
    item_key,
)

REASON_WHEN = "when"
REASON_UPSTREAM = "upstream_failed"
REASON_STOPPED = "stopped"
REASON_CANCELLED = "cancelled"
REASON_NOT_NEEDED = "not_needed"


@dataclass
class Decision:
    """What the caller does next.

    ``start``: units to run now (pending steps or items, a compensation, a waiting unit whose
    time came, an orphaned running unit to take over). ``finish``: ``for_each`` steps whose
    items are all done. ``skip``: (key, status, reason) for units that will never run.
    ``outcome``: the execution's final status once nothing is left. ``wake_at``: the
    earliest future time at which a backed-off retry or a timed wait becomes due.
    """

    start: list[str] = field(default_factory=list)
    finish: list[str] = field(default_factory=list)
    skip: list[tuple[str, str, str]] = field(default_factory=list)
    outcome: str | None = None
    wake_at: datetime | None = None

    @property
    def has_actions(self) -> bool:
        """True when the caller has something to do right now."""
        return bool(self.start or self.finish or self.skip)


def plan(
    definition: Definition,
    records: Mapping[str, StepRecord],
    *,
    now: datetime,
    cancel_requested: bool = False,
    orphaned: frozenset[str] = frozenset(),
    index: PlanIndex | None = None,
    item_room: int | None = None,
) -> Decision:
    """Decide the next actions of an execution from its records alone.

    ``index``, kept up to date with ``records`` by their holder, makes the main list's pass
    look only at the steps that can change (ready, running, waiting) instead of every step,
    and at the few items of a ``for_each`` that can start instead of all of them, so a long
    chain or a wide fan-out plans in constant time per unit; the decision is the same.

    ``item_room``: start at most this many pending ``for_each`` items (the caller's free
    room), the lowest indices first; None starts every item that may start.
    """
    return _Planner(definition, records, now, orphaned, index, item_room=item_room).run(cancel_requested)


class PlanIndex:
    """What the planner's pass over the main ``steps`` list derives from the step records,
    kept up to date one record at a time (:meth:`update`) by whoever holds the records."""

    def __init__(self, definition: Definition) -> None:
        steps = definition.list_steps("steps")
        self.order = {step.id: position for position, step in enumerate(steps)}
        self.steps = {step.id: step for step in steps}
        self.dependants: dict[str, list[str]] = {step.id: [] for step in steps}
        for step in steps:
            for need in step.needs:
                self.dependants[need].append(step.id)
        self.unsettled = {step.id: len(step.needs) for step in steps}
        """How many of each step's needs have not settled."""
        self.open: set[str] = set(self.order)
        """Steps without a final status."""
        self.ready: set[str] = {key for key, count in self.unsettled.items() if count == 0}
        """Open steps whose needs have all settled."""
        self.live: set[str] = set()
        """Open steps that are running or waiting, or have items."""
        self.hard_failures = 0
        self.stops = 0
        self.items = {step.id: ItemIndex() for step in definition.steps if step.for_each is not None}
        """The items of each ``for_each`` step, of every list."""

    def update(self, old: StepRecord | None, new: StepRecord) -> None:
        """``new`` replaced ``old`` (None: the step had no record before)."""
        if new.kind == KIND_ITEM:
            items = self.items.get(new.step_id)
            if items is not None and new.index is not None:
                items.update(old, new)
            return
        if new.kind != KIND_STEP:
            return
        items = self.items.get(new.key)
        if items is not None:
            items.resize(new.item_count or 0)
        if new.key not in self.order:
            return  # a step of ``on_failure`` or ``finally``: the full pass reads those lists
        if old is not None:
            self._apply(old, -1)
        self._apply(new, +1)

    def candidates(self) -> list[str]:
        """The steps the pass must look at when nothing stops the list, in file order."""
        return sorted(self.ready | self.live, key=self.order.__getitem__)

    def _apply(self, record: StepRecord, sign: int) -> None:
        key, step = record.key, self.steps[record.key]
        if record.status not in TERMINAL_STEP:
            if record.status != PENDING or record.item_count:
                (self.live.add if sign > 0 else self.live.discard)(key)
            return
        hard = record.status == FAILED and not step.continue_on_error
        self.hard_failures += sign * hard
        self.stops += sign * record.stop
        if sign > 0:
            self.open.discard(key)
            self.ready.discard(key)
        else:
            self.open.add(key)
            if self.unsettled[key] == 0:
                self.ready.add(key)
        if record.status in DONE_OK or (record.status == FAILED and not hard):
            for dependant in self.dependants[key]:
                if sign < 0 and self.unsettled[dependant] == 0:
                    self.ready.discard(dependant)
                self.unsettled[dependant] -= sign
                if self.unsettled[dependant] == 0 and dependant in self.open:
                    self.ready.add(dependant)


class ItemIndex:
    """The items of one ``for_each`` step as the planner reads them, kept up to date one
    record at a time: counts by status, and the pending items in index order, so planning
    the next few items costs the same whatever the width. Only items below the step's
    ``item_count`` count (a resume may leave records of a longer earlier expansion)."""

    def __init__(self) -> None:
        self.count = 0
        """The step's ``item_count``."""
        self.units: dict[int, StepRecord] = {}
        """Every item record seen, by index."""
        self.open = 0
        """Items without a final status."""
        self.failed = 0
        self.stops = 0
        self.active = 0
        """Running or waiting items."""
        self.pending: set[int] = set()
        self.running: set[int] = set()
        self.waiting: set[int] = set()
        self._due: list[int] = []
        """A heap of pending items without a wake-up time (or whose time came): may hold
        items that have moved on since, dropped when met."""
        self._sleeping: list[tuple[datetime, int]] = []
        """A heap of pending items backing off, by wake-up time (dropped when stale)."""

    def update(self, old: StepRecord | None, new: StepRecord) -> None:
        """``new`` replaced ``old`` (None: the item had no record before)."""
        assert new.index is not None
        before = self.units.get(new.index)
        if before is not None and new.index < self.count:
            self._apply(before, -1)
        self.units[new.index] = new
        if new.index < self.count:
            self._apply(new, +1)

    def resize(self, count: int) -> None:
        """The step's ``item_count`` is now ``count``: recount when it changed."""
        if count == self.count:
            return
        self.count = count
        self.open = self.failed = self.stops = self.active = 0
        self.pending, self.running, self.waiting = set(), set(), set()
        self._due, self._sleeping = [], []
        for index, record in self.units.items():
            if index < count:
                self._apply(record, +1)

    def _apply(self, record: StepRecord, sign: int) -> None:
        index, status = record.index, record.status
        assert index is not None
        self.failed += sign * (status == FAILED)
        self.stops += sign * record.stop
        if status in TERMINAL_STEP:
            return
        self.open += sign
        self.active += sign * (status in ACTIVE_STEP)
        group = self.pending if status == PENDING else self.running if status == RUNNING else self.waiting
        if sign < 0:
            group.discard(index)
            return
        group.add(index)
        if status == PENDING:
            if record.wake_at is None:
                heapq.heappush(self._due, index)
            else:
                heapq.heappush(self._sleeping, (record.wake_at, index))

    def _is_pending(self, index: int) -> StepRecord | None:
        record = self.units.get(index)
        return record if index in self.pending and record is not None else None

    def _wake_due(self, now: datetime) -> None:
        """Move the backing-off items whose time came to the due ones."""
        while self._sleeping and self._sleeping[0][0] <= now:
            when, index = heapq.heappop(self._sleeping)
            record = self._is_pending(index)
            if record is not None and record.wake_at == when:
                heapq.heappush(self._due, index)

    def first_startable(self, room: int, now: datetime) -> list[StepRecord]:
        """Up to ``room`` pending items due at ``now``, lowest index first."""
        self._wake_due(now)
        found: list[StepRecord] = []
        seen: set[int] = set()
        while self._due and len(found) < room:
            index = heapq.heappop(self._due)
            record = self._is_pending(index)
            if record is None or index in seen:
                continue  # moved on since it was pushed, or pushed twice
            seen.add(index)
            if record.wake_at is not None and record.wake_at > now:
                heapq.heappush(self._sleeping, (record.wake_at, index))  # a ``now`` earlier than before
                continue
            found.append(record)
        for record in found:
            assert record.index is not None
            heapq.heappush(self._due, record.index)
        return found

    def next_wake(self, now: datetime) -> datetime | None:
        """The earliest wake-up time after ``now`` of a pending item backing off."""
        self._wake_due(now)
        while self._sleeping:
            when, index = self._sleeping[0]
            record = self._is_pending(index)
            if record is not None and record.wake_at == when:
                return when
            heapq.heappop(self._sleeping)
        return None


class _Planner:
    def __init__(
        self,
        definition: Definition,
        records: Mapping[str, StepRecord],
        now: datetime,
        orphaned: frozenset[str],
        index: PlanIndex | None = None,
        *,
        item_room: int | None = None,
    ) -> None:
        self.definition = definition
        self.records = records
        self.now = now
        self.orphaned = orphaned
        self.index = index
        self.item_room = item_room
        """Pending items that may still be started in this plan (None: no bound)."""
        self.decision = Decision()

    def run(self, cancel: bool) -> Decision:
        main_done, main_failed = self._plan_list("steps", cancel)
        if not main_done:
            return self.decision
        if main_failed and not cancel:
            if not self._plan_compensations():
                return self.decision
            failure_done, _ = self._plan_list("on_failure", False)
        else:
            reason = REASON_CANCELLED if cancel else REASON_NOT_NEEDED
            failure_done = self._skip_pending("on_failure", reason)
        if not failure_done:
            return self.decision
        finally_done, finally_failed = self._plan_list("finally", False)
        if not finally_done:
            return self.decision
        if cancel:
            self.decision.outcome = CANCELLED
        else:
            self.decision.outcome = FAILED if main_failed or finally_failed else SUCCEEDED
        return self.decision

    # -- one list -------------------------------------------------------------------------

    def _plan_list(self, list_name: str, cancel: bool) -> tuple[bool, bool]:
        """Plan one list's DAG; return (every step is terminal, the list failed)."""
        if list_name == "steps" and self.index is not None:
            return self._plan_indexed(self.index, cancel)
        failing = stopped = False
        open_steps: list[tuple[StepDef, StepRecord]] = []
        settled: set[str] = set()  # steps whose dependants may start (needs stay in one list)
        # One pass over the records: this runs after every state change, so it stays cheap.
        for step in self.definition.list_steps(list_name):
            record = self.records[step.id]
            if record.status in TERMINAL_STEP:
                hard_failure = record.status == FAILED and not step.continue_on_error
                failing = failing or hard_failure
                stopped = stopped or record.stop
                if record.status in DONE_OK or (record.status == FAILED and not hard_failure):
                    settled.add(step.id)
                continue
            open_steps.append((step, record))
            indexed = self.index.items.get(step.id) if self.index is not None else None
            if indexed is not None and record.item_count and indexed.count == record.item_count:
                failing = failing or (indexed.failed > 0 and not step.continue_on_error)
                stopped = stopped or indexed.stops > 0
                continue
            for item in self._items(step, record):
                failing = failing or (item.status == FAILED and not step.continue_on_error)
                stopped = stopped or item.stop
        reason = None
        if cancel:
            reason = REASON_CANCELLED
        elif failing:
            reason = REASON_UPSTREAM
        elif stopped:
            reason = REASON_STOPPED
        for step, record in open_steps:
            if record.status == PENDING:
                if reason:
                    self._skip(record, reason)
                elif settled.issuperset(step.needs):
                    self._consider(record)
            elif record.item_count is not None and record.status == RUNNING:
                self._plan_items(step, record, reason)
            else:
                self._plan_active(record, reason)
        return not open_steps, failing

    def _plan_indexed(self, index: PlanIndex, cancel: bool) -> tuple[bool, bool]:
        """The main list's pass from the index: the same decision as the full pass, looking
        only at ready and live steps unless something stops the list."""
        failing, stopped = index.hard_failures > 0, index.stops > 0
        for key in index.live:
            items = index.items.get(key)
            if items is not None and items.count:
                failing = failing or (items.failed > 0 and not index.steps[key].continue_on_error)
                stopped = stopped or items.stops > 0
        reason = REASON_CANCELLED if cancel else REASON_UPSTREAM if failing else REASON_STOPPED if stopped else None
        keys = sorted(index.open, key=index.order.__getitem__) if reason else index.candidates()
        for key in keys:
            step, record = index.steps[key], self.records[key]
            if record.status == PENDING:
                if reason:
                    self._skip(record, reason)
                elif index.unsettled[key] == 0:
                    self._consider(record)
            elif record.item_count is not None and record.status == RUNNING:
                self._plan_items(step, record, reason)
            else:
                self._plan_active(record, reason)
        return not index.open, failing

    def _skip_pending(self, list_name: str, reason: str) -> bool:
        done = True
        for step in self.definition.list_steps(list_name):
            record = self.records[step.id]
            if record.status not in TERMINAL_STEP:
                done = False
                self._skip(record, reason)
        return done

    def _items(self, step: StepDef, record: StepRecord) -> list[StepRecord]:
        if step.for_each is None or not record.item_count:
            return []
        return [self.records[item_key(step.id, i)] for i in range(record.item_count)]

    # -- units ----------------------------------------------------------------------------

    def _plan_items(self, step: StepDef, parent: StepRecord, reason: str | None) -> None:
        indexed = self.index.items.get(step.id) if self.index is not None else None
        if indexed is not None and indexed.count == parent.item_count:
            self._plan_indexed_items(step, parent, indexed, reason)
            return
        items = self._items(step, parent)
        if all(item.status in TERMINAL_STEP for item in items):
            self.decision.finish.append(parent.key)
            return
        if reason is None and not step.continue_on_error and any(item.status == FAILED for item in items):
            reason = REASON_UPSTREAM
        active = sum(1 for item in items if item.status in ACTIVE_STEP)
        room = self._room_for_items(step, len(items), active)
        for item in items:
            if item.status == PENDING:
                if reason:
                    self._skip(item, reason)
                elif item.wake_at is not None and item.wake_at > self.now:
                    self._note_wake(item.wake_at)
                elif room > 0:
                    self.decision.start.append(item.key)
                    room -= 1
            elif item.status in ACTIVE_STEP:
                self._plan_active(item, reason)
        self._spend_item_room(room, step, len(items), active)

    def _room_for_items(self, step: StepDef, count: int, active: int) -> int:
        """How many pending items of ``step`` may start now: its ``max_concurrency`` less
        the items running or waiting, and no more than the room left in this plan."""
        room = (step.max_concurrency or count) - active
        return room if self.item_room is None else min(room, self.item_room)

    def _spend_item_room(self, left: int, step: StepDef, count: int, active: int) -> None:
        if self.item_room is not None:
            self.item_room -= max(0, self._room_for_items(step, count, active)) - max(0, left)

    def _plan_indexed_items(self, step: StepDef, parent: StepRecord, items: ItemIndex, reason: str | None) -> None:
        """The same decision as the pass over every item, from the step's item index."""
        if items.open == 0:
            self.decision.finish.append(parent.key)
            return
        if reason is None and not step.continue_on_error and items.failed:
            reason = REASON_UPSTREAM
        starts: list[tuple[int, str]] = []
        skips: list[tuple[int, StepRecord]] = []
        for key in self.orphaned:
            index = _index_of(key, step.id)
            record = items.units.get(index)
            if record is not None and record.key == key and index in items.running:
                if reason:
                    skips.append((index, record))
                else:
                    starts.append((index, key))
        for index in items.waiting:
            record = items.units[index]
            if reason:
                skips.append((index, record))
            elif record.wake_at is not None:
                if record.wake_at > self.now:
                    self._note_wake(record.wake_at)
                else:
                    starts.append((index, record.key))
        if reason:
            skips += [(index, items.units[index]) for index in items.pending]
            for _, record in sorted(skips, key=lambda entry: entry[0]):
                self._skip(record, reason)
        else:
            room = self._room_for_items(step, items.count, items.active)
            started = items.first_startable(room, self.now) if room > 0 else []
            starts += [(record.index or 0, record.key) for record in started]
            self._spend_item_room(room - len(started), step, items.count, items.active)
            wake = items.next_wake(self.now)
            if wake is not None:
                self._note_wake(wake)
        self.decision.start += [key for _, key in sorted(starts)]

    def _plan_active(self, record: StepRecord, reason: str | None) -> None:
        """A running or waiting unit: take it over, wake it, cancel it, or leave it."""
        if record.status == RUNNING:
            if record.key in self.orphaned:
                if reason:
                    self._skip(record, reason)
                else:
                    self.decision.start.append(record.key)
            return
        if record.status == WAITING:
            if reason:
                self._skip(record, reason)
            elif record.wake_at is not None:
                self._consider(record)

    def _consider(self, record: StepRecord) -> bool:
        """Start ``record`` unless it is not due yet; True if started."""
        if record.wake_at is not None and record.wake_at > self.now:
            self._note_wake(record.wake_at)
            return False
        self.decision.start.append(record.key)
        return True

    def _note_wake(self, when: datetime) -> None:
        if self.decision.wake_at is None or when < self.decision.wake_at:
            self.decision.wake_at = when

    def _skip(self, record: StepRecord, reason: str) -> None:
        started = record.status != PENDING
        status = CANCELLED if reason == REASON_CANCELLED or started else SKIPPED
        self.decision.skip.append((record.key, status, reason))

    # -- compensation ---------------------------------------------------------------------

    def _plan_compensations(self) -> bool:
        """Run compensations one at a time, newest completion first; True when all ended."""
        done_units: list[StepRecord] = []
        for step in self.definition.list_steps("steps"):
            if step.compensate is None:
                continue
            record = self.records[step.id]
            if step.for_each is not None:
                done_units += [i for i in self._items(step, record) if i.status == SUCCEEDED]
            elif record.status == SUCCEEDED:
                done_units.append(record)
        done_units.sort(key=lambda r: (r.finished_at or self.now, r.key), reverse=True)
        for unit in done_units:
            key = compensation_key(unit.key)
            compensation = self.records.get(key)
            if compensation is None:
                self.decision.start.append(key)
                return False
            if compensation.status == PENDING:
                self._consider(compensation)
                return False
            if compensation.status not in TERMINAL_STEP:
                self._plan_active(compensation, None)
                return False
        return True


def _index_of(key: str, step_id: str) -> int:
    """The index in an item key of ``step_id`` (-1 when it is not one)."""
    if not key.startswith(step_id + "[") or not key.endswith("]"):
        return -1
    text = key[len(step_id) + 1 : -1]
    return int(text) if text.isdigit() else -1


def is_skipped_by_when(record: StepRecord) -> bool:
    """True for a unit skipped because its ``when`` was false (resume keeps those)."""
    return record.status == SKIPPED and record.reason == REASON_WHEN
