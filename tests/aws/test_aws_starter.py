"""The starter: each request shape, exactly once per source event, inputs checked,
``concurrency:`` honoured."""

from __future__ import annotations

import pytest
from tests.aws.harness import AwsHarness, FakeLambdaContext

GREET = """
name: greet
inputs:
  who: {type: string, required: true}
concurrency: {key: "{{ inputs.who }}", limit: 1, on_conflict: POLICY}
steps:
  - id: gate
    type: approval
  - id: hello
    command: echo "hello {{ inputs.who }}"
"""


def start(harness: AwsHarness, event: dict) -> dict:
    return harness.starter(event, FakeLambdaContext("baton-starter"))


def executions(harness: AwsHarness) -> list[str]:
    return [e.execution_id for e in harness.backend.store.list_workflow_executions("greet")]


def test_the_same_start_event_delivered_twice_starts_one_execution(harness: AwsHarness) -> None:
    harness.upload("greet.yaml", GREET.replace("POLICY", "queue"))
    event = harness.start_event("greet", {"who": "ann"})

    first, second = start(harness, event), start(harness, event)

    assert first == second
    assert executions(harness) == [first["execution_id"]]
    messages = harness.receive()
    assert [m["Body"] for m in messages] == [f'{{"execution_id":"{first["execution_id"]}"}}']


def test_a_direct_invocation_with_a_request_id_is_idempotent_and_without_one_is_not(harness: AwsHarness) -> None:
    harness.upload("greet.yaml", GREET.replace("POLICY", "queue"))
    request = {"workflow": "greet", "inputs": {"who": "ann"}, "request_id": "cli-123"}

    assert start(harness, request) == start(harness, request)
    start(harness, {"workflow": "greet", "inputs": {"who": "bob"}})
    start(harness, {"workflow": "greet", "inputs": {"who": "cid"}})

    assert len(executions(harness)) == 3


@pytest.mark.parametrize(
    ("inputs", "error"),
    [({}, "input who is required"), ({"who": "ann", "extra": 1}, "unknown input extra")],
    ids=["missing", "unknown"],
)
def test_bad_inputs_are_rejected_before_anything_runs(harness: AwsHarness, inputs: dict, error: str) -> None:
    harness.upload("greet.yaml", GREET.replace("POLICY", "queue"))

    answer = start(harness, harness.start_event("greet", inputs))

    assert (answer["status"], answer["execution_id"]) == ("rejected", None)
    assert error in answer["error"]
    assert executions(harness) == []
    assert harness.receive(wait_seconds=0) == []


def test_skip_ends_a_second_execution_with_the_same_key_before_it_runs(harness: AwsHarness) -> None:
    harness.upload("greet.yaml", GREET.replace("POLICY", "skip"))
    first = harness.start("greet", {"who": "ann"})
    harness.drain(first)  # waits for its approval, holding the key

    skipped = harness.start("greet", {"who": "ann"})
    other_key = harness.start("greet", {"who": "bob"})

    ended = harness.drain(skipped)
    assert ended.status == "cancelled"
    assert f"skipped: concurrency key 'ann' is held by {first}" == ended.error
    assert all(record.status == "pending" for record in harness.backend.store.get_steps(skipped).values())
    assert harness.drain(other_key).status == "waiting"


def test_cancel_running_cancels_the_holder_and_starts_the_new_one(harness: AwsHarness) -> None:
    harness.upload("greet.yaml", GREET.replace("POLICY", "cancel-running"))
    first = harness.start("greet", {"who": "ann"})
    harness.drain(first)

    second = harness.start("greet", {"who": "ann"})
    harness.drain(first)

    assert harness.execution(first).status == "cancelled"
    assert harness.drain(second).status == "waiting", "it took the slot the cancelled holder gave back"


def test_queue_holds_the_second_execution_until_the_first_ends(harness: AwsHarness) -> None:
    harness.upload("greet.yaml", GREET.replace("POLICY", "queue"))
    first = harness.start("greet", {"who": "ann"})
    harness.drain(first)
    second = harness.start("greet", {"who": "ann"})

    harness.deliver(harness.receive())
    held = harness.backend.store.get_steps(second)
    assert held["gate"].status == "pending", "the queued execution started while the key was held"
    assert harness.invocations[-1].usage.calls[("sqs", "SendMessage")] == 1

    harness.approve(first, "gate")
    assert harness.drain(first).status == "succeeded"
    waiting = harness.drain(second)  # the held message comes back after its delay
    assert waiting.status == "waiting"
