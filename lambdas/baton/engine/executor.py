"""The executor: every transition of a unit's record, each one conditional write.

``begin`` takes a unit the planner made ready: it evaluates ``when``, expands a ``for_each``,
renders the body, looks up the cache, and otherwise claims the unit (pending -> running with
a lease; the new version is the fence) and runs it, inline or on the dispatcher. ``finish``
records an attempt's outcome conditionally on that fence, scheduling a retry when the
policy allows. A lost race (``StateConflictError``) means another worker moved first: the
executor re-reads the records and the planner decides again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from baton.engine import children
from baton.engine.attempt import AttemptOutcome, AttemptPlan, outputs_in_workspace, run_attempt
from baton.engine.context import Prepared, UnitContext
from baton.engine.definition import BodyDef, StepDef
from baton.engine.masking import SECRET_ITEMS
from baton.engine.planner import REASON_WHEN
from baton.engine.records import (
    CACHED,
    CANCELLED,
    COMPENSATION_SUFFIX,
    FAILED,
    KIND_COMPENSATION,
    KIND_ITEM,
    KIND_STEP,
    PENDING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    TERMINAL_STEP,
    WAITING,
    StepRecord,
    item_key,
)
from baton.engine.resume import reset
from baton.errors import BatonError, LongRunnerError, StateConflictError, StepFailedError
from baton.ports import ArtifactRef, LongRunner
from baton.steps import step_type
from baton.steps.base import Started, StepResult
from baton.workspace_paths import OutsideWorkspaceError, inside_workspace

LONG_RUNNER = "long"
"""``runner:`` of a step whose attempts run on the long-step runner, where there is one."""
RUNNER_OWNER_PREFIX = "long:"
"""Lease owners of units claimed for the long-step runner: ``long:<execution>/<unit>/<attempt>``."""
RUNNER_STOPPED = (
    "the long-step runner holding this step stopped without finishing it (its process failed, "
    "was stopped or timed out, or never started in time); see the runner's log"
)


@dataclass(frozen=True, slots=True)
class HandOff:
    """A claim this executor made on the write that ended the unit before: the unit is still
    stored as pending at ``version``; readers see it running under this lease."""

    version: int
    expires_at: datetime
    attempt: int
    begun: bool = False

    def to_data(self, key: str, owner: str) -> dict[str, Any]:
        """The ``hand_off`` a record carries."""
        return {"key": key, "version": self.version, "owner": owner,
                "expires": self.expires_at.isoformat(), "attempt": self.attempt}  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeferredEnd:
    """A unit's end written ahead in memory, its commit held until the next unit's process
    has started (see ``_write_with_hand_off``)."""

    record: StepRecord
    """What ``store.commit`` is given."""
    successor: str
    """The unit whose claim rides on it."""
    notices: int
    """Where its notices begin among those held back (dropped if the commit loses a race)."""


@dataclass(frozen=True, slots=True)
class EarlyStart:
    """The next unit of a chain, planned while the unit before it runs, so that its process
    starts the moment that unit's process has exited (see ``_plan_early``)."""

    key: str
    version: int
    """The version of the unit's record it was planned from: its claim is made from it."""
    attempt: int
    plan: AttemptPlan
    begun: Started | None = None
    """What the step type's ``start`` returned, once the process runs."""


class ClaimLost(Exception):
    """Raised into an attempt whose process has just started when the write its claim rode
    on lost a race: the process is stopped and nothing of the attempt is recorded."""


class Successor(Protocol):
    """The driver's choice of the unit to start next (``Driver._successor``)."""

    def __call__(self, ended: StepRecord, *, alone: bool = False) -> str | None: ...


class _StoreFirst:
    """The state store as the engine's other parts see it: a unit's end written ahead is
    committed before any of them reads or writes, so none ever sees the store behind."""

    def __init__(self, store: Any, commit_ahead: Callable[[], bool]) -> None:
        self._store = store
        self._commit_ahead = commit_ahead

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not callable(attribute):
            return attribute

        def first_commit(*args: Any, **kwargs: Any) -> Any:
            self._commit_ahead()
            return attribute(*args, **kwargs)

        return first_commit


