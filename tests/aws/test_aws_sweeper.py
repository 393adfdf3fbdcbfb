"""The sweeper restarts executions that nothing moves, and leaves moving ones alone."""

from __future__ import annotations

from pathlib import Path

from tests.aws.harness import AwsHarness, FakeLambdaContext, aws_event

from baton.adapters.aws.sweeper import Sweeper
from baton.handlers import sweeper as sweeper_handler

FAN_OUT = """
name: fan
steps:
  - id: each
    for_each: "['a', 'b', 'c']"
    command: echo "{{ item }}" >> "$TEST_DIR/fan.log"
  - id: join
    needs: [each]
    command: echo joined
"""


def sweeper(harness: AwsHarness, quiet_seconds: float = 0.0) -> Sweeper:
    backend = harness.backend
    return Sweeper(backend.store, backend.queue, now=backend.clock.now, quiet_seconds=quiet_seconds)


def lose_one_message(harness: AwsHarness) -> None:
    """Deliver messages until one names an item; delete that one undelivered (it is lost)."""
    for _ in range(20):
        messages = harness.receive(batch=1)
        if not messages:
            continue
        if '"unit":"each[' in messages[0]["Body"]:
            harness.plumbing("sqs").delete_message(
                QueueUrl=harness.settings.step_queue_url, ReceiptHandle=messages[0]["ReceiptHandle"]
            )
            return
        harness.deliver(messages)
    raise AssertionError("no item message came")


def test_an_execution_whose_message_was_lost_is_restarted_and_finishes(harness: AwsHarness, tmp_path: Path) -> None:
    harness.upload("fan.yaml", FAN_OUT)
    execution_id = harness.start("fan")
    lose_one_message(harness)
    while messages := harness.receive(batch=10, wait_seconds=0):
        harness.deliver(messages)
    assert harness.execution(execution_id).status == "running", "without the sweeper it stays running"

    result = sweeper(harness).sweep()

    assert list(result.restarted) == [execution_id]
    assert "ready and nothing runs them" in result.restarted[execution_id]
    final = harness.drain(execution_id)
    assert final.status == "succeeded", final.error
    assert sorted((tmp_path / "fan.log").read_text().split()) == ["a", "b", "c"]


def test_a_quiet_period_protects_executions_that_just_moved(harness: AwsHarness) -> None:
    harness.upload("fan.yaml", FAN_OUT)
    execution_id = harness.start("fan")
    lose_one_message(harness)
    while messages := harness.receive(batch=10, wait_seconds=0):
        harness.deliver(messages)

    assert sweeper(harness, quiet_seconds=3600).sweep().restarted == {}
    assert harness.execution(execution_id).status == "running"


def test_an_execution_waiting_for_an_approval_is_left_alone(harness: AwsHarness) -> None:
    harness.upload("gate.yaml", "name: gate\nsteps:\n  - id: ok\n    type: approval\n    message: go?\n")
    execution_id = harness.start("gate")
    assert harness.drain(execution_id).status == "waiting"

    result = sweeper(harness).sweep()

    assert execution_id not in result.restarted


def test_the_handler_sweeps_on_a_scheduled_event(harness: AwsHarness) -> None:
    harness.upload("fan.yaml", FAN_OUT)
    execution_id = harness.start("fan")
    lose_one_message(harness)
    while messages := harness.receive(batch=10, wait_seconds=0):
        harness.deliver(messages)
    event = aws_event("eventbridge-custom")
    event.update({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})
    backend = harness.backend

    sweep = sweeper_handler.make_handler(lambda: backend)
    response = sweep(event, FakeLambdaContext("baton-sweeper"))

    # The default quiet period keeps a just-stalled execution; it is looked at all the same.
    assert response["looked_at"] >= 1
    assert execution_id not in response["restarted"]
