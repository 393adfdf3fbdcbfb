"""A ``runner: long`` step through the deployed stack on LocalStack.

LocalStack's community edition has no CodeBuild, so the stack is deployed with
``baton:long-runner=process``: the worker claims the step and starts the long-step entry
point (``python -m baton.handlers.long_step``) as a process on this host, where a real
deployment starts a build. What is proven is the hand-over and the hand-back through the
real functions, table and queue; a build's isolation and role are not (see docs/deploy.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from tests.e2e.deploy import STACK_NAME
from tests.e2e.test_e2e_workflows import execution_of, start_by_event, upload

from baton.cli.deployed_stack import DeployedStack

pytestmark = pytest.mark.e2e

LONG = """
name: {name}
steps:
  - id: prepare
    command: echo warm
  - id: soak
    runner: long
    timeout: 20m
    command: echo "soaked {{{{ steps.prepare.outputs.stdout }}}}"
  - id: after
    command: echo "after {{{{ steps.soak.outputs.stdout }}}}"
outputs:
  said: {{value: "{{{{ steps.after.outputs.stdout }}}}"}}
"""


@pytest.fixture(scope="module")
def stack(outputs: dict[str, str]) -> DeployedStack:
    """The deployed stack, found by name as the CLI finds it."""
    assert outputs, "the deployment produced no outputs"
    return DeployedStack.find(STACK_NAME)


def test_a_long_step_runs_in_the_runner_and_the_workers_finish_the_execution(
    client: Callable[[str], Any], stack: DeployedStack
) -> None:
    name = f"e2e-long-{uuid.uuid4().hex[:8]}"
    # A 20-minute timeout never fits in a worker (900 s less the margin): only the runner runs it.
    assert upload(client, stack, f"{name}.yaml", LONG.format(name=name)).status == "registered"

    start_by_event(client, stack, name, {})
    execution = execution_of(stack, name)

    assert execution.status == "succeeded", execution.error
    assert execution.outputs == {"said": "after soaked warm"}
    soak = stack.engine().document(execution.execution_id)["steps"]["soak"]
    assert soak["status"] == "succeeded"
    assert soak["attempts"] == 1
