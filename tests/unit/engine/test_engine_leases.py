"""Leases and fences: an expired lease is taken over; a worker that lost its claim cannot
overwrite the result of the one that took over."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from engine_harness import Harness

from baton.engine.driver import Driver
from baton.engine.executor import Executor
from baton.engine.queue import InProcessStepQueue


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness.create(tmp_path)


def _claim_as(harness: Harness, execution_id: str, key: str, owner: str, lease_seconds: float) -> None:
    record = harness.store.get_steps(execution_id)[key]
    expires = harness.clock.now() + timedelta(seconds=lease_seconds)
    harness.store.commit(
        [record.evolve(status="running", attempt=1, tries=1, lease_owner=owner, lease_expires_at=expires)]
    )


@pytest.mark.parametrize("lease_seconds", [-1, 5], ids=["already-expired", "expires-while-waiting"])
def test_a_step_whose_lease_expires_is_taken_over(harness: Harness, lease_seconds: float) -> None:
    execution = harness.start("name: l\nsteps:\n  - id: a\n    command: echo ran >> ran.log\n")
    _claim_as(harness, execution.execution_id, "a", "a-worker-that-vanished", lease_seconds)
    done = harness.engine.drive(execution.execution_id)
    record = harness.steps(done)["a"]
    assert (done.status, record.status, record.attempt) == ("succeeded", "succeeded", 2)
    assert record.tries == 1, "the interrupted attempt is not charged to the retry budget"
    assert (harness.workspace / "ran.log").read_text() == "ran\n"


class HoldingDispatcher:
    """Keeps submitted tasks until the test runs them."""

    def __init__(self) -> None:
        self.tasks: dict[str, Callable[[], Any]] = {}

    def submit(self, key: str, task: Callable[[], Any]) -> None:
        self.tasks[key] = task

    def collect(self, timeout: float | None) -> list[tuple[str, Any]]:
        return []

    def in_flight(self) -> int:
        return len(self.tasks)

    def shutdown(self) -> None:
        pass


def test_a_worker_that_lost_its_claim_cannot_record_its_result(harness: Harness) -> None:
    execution = harness.start("name: f\nsteps:\n  - id: a\n    command: echo mine\n")
    store = harness.store
    executor = Executor(
        harness.engine.definition_of(execution),
        execution,
        store.get_steps(execution.execution_id),
        harness.engine.ports,
        HoldingDispatcher(),
        secrets={},
        base_env={},
    )
    assert executor.begin("a")
    claimed = store.get_steps(execution.execution_id)["a"]
    assert claimed.lease_owner == "test-worker"
    # Another worker decides the lease is gone and takes the step over.
    store.commit([claimed.evolve(lease_owner="other-worker", attempt=claimed.attempt + 1)])

    dispatcher = executor.dispatcher
    assert isinstance(dispatcher, HoldingDispatcher)
    outcome = dispatcher.tasks.pop("a")()
    assert executor.finish("a", outcome) is False

    after = store.get_steps(execution.execution_id)["a"]
    assert (after.status, after.lease_owner) == ("running", "other-worker")
    assert executor.records["a"] == after, "the loser re-read the records"


def test_resume_with_new_inputs(harness: Harness) -> None:
    text = (
        "name: r\ninputs: {n: {type: integer, default: 1}}\n"
        "steps:\n  - id: check\n    type: assert\n    condition: inputs.n > 1\n"
    )
    failed = harness.run(text)
    assert failed.status == "failed"
    harness.engine.resume(failed.execution_id, inputs={"n": "5"}, text_inputs=frozenset({"n"}))
    done = harness.engine.drive(failed.execution_id)
    assert (done.status, done.inputs) == ("succeeded", {"n": 5})


def test_for_each_items_are_compensated_one_by_one(harness: Harness) -> None:
    execution = harness.run(
        """
name: items
steps:
  - id: each
    for_each: [a, b, c]
    max_concurrency: 1
    command: echo "do-{{ item }}" >> ledger
    compensate:
      command: echo "undo-{{ item }}" >> ledger
  - id: boom
    command: exit 1
"""
    )
    assert (harness.workspace / "ledger").read_text().split() == ["do-a", "do-b", "do-c", "undo-c", "undo-b", "undo-a"]
    document = harness.document(execution)
    assert document["steps"]["each"]["status"] == "compensated"
    assert [item["status"] for item in document["steps"]["each"]["items"]] == ["compensated"] * 3


def test_the_driver_never_spins_when_it_only_waits_for_another_worker(harness: Harness) -> None:
    execution = harness.start("name: w\nsteps:\n  - id: a\n    command: 'true'\n")
    _claim_as(harness, execution.execution_id, "a", "busy-worker", 3)
    executor = Executor(
        harness.engine.definition_of(execution),
        execution,
        harness.store.get_steps(execution.execution_id),
        harness.engine.ports,
        harness.engine.ports.new_dispatcher(),
        secrets={},
        base_env={},
    )
    writes_before = harness.store.writes
    Driver(executor, InProcessStepQueue()).run()
    polls = [s for s in harness.clock.slept if s > 0]
    assert 3 <= sum(polls) < 4, "it polled until the lease ran out, then took over"
    assert len(polls) <= 40
    assert harness.store.writes > writes_before
