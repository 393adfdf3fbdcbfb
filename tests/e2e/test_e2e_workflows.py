"""Workflows through the deployed stack: uploaded with the SDK, started with an EventBridge event.

The three journeys of issue 5: a workflow that succeeds, one that fails, an invalid upload.
Each test uses a workflow name of its own, so it finds its execution by listing the workflow.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from tests.e2e.deploy import STACK_NAME

from baton.cli.deployed_stack import DeployedStack, Registration
from baton.engine.records import ExecutionRecord

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 180.0
SUCCEEDS = """
name: {name}
inputs:
  who: {{type: string, default: world}}
outputs:
  greeting: {{value: "{{{{ steps.greet.outputs.greeting }}}}"}}
steps:
  - id: greet
    command: echo "greeting=hello {{{{ inputs.who }}}}" >> "$BATON_OUTPUT"
  - id: shout
    command: echo "{{{{ steps.greet.outputs.greeting }}}}" | tr a-z A-Z
  - id: check
    type: assert
    condition: "steps.shout.outputs.stdout == 'HELLO ALICE'"
"""
FAILS = """
name: {name}
steps:
  - id: prepare
    command: echo ready
  - id: explode
    command: echo "about to fail" && exit 3
  - id: never
    needs: [explode]
    command: echo unreachable
"""
FANS_OUT = """
name: {name}
steps:
  - id: each
    for_each: "range(6) | list"
    command: echo "square=$(( BATON_ITEM_INDEX * BATON_ITEM_INDEX ))" >> "$BATON_OUTPUT"
  - id: join
    needs: [each]
    command: echo "{{{{ steps.each.outputs | map(attribute='square') | join(',') }}}}"
"""
INVALID = """
name: {name}
steps:
  - id: first
    command: echo one
  - id: first
    comand: echo two
"""


@pytest.fixture
def workflow_name() -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def stack(outputs: dict[str, str]) -> DeployedStack:
    """The deployed stack, found by name as the CLI finds it."""
    assert outputs, "the deployment produced no outputs"
    return DeployedStack.find(STACK_NAME)


def upload(client: Callable[[str], Any], stack: DeployedStack, key: str, text: str) -> Registration:
    """Put a definition in the bucket with the SDK; wait for the registrar's verdict."""
    response = client("s3").put_object(Bucket=stack.settings.definitions_bucket, Key=key, Body=text.encode())
    return stack.registration(key, response.get("VersionId"), TIMEOUT_SECONDS)


def start_by_event(client: Callable[[str], Any], stack: DeployedStack, workflow: str, inputs: dict[str, Any]) -> None:
    """Put a ``Start Baton Execution`` event on the Baton bus."""
    entry = {"Source": "baton.e2e", "DetailType": "Start Baton Execution", "EventBusName": stack.settings.event_bus,
             "Detail": json.dumps({"workflow": workflow, "inputs": inputs})}  # fmt: skip
    response = client("events").put_events(Entries=[entry])
    assert response["FailedEntryCount"] == 0, response


def execution_of(stack: DeployedStack, workflow: str) -> ExecutionRecord:
    """The workflow's one execution, once it has ended."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        executions = stack.backend.store.list_workflow_executions(workflow)
        if executions:
            assert len(executions) == 1, [e.execution_id for e in executions]
            return stack.wait(executions[0].execution_id, deadline - time.monotonic())
        time.sleep(1)
    raise AssertionError(f"no execution of {workflow} appeared within {TIMEOUT_SECONDS:.0f}s")


def test_an_uploaded_workflow_started_by_an_event_succeeds(
    client: Callable[[str], Any], stack: DeployedStack, workflow_name: str
) -> None:
    registration = upload(client, stack, f"{workflow_name}.yaml", SUCCEEDS.format(name=workflow_name))
    assert (registration.status, registration.workflow) == ("registered", workflow_name)

    start_by_event(client, stack, workflow_name, {"who": "alice"})
    execution = execution_of(stack, workflow_name)

    assert execution.status == "succeeded", execution.error
    assert execution.outputs == {"greeting": "hello alice"}
    document = stack.engine().document(execution.execution_id)
    assert [document["steps"][step]["status"] for step in ("greet", "shout", "check")] == ["succeeded"] * 3


def test_a_failing_step_fails_the_execution_and_skips_what_needs_it(
    client: Callable[[str], Any], stack: DeployedStack, workflow_name: str
) -> None:
    assert upload(client, stack, f"{workflow_name}.yaml", FAILS.format(name=workflow_name)).status == "registered"

    start_by_event(client, stack, workflow_name, {})
    execution = execution_of(stack, workflow_name)

    assert execution.status == "failed"
    assert "explode" in (execution.error or "")
    steps = stack.engine().document(execution.execution_id)["steps"]
    assert steps["prepare"]["status"] == "succeeded"
    assert steps["explode"]["status"] == "failed"
    assert steps["never"]["status"] != "succeeded"


def test_an_invalid_upload_is_rejected_with_its_position_and_never_registered(
    client: Callable[[str], Any], stack: DeployedStack, workflow_name: str
) -> None:
    key = f"{workflow_name}.yaml"
    registration = upload(client, stack, key, INVALID.format(name=workflow_name))

    assert registration.status == "rejected"
    assert key in (registration.error or "")
    # The tag keeps the first error, in the characters S3 allows in a tag value.
    assert f"{key}:6:5: steps 1 : missing key" in (registration.error or ""), "the error names the bad step"
    assert stack.backend.registry.current(workflow_name) is None
    answer = stack.start(workflow_name, {})
    assert answer["status"] == "rejected"
    assert "no workflow named" in answer["error"]


def test_a_fan_out_runs_its_items_on_the_workers_and_joins_once(
    client: Callable[[str], Any], stack: DeployedStack, workflow_name: str
) -> None:
    assert upload(client, stack, f"{workflow_name}.yaml", FANS_OUT.format(name=workflow_name)).status == "registered"

    start_by_event(client, stack, workflow_name, {})
    execution = execution_of(stack, workflow_name)

    assert execution.status == "succeeded", execution.error
    steps = stack.engine().document(execution.execution_id)["steps"]
    assert [item["status"] for item in steps["each"]["items"]] == ["succeeded"] * 6
    assert steps["join"]["outputs"]["stdout"] == "0,1,4,9,16,25"
    assert steps["join"]["attempts"] == 1
