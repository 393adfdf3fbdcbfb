"""A tiny stand-in for the executor that applies planner decisions to records in memory,
so planner tests can play whole executions without I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from baton.engine.definition import BodyDef, Definition, StepDef
from baton.engine.planner import Decision, plan
from baton.engine.records import (
    COMPENSATION_SUFFIX,
    FAILED,
    KIND_COMPENSATION,
    KIND_ITEM,
    PENDING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    StepRecord,
    item_key,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SHELL = BodyDef("shell", {"command": "true"})


def step(step_id: str, needs: Iterable[str] = (), list_name: str = "steps", **options: object) -> StepDef:
    """A shell step for planner tests."""
    return StepDef(id=step_id, list_name=list_name, body=SHELL, needs=tuple(needs), **options)  # type: ignore[arg-type]


def definition(*steps: StepDef) -> Definition:
    """A definition of these steps."""
    return Definition(name="test", steps=steps)


@dataclass
class Simulator:
    """Plays an execution: ``outcome(key, attempt)`` says whether an attempt succeeds."""

    definition: Definition
    outcome: Callable[[str, int], bool] = lambda key, attempt: True
    items: Callable[[str], int] = lambda step_id: 3
    skipped_by_when: frozenset[str] = frozenset()
    retries: int = 1
    records: dict[str, StepRecord] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    now: datetime = T0

    def __post_init__(self) -> None:
        for s in self.definition.steps:
            self.records[s.id] = StepRecord("e", s.id, s.id)

    def decide(self, **options: object) -> Decision:
        return plan(self.definition, self.records, now=self.now, **options)  # type: ignore[arg-type]

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def play(self, max_rounds: int = 500, **options: object) -> str:
        """Run to the end; return the outcome."""
        for _ in range(max_rounds):
            decision = self.decide(**options)
            self.apply(decision)
            if decision.outcome is not None:
                return decision.outcome
            if not decision.has_actions:
                if decision.wake_at is None:
                    raise AssertionError(f"stuck: {self.records}")
                self.now = decision.wake_at
        raise AssertionError("the execution did not end")

    def apply(self, decision: Decision) -> None:
        for key, status, reason in decision.skip:
            self.records[key] = self.records[key].evolve(status=status, reason=reason, finished_at=self.tick())
        for key in decision.finish:
            self._aggregate(key)
        for key in decision.start:
            self._start(key)

    def _start(self, key: str) -> None:
        record = self.records.get(key)
        if record is None and key.endswith(COMPENSATION_SUFFIX):
            original = self.records[key.removesuffix(COMPENSATION_SUFFIX)]
            record = StepRecord("e", key, original.step_id, KIND_COMPENSATION, index=original.index)
        assert record is not None
        s = self.definition.step(record.step_id)
        if record.kind == "step" and s.for_each is not None and record.status == PENDING:
            count = self.items(s.id)
            self.records[key] = record.evolve(status=RUNNING, item_count=count, started_at=self.tick())
            for index in range(count):
                ikey = item_key(s.id, index)
                self.records[ikey] = StepRecord("e", ikey, s.id, KIND_ITEM, index=index)
            if count == 0:
                self.records[key] = self.records[key].evolve(status=SUCCEEDED, outputs=[], finished_at=self.tick())
            return
        self.started.append(f"{key}#{record.attempt + 1}")
        if record.kind != KIND_COMPENSATION and record.tries == 0 and s.id in self.skipped_by_when:
            self.records[key] = record.evolve(status=SKIPPED, reason="when", finished_at=self.tick())
            return
        attempt, tries = record.attempt + 1, record.tries + 1
        if self.outcome(key, attempt):
            status, wake = SUCCEEDED, None
        elif tries < self.retries:
            status, wake = PENDING, self.now + timedelta(seconds=5)
        else:
            status, wake = FAILED, None
        self.records[key] = record.evolve(
            status=status, attempt=attempt, tries=tries, wake_at=wake, finished_at=self.tick(), started_at=self.now
        )

    def _aggregate(self, key: str) -> None:
        parent = self.records[key]
        items = [self.records[item_key(key, i)] for i in range(parent.item_count or 0)]
        failed = any(i.status == FAILED for i in items)
        self.records[key] = parent.evolve(status=FAILED if failed else SUCCEEDED, finished_at=self.tick())
