"""The planner decides from records alone: order, skipping, failure, compensation, hooks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from planner_sim import T0, Simulator, definition, step

from baton.engine.definition import BodyDef
from baton.engine.planner import plan
from baton.engine.records import (
    CANCELLED,
    FAILED,
    PENDING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    WAITING,
    StepRecord,
)

COMPENSATE = BodyDef("shell", {"command": "undo"})


def test_a_plain_list_is_a_sequence() -> None:
    sim = Simulator(definition(step("a"), step("b", ["a"]), step("c", ["b"])))
    assert sim.play() == SUCCEEDED
    assert sim.started == ["a#1", "b#1", "c#1"]


def test_steps_without_needs_start_together() -> None:
    sim = Simulator(definition(step("a"), step("b"), step("c", ["a", "b"])))
    first = sim.decide()
    assert first.start == ["a", "b"]


def test_a_step_never_starts_before_its_needs_end() -> None:
    sim = Simulator(definition(step("a"), step("b", ["a"])))
    sim.records["a"] = sim.records["a"].evolve(status=RUNNING)
    assert sim.decide().start == []


def test_a_failure_skips_what_is_left_and_fails_the_execution() -> None:
    sim = Simulator(definition(step("a"), step("b", ["a"]), step("c", ["b"])), outcome=lambda key, _: key != "a")
    assert sim.play() == FAILED
    assert sim.records["b"].status == SKIPPED
    assert sim.records["b"].reason == "upstream_failed"
    assert sim.started == ["a#1"]


def test_continue_on_error_lets_dependants_run() -> None:
    sim = Simulator(definition(step("a", continue_on_error=True), step("b", ["a"])), outcome=lambda key, _: key != "a")
    assert sim.play() == SUCCEEDED
    assert sim.records["a"].status == FAILED
    assert sim.records["b"].status == SUCCEEDED


def test_dependants_of_a_step_skipped_by_when_still_run() -> None:
    sim = Simulator(definition(step("a", when="false"), step("b", ["a"])), skipped_by_when=frozenset({"a"}))
    assert sim.play() == SUCCEEDED
    assert sim.records["a"].status == SKIPPED
    assert sim.records["b"].status == SUCCEEDED


def test_a_stop_skips_the_rest_runs_finally_and_succeeds() -> None:
    sim = Simulator(definition(step("a"), step("b", ["a"]), step("z", list_name="finally")))
    sim.records["a"] = sim.records["a"].evolve(status=SUCCEEDED, stop=True, finished_at=T0)
    assert sim.play() == SUCCEEDED
    assert sim.records["b"].reason == "stopped"
    assert sim.records["z"].status == SUCCEEDED


def test_compensations_run_newest_first_then_on_failure_then_finally() -> None:
    steps = definition(
        step("a", compensate=COMPENSATE),
        step("b", ["a"], compensate=COMPENSATE),
        step("c", ["b"], compensate=COMPENSATE),
        step("alert", list_name="on_failure"),
        step("close", list_name="finally"),
    )
    sim = Simulator(steps, outcome=lambda key, _: key != "c")
    assert sim.play() == FAILED
    assert sim.started == ["a#1", "b#1", "c#1", "b~compensate#1", "a~compensate#1", "alert#1", "close#1"]


def test_on_failure_is_skipped_when_the_execution_succeeds() -> None:
    sim = Simulator(definition(step("a"), step("alert", list_name="on_failure"), step("close", list_name="finally")))
    assert sim.play() == SUCCEEDED
    assert sim.records["alert"].status == SKIPPED
    assert sim.records["alert"].reason == "not_needed"
    assert sim.records["close"].status == SUCCEEDED


def test_a_failing_finally_fails_a_succeeded_execution() -> None:
    sim = Simulator(definition(step("a"), step("close", list_name="finally")), outcome=lambda key, _: key != "close")
    assert sim.play() == FAILED


def test_for_each_items_respect_max_concurrency_and_close_the_step() -> None:
    sim = Simulator(definition(step("fan", for_each="inputs.xs", max_concurrency=2)), items=lambda _: 5)
    sim.apply(sim.decide())  # expands
    first = sim.decide()
    assert first.start == ["fan[0]", "fan[1]"]
    assert sim.play() == SUCCEEDED
    assert sim.records["fan"].status == SUCCEEDED


def test_a_failed_item_stops_new_items_and_fails_the_step() -> None:
    sim = Simulator(
        definition(step("fan", for_each="inputs.xs", max_concurrency=1), step("after", ["fan"])),
        items=lambda _: 4,
        outcome=lambda key, _: key != "fan[1]",
    )
    assert sim.play() == FAILED
    assert [sim.records[f"fan[{i}]"].status for i in range(4)] == [SUCCEEDED, FAILED, SKIPPED, SKIPPED]
    assert sim.records["after"].status == SKIPPED


def test_a_retry_waits_for_its_backoff() -> None:
    sim = Simulator(definition(step("a")))
    sim.records["a"] = sim.records["a"].evolve(status=PENDING, tries=1, wake_at=T0 + timedelta(seconds=10))
    decision = sim.decide()
    assert decision.start == []
    assert decision.wake_at == T0 + timedelta(seconds=10)


def test_retries_are_played_until_one_succeeds() -> None:
    sim = Simulator(definition(step("a")), outcome=lambda key, attempt: attempt == 3, retries=3)
    assert sim.play() == SUCCEEDED
    assert sim.started == ["a#1", "a#2", "a#3"]


@pytest.mark.parametrize(
    ("orphaned", "expected"),
    [(frozenset({"a"}), ["a"]), (frozenset(), [])],
    ids=["holder-gone-takes-over", "holder-alive-waits"],
)
def test_a_running_unit_is_taken_over_only_when_orphaned(orphaned: frozenset[str], expected: list[str]) -> None:
    records = {"a": StepRecord("e", "a", "a", status=RUNNING, lease_owner="other")}
    assert plan(definition(step("a")), records, now=T0, orphaned=orphaned).start == expected


@pytest.mark.parametrize(
    ("wake_in", "expected"),
    [(-1, ["a"]), (5, []), (None, [])],
    ids=["due", "not-yet", "waits-for-an-answer"],
)
def test_a_waiting_unit_wakes_when_due(wake_in: int | None, expected: list[str]) -> None:
    wake = None if wake_in is None else T0 + timedelta(seconds=wake_in)
    records = {"a": StepRecord("e", "a", "a", status=WAITING, wake_at=wake)}
    assert plan(definition(step("a")), records, now=T0).start == expected


def test_cancel_stops_pending_work_and_still_runs_finally() -> None:
    sim = Simulator(
        definition(step("a"), step("b", ["a"]), step("alert", list_name="on_failure"), step("z", list_name="finally"))
    )
    sim.records["a"] = sim.records["a"].evolve(status=SUCCEEDED, finished_at=T0)
    assert sim.play(cancel_requested=True) == CANCELLED
    assert sim.records["b"].status == CANCELLED
    assert sim.records["alert"].status == CANCELLED
    assert sim.records["z"].status == SUCCEEDED


def test_a_waiting_approval_is_cancelled_when_the_execution_fails() -> None:
    records = {
        "a": StepRecord("e", "a", "a", status=FAILED, finished_at=T0),
        "gate": StepRecord("e", "gate", "gate", status=WAITING),
    }
    decision = plan(definition(step("a"), step("gate", needs=[])), records, now=T0)
    assert decision.skip == [("gate", CANCELLED, "upstream_failed")]
