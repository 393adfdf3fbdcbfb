"""The worker's edges: poison messages, a duplicate while another worker holds the unit,
long waits through EventBridge Scheduler, and an invocation short on time."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from tests.aws.harness import AwsHarness, FakeLambdaContext

from baton.adapters.aws.sqs_step_queue import StepMessage

ONE_STEP = """
name: one
steps:
  - id: only
    command: echo hi
"""


def with_receive_count(harness: AwsHarness, count: int) -> list[dict[str, Any]]:
    (message,) = harness.receive()
    message["Attributes"]["ApproximateReceiveCount"] = str(count)
    return [message]


def forget_definition(harness: AwsHarness, execution_id: str) -> None:
    digest = harness.execution(execution_id).definition_digest
    key = {"pk": {"S": f"DIGEST#{digest}"}, "sk": {"S": "COMPILED"}}
    harness.plumbing("dynamodb").delete_item(TableName=harness.settings.definitions_table, Key=key)


def published_metrics(stdout: str) -> set[str]:
    """Names of the EMF metrics among the lines a handler printed."""
    blobs = [json.loads(line) for line in stdout.splitlines() if line.startswith('{"_aws"')]
    return {metric["Name"] for blob in blobs for d in blob["_aws"]["CloudWatchMetrics"] for metric in d["Metrics"]}


def test_a_poison_message_fails_its_execution_on_the_last_delivery(
    harness: AwsHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.upload("one.yaml", ONE_STEP)
    execution_id = harness.start("one")
    forget_definition(harness, execution_id)  # every worker will now fail on this execution

    early = harness.deliver(with_receive_count(harness, 4))
    assert len(early["batchItemFailures"]) == 1
    assert harness.execution(execution_id).status == "running"

    assert "ExecutionFinished" not in published_metrics(capsys.readouterr().out)

    harness.plumbing("sqs").purge_queue(QueueUrl=harness.settings.step_queue_url)
    harness.backend.queue.dispatch([StepMessage(execution_id)])
    last = harness.deliver(with_receive_count(harness, 5))

    assert len(last["batchItemFailures"]) == 1, "the message must still go to the dead-letter queue"
    final = harness.execution(execution_id)
    assert final.status == "failed"
    assert "failed 5 times" in (final.error or "")
    assert "no longer stored" in (final.error or "")
    # It counts in the failure rate like any other execution that failed.
    assert {"WorkerErrors", "ExecutionFinished", "ExecutionFailed"} <= published_metrics(capsys.readouterr().out)


def test_a_message_that_is_not_a_step_message_is_reported_failed(harness: AwsHarness) -> None:
    harness.plumbing("sqs").send_message(QueueUrl=harness.settings.step_queue_url, MessageBody="hello")
    response = harness.deliver(harness.receive())
    assert len(response["batchItemFailures"]) == 1


def test_a_duplicate_while_another_worker_holds_the_unit_watches_its_lease(harness: AwsHarness) -> None:
    harness.upload("one.yaml", ONE_STEP)
    execution_id = harness.start("one")
    harness.receive()  # the kick is taken by "another worker", which claims the step
    store = harness.backend.store
    now = harness.backend.clock.now()
    pending = store.get_steps(execution_id)["only"]
    store.commit([pending.evolve(status="running", attempt=1, tries=1, lease_owner="lambda:other:1",
                                 lease_expires_at=now + timedelta(seconds=40))])  # fmt: skip
    harness.backend.queue.dispatch([StepMessage(execution_id, "only")])

    harness.deliver(harness.receive())

    assert store.get_steps(execution_id)["only"].lease_owner == "lambda:other:1"
    calls = harness.invocations[-1].usage.calls
    assert calls[("sqs", "SendMessage")] == 1
    visible = harness.plumbing("sqs").get_queue_attributes(
        QueueUrl=harness.settings.step_queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert visible["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


LONG_WAIT = """
name: patient
steps:
  - id: nap
    type: wait
    duration: 2h
  - id: after
    command: echo awake
"""


def test_a_wait_longer_than_15_minutes_becomes_a_one_shot_schedule(harness: AwsHarness) -> None:
    harness.upload("patient.yaml", LONG_WAIT)
    execution_id = harness.start("patient")

    harness.deliver(harness.receive())

    assert harness.execution(execution_id).status == "running"
    assert harness.receive(wait_seconds=0) == []
    prefix = f"{harness.settings.resource_prefix}-schedule-w-{execution_id}"
    group = harness.settings.schedule_group
    (listed,) = harness.plumbing("scheduler").list_schedules(GroupName=group, NamePrefix=prefix)["Schedules"]
    schedule = harness.plumbing("scheduler").get_schedule(Name=listed["Name"], GroupName=group)
    assert json.loads(schedule["Target"]["Input"]) == {"execution_id": execution_id, "unit": "nap"}
    assert schedule["Target"]["Arn"] == harness.settings.step_queue_arn

    # Scheduler sends that body to the queue at the time; here it arrives early.
    harness.plumbing("sqs").send_message(
        QueueUrl=harness.settings.step_queue_url, MessageBody=schedule["Target"]["Input"]
    )
    harness.deliver(harness.receive())
    assert harness.backend.store.get_steps(execution_id)["nap"].status == "waiting"


def test_an_invocation_short_on_time_hands_its_unit_to_the_next_one(harness: AwsHarness) -> None:
    harness.upload("one.yaml", ONE_STEP)
    execution_id = harness.start("one")

    harness.deliver(harness.receive(), FakeLambdaContext(timeout_seconds=20))

    assert harness.backend.store.get_steps(execution_id)["only"].status == "pending"
    assert harness.invocations[-1].usage.calls[("sqs", "SendMessage")] == 1
    assert harness.drain(execution_id).status == "succeeded"


def test_a_redelivered_message_watches_units_its_dead_receiver_may_still_hold(harness: AwsHarness) -> None:
    harness.upload("one.yaml", ONE_STEP)
    execution_id = harness.start("one")
    store = harness.backend.store
    pending = store.get_steps(execution_id)["only"]
    lease = harness.backend.clock.now() + timedelta(seconds=30)
    store.commit([pending.evolve(status="running", attempt=1, tries=1, lease_owner="lambda:dead:1",
                                 lease_expires_at=lease)])  # fmt: skip

    harness.deliver(with_receive_count(harness, 2))  # the kick again: its first receiver died

    assert harness.invocations[-1].usage.calls[("sqs", "SendMessage")] == 1
    delayed = harness.plumbing("sqs").get_queue_attributes(
        QueueUrl=harness.settings.step_queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert delayed["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
