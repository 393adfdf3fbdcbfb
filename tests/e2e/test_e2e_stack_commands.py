"""``baton ... --stack`` against the LocalStack deployment: push, start, status, list, logs,
approve, cancel - through the command line, as a user types them."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import pytest
from tests.e2e.deploy import STACK_NAME
from tests.stack_cli import baton

from baton.cli.deployed_stack import DeployedStack

pytestmark = pytest.mark.e2e

SEQUENCE = """
name: {name}
inputs:
  who: {{type: string, default: world}}
outputs:
  greeting: {{value: "{{{{ steps.greet.outputs.greeting }}}}"}}
steps:
  - id: greet
    command: echo "greeting=hello {{{{ inputs.who }}}}" >> "$BATON_OUTPUT"
"""
GATED = """
name: {name}
steps:
  - id: build
    command: echo built
  - id: release
    type: approval
    message: "Release the build?"
    timeout: 1h
  - id: publish
    command: echo "published, approved by {{{{ steps.release.outputs.by }}}}"
"""
SLOW = """
name: {name}
steps:
  - id: nap
    command: sleep 120
"""


@pytest.fixture
def workflow(tmp_path: Path, deployment: object) -> tuple[str, Path]:
    """A fresh workflow name and the folder to write its file in."""
    return f"cli-{uuid.uuid4().hex[:8]}", tmp_path


def _pushed(folder: Path, name: str, template: str) -> None:
    path = folder / f"{name}.yaml"
    path.write_text(template.format(name=name))
    result = baton("push", str(path), "--stack", STACK_NAME)
    assert result.exit_code == 0, result.output
    assert f"registered {name}" in result.output


def _execution_id(output: str) -> str:
    match = re.search(r"\(execution (\S+)\)", output)
    assert match, output
    return match.group(1)


def test_push_start_status_list_and_logs(workflow: tuple[str, Path]) -> None:
    name, folder = workflow
    _pushed(folder, name, SEQUENCE)

    started = baton("start", name, "--stack", STACK_NAME, "-i", "who=ada", "--wait")
    assert started.exit_code == 0, started.output
    assert "succeeded" in started.output
    assert "output greeting: hello ada" in started.output
    execution_id = _execution_id(started.output)

    status = baton("status", execution_id, "--stack", STACK_NAME, "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["steps"]["greet"]["status"] == "succeeded"

    listed = baton("list", "--stack", STACK_NAME, "--json", "--limit", "50")
    assert listed.exit_code == 0, listed.output
    assert {"execution_id": execution_id, "workflow": name, "status": "succeeded"}.items() <= next(
        row for row in json.loads(listed.output) if row["execution_id"] == execution_id
    ).items()

    logs = _logs_naming(execution_id, "worker")
    assert "starter" in logs
    assert all(execution_id in line for line in logs.splitlines()), logs


def _logs_naming(execution_id: str, function: str, timeout_seconds: float = 30) -> str:
    """``baton logs`` once a line of ``function`` shows up (CloudWatch Logs lags a little)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        result = baton("logs", execution_id, "--stack", STACK_NAME)
        assert result.exit_code == 0, result.output
        if f" {function} " in result.output or time.monotonic() > deadline:
            assert f" {function} " in result.output, result.output
            return result.output
        time.sleep(2)


def test_push_refuses_an_invalid_file_before_uploading(tmp_path: Path, deployment: object) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nsteps:\n  - id: a\n    comand: echo\n")
    result = baton("push", str(path), "--stack", STACK_NAME)
    assert result.exit_code == 2
    assert f"{path}:3:5: steps[0]: " in result.output
    assert "registered" not in result.output


def test_an_approval_waits_then_approve_carries_it_to_the_end(workflow: tuple[str, Path]) -> None:
    name, folder = workflow
    _pushed(folder, name, GATED)

    started = baton("start", name, "--stack", STACK_NAME, "--wait")
    assert started.exit_code == 0, started.output
    assert "waiting" in started.output
    execution_id = _execution_id(started.output)
    assert f"baton approve {execution_id} release --stack {STACK_NAME}" in started.output

    approved = baton("approve", execution_id, "release", "--stack", STACK_NAME, "--comment", "ship it", "--wait")
    assert approved.exit_code == 0, approved.output
    assert f"{name} succeeded" in approved.output
    steps = DeployedStack.find(STACK_NAME).engine().document(execution_id)["steps"]
    assert steps["publish"]["status"] == "succeeded"

    again = baton("approve", execution_id, "release", "--stack", STACK_NAME)
    assert again.exit_code == 2
    assert "answer refused" in again.output


def test_cancel_stops_a_running_step(workflow: tuple[str, Path]) -> None:
    name, folder = workflow
    _pushed(folder, name, SLOW)
    started = baton("start", name, "--stack", STACK_NAME)
    assert started.exit_code == 0, started.output
    execution_id = _execution_id(started.output)
    _wait_until_running(execution_id, "nap")

    cancelled = baton("cancel", execution_id, "--stack", STACK_NAME, "--wait", "--timeout", "90")

    assert cancelled.exit_code == 0, cancelled.output
    assert f"{name} cancelled" in cancelled.output


def _wait_until_running(execution_id: str, step: str, timeout_seconds: float = 90) -> None:
    stack = DeployedStack.find(STACK_NAME)
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        record = stack.backend.store.get_steps(execution_id).get(step)
        if record is not None and record.status == "running":
            return
        time.sleep(1)
    raise AssertionError(f"step {step} of {execution_id} did not start within {timeout_seconds:.0f}s")