@dataclass(frozen=True, slots=True)
class InFlight:
    """A unit this executor claimed and handed to the dispatcher."""

    record: StepRecord
    plan: AttemptPlan


class Executor(UnitContext):
    """Drives the units of one execution; used from one thread (the driver's)."""

    in_flight: dict[str, InFlight]
    conflicts: int
    """Lost races so far; the driver re-plans after each."""
    handed: dict[str, HandOff]
    """Units claimed by a hand-off and not written since (see ``finish``)."""
    successor: Successor | None
    """Set by the driver: the one unit it would start next once a unit's end is written."""
    item_ended: Callable[[StepRecord], None] | None
    """Set by the driver: told of each ``for_each`` item this executor wrote as ended."""
    watch: Callable[[], None] | None
    """Set by the driver: what it does while units run (renew leases, look for a cancel),
    called while an attempt it asked to run here runs on its thread."""

    def _setup(self) -> None:
        self.in_flight = {}
        self.conflicts = 0
        self.handed = {}
        self.successor = None
        self.item_ended = None
        self.watch = None
        self._watch_error: BaseException | None = None
        self._notices: list[StepRecord] | None = None
        self._notice_error: Exception | None = None
        self._ahead: DeferredEnd | None = None
        self._next: EarlyStart | None = None
        self._early: EarlyStart | None = None
        self._store = self.ports.store
        self.ports = replace(self.ports, store=_StoreFirst(self._store, self.commit_ahead))

    def remember(self, record: StepRecord) -> None:
        """Keep a record; a unit this executor claimed by a hand-off and has not begun stays
        pending here (others read it as running under the hand-off's lease)."""
        hand = self.handed.get(record.key)
        own_view = record.status == RUNNING and record.lease_owner == self.owner
        if hand is not None and not hand.begun and own_view and record.version == hand.version:
            return
        super().remember(record)

    # -- writing --------------------------------------------------------------------------

    def write(self, *records: StepRecord, inserts: tuple[StepRecord, ...] = ()) -> bool:
        """Commit records conditionally; on a lost race re-read everything and return False."""
        if not self.commit_ahead():
            return False  # the records were read again: those given here are stale
        try:
            stored, _ = self._store.commit(records, inserts)
        except StateConflictError:
            self.conflicts += 1
            self.refresh()
            return False
        self._written(stored)
        return True

    def _written(self, stored: list[StepRecord]) -> None:
        for record in stored:
            if self._early is not None and record.key == self._early.key:
                self.drop_early()  # skipped, refused, given back: it will not run on this start
            self.handed.pop(record.key, None)
            before = self.records.get(record.key)
            self.remember(record)
            if self.item_ended is not None and _item_just_ended(before, record):
                self.item_ended(record)
            if record.status != RUNNING:
                self.settled += 1
            self._notify(record)

    def commit_ahead(self) -> bool:
        """Commit the unit's end written ahead, if any; False when it lost a race (the
        records are then read again, and the claim that rode on it is void)."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return True
        try:
            self._store.commit((ahead.record,), ())
        except StateConflictError:
            self.conflicts += 1
            if self._notices is not None:
                del self._notices[ahead.notices :]
            self.handed.pop(ahead.successor, None)
            self.refresh()
            return False
        return True

    def _notify(self, record: StepRecord) -> None:
        if self._notices is not None:
            self._notices.append(record)
        else:
            self.observer.step_changed(self, record)

    def flush_notices(self) -> None:
        """Tell the observer of the changes held back since a unit's end handed off to the
        next unit (see ``_write_with_hand_off``), in the order they were made; an end
        written ahead is committed first, so the observer is never told of one that is not."""
        self.commit_ahead()
        notices, self._notices = self._notices, None
        for record in notices or ():
            self.observer.step_changed(self, record)

    def refresh(self) -> None:
        """Re-read every record (another worker changed some)."""
        self.drop_early()
        for record in self.ports.store.get_steps(self.execution.execution_id).values():
            self.remember(record)

    # -- begin ----------------------------------------------------------------------------

    def begin(self, key: str, *, here: bool = False) -> bool:
        """Act on a unit the planner made ready; False if nothing changed.

        ``here``: nothing else of the execution can move until this unit ends, so an attempt
        of a ``watched`` step type runs on this thread, ``watch`` called meanwhile, instead
        of on a worker thread (which costs the hand-over to it and back).
        """
        if self._early is not None and self._early.key != key:
            self.drop_early()
        if key.endswith(COMPENSATION_SUFFIX):
            return self._begin_compensation(key, here=here)
        record = self.records[key]
        step = self.definition.step(record.step_id)
        if record.status == WAITING:
            return self._wake(record)
        if record.status == RUNNING:
            if self.long_runner_for(key) is not None:
                # A runner's process ended without recording the attempt: that attempt
                # failed, and the step's retry policy decides whether another one starts.
                self.finish(key, AttemptOutcome(StepResult.failure(RUNNER_STOPPED)))
                return True
            # The holder is gone: stop what it left running, then run the attempt again. A
            # pending unit's processes are stopped too: the holder may have started the next
            # unit's process on a claim it died before storing (``_write_with_hand_off``).
            self.ports.supervisor.reap(self.execution.execution_id, key, *self._unclaimed())
            return self._attempt(record, step.body, takeover=True, here=here)
        if record.kind != KIND_ITEM and step.for_each is not None:
            return self._expand(record, step)
        return self._attempt(record, step.body, takeover=False, here=here)

    def _unclaimed(self) -> list[str]:
        """Units no one holds or was handed: no process of theirs should be running."""
        return [key for key, record in self.records.items() if record.status == PENDING and key not in self.handed]

    def _begin_compensation(self, key: str, *, here: bool) -> bool:
        record = self.records.get(key)
        if record is None:
            original = self.records[key.removesuffix(COMPENSATION_SUFFIX)]
            record = StepRecord(
                execution_id=original.execution_id,
                key=key,
                step_id=original.step_id,
                kind=KIND_COMPENSATION,
                index=original.index,
                item=original.item,
            )
            if not self.write(inserts=(record,)):
                return False
            record = self.records[key]
        body = self.definition.step(record.step_id).compensate
        assert body is not None
        takeover = record.status == RUNNING
        if takeover:
            self.ports.supervisor.reap(self.execution.execution_id, key)
        return self._attempt(record, body, takeover=takeover, here=here)

    def _attempt(self, record: StepRecord, body: BodyDef, *, takeover: bool, here: bool = False) -> bool:
        """Skip, restore from the cache, or claim and run one attempt of a unit."""
        step = self.definition.step(record.step_id)
        now = self.ports.clock.now()
        try:
            # ``when`` decides once, before the first attempt (not on retries or takeovers).
            decides = record.tries == 0 and not takeover and record.kind != KIND_COMPENSATION
            if decides and step.when is not None and not self.expressions.evaluate(step.when, self.context_for(record)):
                return self._told(self.write(self._ended(record, SKIPPED, now, reason=REASON_WHEN)))
            prepared = self._prepare(record, step, body)
        except BatonError as exc:
            failed = self._ended(record, FAILED, now, error=self.masker.text(str(exc)))
            return self._told(self.write(failed.evolve(attempt=record.attempt + 1, tries=record.tries + 1)))
        if prepared.cache_key is not None and not self.execution.no_cache:
            entry = self.ports.artifacts.get_cached(prepared.cache_key, now)
            if entry is not None and self._restore_files(entry.artifacts):
                outputs = outputs_in_workspace(entry.outputs, entry.artifacts, self.workspace)
                restored = self._ended(record, CACHED, now, outputs=outputs).evolve(
                    cache_hit=True, cache_key=prepared.cache_key, artifacts=entry.artifacts, started_at=now
                )
                return self._told(self.write(restored))
        return self._claim_and_run(record, body, prepared, takeover=takeover, here=here)

    def _told(self, written: bool) -> bool:
        """``written``, once the observer has been told of every change held back: a unit
        that ends without starting a process (skipped, restored from the cache) is shown at
        once, as are the changes before it."""
        self.flush_notices()
        return written

    def _claim_and_run(
        self, record: StepRecord, body: BodyDef, prepared: Prepared, *, takeover: bool, here: bool
    ) -> bool:
        kind = prepared.step_type
        watched = here and kind.watched and self.watch is not None
        if not watched:  # told now: nothing starts a process on this thread before the changes
            if not self.commit_ahead():
                return False  # the claim rode on a write that lost a race
            self.flush_notices()
        now = self.ports.clock.now()  # rendering may have taken a while (first Jinja use)
        # A unit claimed in this process's name by whoever handed it over (a long-step
        # runner's process) goes on with that attempt; any other claim is a new attempt.
        handed_over = takeover and record.lease_owner == self.owner
        claim: dict[str, Any] = {
            "attempt": record.attempt if handed_over else record.attempt + 1,
            "tries": record.tries if takeover else record.tries + 1,
            "started_at": record.started_at or now,
            "cache_key": prepared.cache_key,
            "error": None,
            "error_kind": None,
        }
        if kind.mode == "suspend":
            assert kind.suspend is not None
            wake_at = kind.suspend(prepared.fields, now, body.timeout_seconds)
            waiting = record.evolve(status=WAITING, wake_at=wake_at, **claim)
            if kind.name == "workflow":
                return children.begin(self, waiting, prepared.fields)
            return self.write(waiting)
        runner = self.long_runner_for(record.key)
        if runner is not None:
            return self._hand_over(record, body, runner, claim)
        plan = self._claim(record, body, prepared, claim, now, watched=watched)
        if plan is None:
            return False
        if kind.mode == "inline" or watched:
            if watched:  # in flight meanwhile: its lease is renewed, a cancel stops it
                self.in_flight[record.key] = InFlight(self.records[record.key], plan)
            outcome: AttemptOutcome | BaseException | None
            try:
                outcome = run_attempt(plan, self.ports.artifacts, self.ports.clock)
            except ClaimLost:
                outcome = None
            except Exception as exc:  # a bug must fail the step, not leave it running
                outcome = exc
            finally:
                self._next = None  # planned for an exit that did not come (it failed, or was stopped)
            if self._watch_error is not None:
                self.in_flight.pop(record.key, None)
                error, self._watch_error, self._notice_error = self._watch_error, None, None
                raise error  # as if the driver's own wait had failed: nothing is recorded
            if outcome is None:  # stopped as it started: its claim is void, the records read again
                self.in_flight.pop(record.key, None)
                self._notice_error = None
                return True
            self.finish(record.key, outcome)
            if self._notice_error is not None:
                error, self._notice_error = self._notice_error, None
                raise error  # the observer failed while the step ran: as if it had failed after
            return True
        self.in_flight[record.key] = InFlight(self.records[record.key], plan)
        self.dispatcher.submit(record.key, lambda: run_attempt(plan, self.ports.artifacts, self.ports.clock))
        return True

    def _claim(
        self, record: StepRecord, body: BodyDef, prepared: Prepared, claim: dict[str, Any], now: datetime, *,
        watched: bool,
    ) -> AttemptPlan | None:  # fmt: skip
        """Claim a unit to run it, and plan the attempt; None when the claim lost a race."""
        hand = self.handed.get(record.key)
        early = None
        if hand is not None and hand.version == record.version and record.status == PENDING:
            # Claimed already, on the write that ended the unit before: run it without a write.
            claimed = record.evolve(status=RUNNING, lease_owner=self.owner, lease_expires_at=hand.expires_at,
                                    wake_at=None, **{**claim, "attempt": hand.attempt})  # fmt: skip
            self.handed[record.key] = HandOff(hand.version, hand.expires_at, hand.attempt, begun=True)
            self.remember(claimed)
            self._notify(claimed)
            early = self._take_early(record.key, hand) if watched else None
        else:
            lease = now + timedelta(seconds=self.lease_seconds)
            claimed = record.evolve(status=RUNNING, lease_owner=self.owner, lease_expires_at=lease, wake_at=None,
                                    **claim)  # fmt: skip
            if not self.write(claimed):
                return None
        self.drop_early()  # one that is not this unit's
        if early is not None:  # its process runs already: run_attempt waits for it
            return replace(early.plan, invocation=replace(early.plan.invocation, begun=early.begun))
        return self.attempt_plan(
            self.records[record.key],
            body,
            prepared,
            watch=self._watch if watched else None,
            started=self._started if watched else None,
            exited=self._exited if watched else None,
        )

    def _started(self) -> None:
        """``Invocation.started`` of an attempt on the driver's thread: the end of the unit
        before, written ahead, is committed now, and the notices held back are given, while
        its process runs. When that commit loses a race, ``ClaimLost`` stops the process; when
        the store fails, so does the attempt, and the error is raised once it returns. A
        failure of the observer is raised once the attempt is recorded, not into the step."""
        try:
            committed = self.commit_ahead()
        except BaseException as exc:
            self._watch_error = exc
            raise ClaimLost("the state store failed") from exc
        if not committed:
            raise ClaimLost("the write this attempt's claim rode on lost a race")
        try:
            self.flush_notices()
        except Exception as exc:  # raised by _claim_and_run once the attempt is recorded
            self._notice_error = exc
        self._plan_early()

    def _plan_early(self) -> None:
        """While a chain step's process runs on the driver's thread, plan the step after it:
        the one unit the driver would start once this one ends, when nothing about how it
        runs can depend on how this one ended (a ``shell`` step with no template, ``when``,
        cache or expression, after a step with no declared outputs or cache). ``_exited``
        then starts its process the moment this one's has exited in a way that makes the
        step succeed, and the end of this step is recorded while that process runs.

        The claim is the usual one: it rides on this step's end (``_write_with_hand_off``),
        so the start changes nothing else. Whatever else happens first (this step fails after
        all, a cancel, a lost race, another unit to begin) stops that process and lets go of
        it before anything is recorded of it, as a lost race does (``ClaimLost``).
        """
        self._next = None
        if self.successor is None or len(self.in_flight) != 1:
            return
        ((key, flight),) = self.in_flight.items()
        record = flight.record
        step = self.definition.step(record.step_id)
        if record.kind != KIND_STEP or step.outputs or flight.plan.cache_key is not None:
            return
        now = self.ports.clock.now()
        del self.in_flight[key]  # as it will be once it has ended
        try:
            following = self.successor(self._ended(record, SUCCEEDED, now), alone=True)
        finally:
            self.in_flight[key] = flight
        target = self.records.get(following) if following is not None else None
        if target is None:
            return
        step = self.definition.step(target.step_id)
        kind = step_type(step.body.type)
        if kind.start is None or step.when is not None or step.cache_enabled or step.templated:
            return
        try:
            prepared = self._prepare(target, step, step.body)
        except BatonError:
            return  # it fails the usual way, when it begins
        attempt = target.attempt + 1  # the hand-off's (``_write_with_hand_off``)
        plan = self.attempt_plan(target.evolve(attempt=attempt), step.body, prepared, watch=self._watch,
                                 started=self._started, exited=self._exited)  # fmt: skip
        self._next = EarlyStart(target.key, target.version, attempt, plan)

    def _exited(self) -> None:
        """``Invocation.exited`` of an attempt on the driver's thread: start the process of
        the unit planned to follow it (``_plan_early``), unless a cancel came meanwhile."""
        planned, self._next = self._next, None
        if planned is None or self.execution.cancel_requested or self._watch_error is not None:
            return
        start = planned.plan.step_type.start
        assert start is not None
        try:
            begun = start(planned.plan.prepared, planned.plan.invocation)
        except Exception:  # it starts the usual way when it begins, and says then why it cannot
            return
        self._early = replace(planned, begun=begun)

    def _take_early(self, key: str, hand: HandOff) -> EarlyStart | None:
        """The process started early for ``key`` on the claim ``hand``, or None."""
        early = self._early
        if early is None or early.key != key or early.version != hand.version or early.attempt != hand.attempt:
            return None
        self._early = None
        return early

    def drop_early(self) -> None:
        """Stop a process started early that will not be waited for, and let go of it."""
        early, self._early = self._early, None
        if early is not None and early.begun is not None:
            early.begun.stop()

    def _watch(self) -> None:
        """The driver's ``watch``, from inside an attempt: a failure of its own (the state
        store out of reach) stops the attempt's processes and is raised once it returns."""
        if self.watch is None or self._watch_error is not None:
            return
        try:
            self.watch()
        except BaseException as exc:
            self._watch_error = exc
            for key in list(self.in_flight):
                self.ports.supervisor.reap(self.execution.execution_id, key)

    def long_runner_for(self, key: str) -> LongRunner | None:
        """The long-step runner that runs this unit's attempts, or None when they run here.

        Only a ``runner: long`` step's own attempts (and its ``for_each`` items) go there:
        its compensation and the expansion of its items run in the worker.
        """
        runner = self.ports.long_runner
        if runner is None or key.endswith(COMPENSATION_SUFFIX):
            return None
        record = self.records.get(key)
        step = self.definition.step(record.step_id if record is not None else key.split("[", maxsplit=1)[0])
        if step.runner != LONG_RUNNER or (step.for_each is not None and (record is None or record.kind != KIND_ITEM)):
            return None
        return runner

    def _hand_over(self, record: StepRecord, body: BodyDef, runner: LongRunner, claim: dict[str, Any]) -> bool:
        """Claim the unit in the runner's name, for as long as its process may take to start,
        and start that process; a start the runner refuses fails the attempt (retried by the
        step's policy)."""
        from baton.engine.units import DEFAULT_STEP_SECONDS

        execution_id = self.execution.execution_id
        owner = f"{RUNNER_OWNER_PREFIX}{execution_id}/{record.key}/{claim['attempt']}"
        hold = self.ports.clock.now() + timedelta(seconds=runner.hold_seconds)
        held = record.evolve(status=RUNNING, lease_owner=owner, lease_expires_at=hold, wake_at=None, **claim)
        if not self.write(held):
            return False
        try:
            runner.start(execution_id, record.key, owner=owner, seconds=body.timeout_seconds or DEFAULT_STEP_SECONDS)
        except LongRunnerError as exc:
            self.finish(record.key, AttemptOutcome(StepResult.failure(str(exc))))
        return True

    def _prepare(self, record: StepRecord, step: StepDef, body: BodyDef) -> Prepared:
        kind = step_type(body.type)
        # Building the context costs a copy of every step's view; a body with no template and
        # no bare expression (``command: make``, ``condition: true``) does not read it.
        plain = not step.templated and record.kind != KIND_COMPENSATION and not _has_bare_expression(body)
        context = {} if plain else self.context_for(record)
        fields = kind.prepare(body.fields, context, self.expressions)
        env = {
            **self.expressions.render_env(self.definition.env, context),
            **self.expressions.render_env(body.env, context),
        }
        if record.kind == KIND_COMPENSATION:
            return Prepared(kind, fields, env)
        outputs = {name: str(self.expressions.render(path, context)) for name, path in step.outputs.items()}
        cache_key = None
        if step.cache_enabled:
            # A cached child's key covers the definition it would run, not only its name.
            keyed = fields
            if kind.name == "workflow":
                keyed = {**fields, "definition": children.definition_digest(self, fields)}
            cache_key = self.cache_key_for(step, fields=keyed, env=env, outputs=outputs, context=context, record=record)
        return Prepared(kind, fields, env, outputs, cache_key, step.cache_ttl_seconds)

    def _restore_files(self, files: dict[str, Any]) -> bool:
        """Put a cache entry's files back in the workspace; False (a miss) if a blob is gone."""
        try:
            for info in files.values():
                destination = inside_workspace(self.workspace, info["path"], "cached output")
                self.ports.artifacts.restore_file(ArtifactRef.from_data(info["ref"]), destination)
        except (OSError, OutsideWorkspaceError):
            return False  # never write outside the workspace: run the step, whose check fails it
        return True

    # -- for_each -------------------------------------------------------------------------

    def _expand(self, parent: StepRecord, step: StepDef) -> bool:
        now = self.ports.clock.now()
        try:
            values = self.expressions.evaluate(step.for_each, self.context_for(parent))
            if isinstance(values, dict | str) or not hasattr(values, "__iter__"):
                raise StepFailedError(f"for_each gave {type(values).__name__} {values!r}; expected a list")
            values = list(values)
            if self.masker.reveals(values):  # items are stored in the state: never a secret
                raise StepFailedError(SECRET_ITEMS, retryable=False)
        except BatonError as exc:
            return self.write(self._ended(parent, FAILED, now, error=self.masker.text(str(exc))))
        updates, inserts = [], []
        for index, value in enumerate(values):
            key = item_key(step.id, index)
            existing = self.records.get(key)
            if existing is None:
                inserts.append(StepRecord(parent.execution_id, key, step.id, KIND_ITEM, index=index, item=value))
            elif not (existing.item == value and existing.status in (SUCCEEDED, CACHED)):
                updates.append(reset(existing).evolve(item=value, index=index))
        if not values:
            return self.write(self._ended(parent, SUCCEEDED, now, outputs=[]))
        running = parent.evolve(
            status=RUNNING, item_count=len(values), items_open=len(updates) + len(inserts), started_at=now
        )
        return self.write(running, *updates, inserts=tuple(inserts))

    def aggregate(self, key: str) -> bool:
        """Close a ``for_each`` step whose items have all ended."""
        parent = self.records[key]
        step = self.definition.step(parent.step_id)
        items = [self.records[item_key(step.id, i)] for i in range(parent.item_count or 0)]
        statuses = [item.status for item in items]
        failed = [item for item in items if item.status == FAILED]
        if failed:
            status = FAILED
        elif CANCELLED in statuses:
            status = CANCELLED
        elif all(s == SKIPPED for s in statuses):
            status = SKIPPED
        elif all(s in (CACHED, SKIPPED) for s in statuses):
            status = CACHED
        else:
            status = SUCCEEDED
        error = None
        if failed:
            error = f"{len(failed)} of {len(items)} items failed; item {failed[0].index}: {failed[0].error}"
        finished = max((i.finished_at for i in items if i.finished_at), default=self.ports.clock.now())
        closed = parent.evolve(
            status=status,
            outputs=[item.outputs for item in items],
            error=error,
            attempt=max((i.attempt for i in items), default=0),
            cache_hit=status == CACHED,
            finished_at=finished,
            stop=any(item.stop for item in items),
        )
        return self.write(closed)

    # -- ending ---------------------------------------------------------------------------

    def finish(self, key: str, outcome: AttemptOutcome | BaseException) -> bool:
        """Record an attempt's outcome, conditionally on the claim's fence."""
        flight = self.in_flight.pop(key, None)
        record = flight.record if flight else self.records[key]
        if isinstance(outcome, BaseException):
            outcome = AttemptOutcome(StepResult.failure(f"internal error: {outcome!r}", retryable=False))
        result, now = outcome.result, self.ports.clock.now()
        if result.ok:
            ended = self._ended(
                record, SUCCEEDED, now, outputs=result.outputs, artifacts=outcome.artifacts, stop=result.stop
            )
            return self._write_with_hand_off(ended, now)
        self.drop_early()
        if self.execution.cancel_requested:
            return self.write(self._ended(record, CANCELLED, now, outputs=result.outputs, error="cancelled"))
        body = self.body_of(record)
        retry = body.retry
        if result.retryable and result.kind in retry.on and record.tries < retry.max_attempts:
            wake_at = now + timedelta(seconds=retry.delay_before(record.tries + 1))
            again = self._ended(
                record, PENDING, now, outputs=result.outputs, error=result.error, error_kind=result.kind
            )
            return self.write(again.evolve(wake_at=wake_at, finished_at=None))
        return self.write(
            self._ended(record, FAILED, now, outputs=result.outputs, error=result.error, error_kind=result.kind)
        )

    def _write_with_hand_off(self, ended: StepRecord, now: datetime) -> bool:
        """Write a unit's end; when the driver will start the one unit it makes ready next,
        that unit's claim rides on this write (a chain costs one write per step)."""
        key = self.successor(ended) if self.successor is not None else None
        if self._early is not None and self._early.key != key:
            self.drop_early()
        if key is None:
            return self.write(ended)
        if self._notices is None:
            # The observer hears of this end, and of the next unit's start, once the next
            # unit's process has started (``Invocation.started``) or the driver turns to
            # anything else: a progress line then overlaps the process instead of delaying it.
            self._notices = []
        target = self.records[key]
        hand = HandOff(target.version, now + timedelta(seconds=self.lease_seconds), target.attempt + 1)
        ended = ended.evolve(hand_off=hand.to_data(key, self.owner))
        if ended.kind == KIND_STEP and self._ahead is None:
            # Written ahead: the commit waits until the next unit's process has started
            # (``_started``), or until anything else reads or writes the store, and meanwhile
            # the records here read as if it were done. A takeover stops a pending unit's
            # processes too (``begin``), so one started on a claim not yet stored is found.
            self._ahead = DeferredEnd(ended, key, len(self._notices))
            self._written([ended.evolve(version=ended.version + 1)])
            self.handed[key] = hand
            return True
        if not self.write(ended):
            return False
        if self.records[key].version == target.version:
            self.handed[key] = hand
        return True

    def release_hand_off(self, key: str) -> None:
        """Give up a hand-off claim on a unit this executor will not begin after all: write
        it pending again, so nobody waits for the claim's lease to run out."""
        if self._early is not None and self._early.key == key:
            self.drop_early()
        hand = self.handed.get(key)
        record = self.records.get(key)
        if hand is None or hand.begun or record is None or record.version != hand.version:
            return
        self.write(record)

    def renew_lease(self, key: str, expires_at: datetime) -> None:
        """Extend the lease of a unit in flight here; a claim that so far lives only in a
        hand-off is written now, and its new version becomes the fence."""
        flight = self.in_flight[key]
        record = self.records.get(key)
        if record is None or record.version != flight.record.version:
            return
        if key in self.handed:
            if self.write(flight.record.evolve(lease_expires_at=expires_at)):
                self.in_flight[key] = InFlight(self.records[key], flight.plan)
            return
        if self.ports.store.renew_lease(record, expires_at):
            self.remember(record.evolve(lease_expires_at=expires_at))

    def _wake(self, record: StepRecord) -> bool:
        body = self.body_of(record)
        kind = step_type(body.type)
        if kind.name == "workflow":
            return children.wake(self, record)
        assert kind.wake is not None
        return self.finish_waiting(record, kind.wake(dict(body.fields)))

    def finish_waiting(self, record: StepRecord, result: StepResult) -> bool:
        """End a waiting unit (a wait that is over, an answered or expired approval)."""
        status = SUCCEEDED if result.ok else FAILED
        now = self.ports.clock.now()
        ended = self._ended(record, status, now, outputs=result.outputs, error=result.error)
        return self.write(ended.evolve(error_kind=None if result.ok else result.kind))

    def skip(self, key: str, status: str, reason: str) -> bool:
        """Mark a unit that will not run (or not finish) as skipped or cancelled."""
        record = self.records[key]
        if record.status == RUNNING:
            self.ports.supervisor.reap(self.execution.execution_id, key)
        children.cancel(self, record)
        error = "cancelled" if status == CANCELLED else None
        return self.write(self._ended(record, status, self.ports.clock.now(), reason=reason, error=error))

    def _ended(
        self,
        record: StepRecord,
        status: str,
        now: datetime,
        *,
        outputs: Any = None,
        error: str | None = None,
        reason: str | None = None,
        **changes: Any,
    ) -> StepRecord:
        """``record`` ended (or set back to pending) at ``now``, its lease released."""
        return record.evolve(
            status=status,
            outputs=outputs,
            error=error,
            reason=reason,
            finished_at=now,
            lease_owner=None,
            lease_expires_at=None,
            wake_at=None,
            hand_off=None,
            **changes,
        )

    def body_of(self, record: StepRecord) -> BodyDef:
        """The body a unit runs: the step's, or its compensation."""
        step = self.definition.step(record.step_id)
        if record.kind == KIND_COMPENSATION:
            assert step.compensate is not None
            return step.compensate
        return step.body


def _item_just_ended(before: StepRecord | None, after: StepRecord) -> bool:
    """True when a write took a ``for_each`` item to a final status."""
    ended = after.kind == KIND_ITEM and after.status in TERMINAL_STEP
    return ended and (before is None or before.status not in TERMINAL_STEP)


def _has_bare_expression(body: BodyDef) -> bool:
    """True for a body with an expression evaluated without ``{{ }}`` (an assert's condition)."""
    return isinstance(body.fields.get("condition"), str)
