"""The reference agent workflow on the LocalStack deployment, as a user runs it there.

``baton push`` registers ``workflows/reference/increase-test-coverage.yaml`` unchanged, and
``baton start --workspace`` sends the sample project as the execution's starting files. The
worker (LocalStack's Lambda, on this host) unpacks them into each sandbox, runs pytest in
the shell steps (the e2e Lambda runtime carries pytest and pytest-cov, as a layer would on
AWS) and the ``claude_code`` step on the ``bedrock`` provider, which calls the project's
model server through the stack's ``baton:bedrock-endpoint-url``. A second start of the same
files comes back from the S3 cache: the agent step is ``cached`` and the model server hears
nothing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.deploy import STACK_NAME
from tests.stack_cli import baton

from baton.cli.deployed_stack import DeployedStack
from baton.testing.modelserver import ModelServer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "workflows" / "reference" / "increase-test-coverage.yaml"
SAMPLE = ROOT / "workflows" / "samples" / "coverage"
TIMEOUT_SECONDS = "240"


@pytest.fixture
def model_server(model_port: int, deployment: object) -> Iterator[ModelServer]:
    with ModelServer(SAMPLE / "model-script.yaml", port=model_port) as server:
        yield server


def _start(project: Path) -> dict[str, Any]:
    result = baton("start", "increase-test-coverage", "--stack", STACK_NAME, "--input", "target_file=calc.py",
                   "--workspace", str(project), "--wait", "--timeout", TIMEOUT_SECONDS, "--json")  # fmt: skip
    assert result.output.lstrip().startswith("{"), result.output
    document: dict[str, Any] = json.loads(result.output)
    assert result.exit_code == 0, json.dumps(document, indent=2)
    return document


def test_the_reference_agent_workflow_runs_on_the_stack_and_then_from_the_cache(
    model_server: ModelServer, tmp_path: Path
) -> None:
    pushed = baton("push", str(WORKFLOW), "--stack", STACK_NAME)
    assert pushed.exit_code == 0, pushed.output
    project = tmp_path / "project"
    shutil.copytree(SAMPLE / "project", project, ignore=shutil.ignore_patterns("__pycache__", ".coverage*"))

    first = _start(project)

    steps = first["steps"]
    agent = steps["generate_tests"]
    assert agent["outputs"]["provider"] == "bedrock"
    assert agent["outputs"]["files_changed"] == ["tests/test_calc_more.py"]
    assert agent["outputs"]["usage"] == {"input_tokens": 3 * 1800, "output_tokens": 3 * 400}  # three turns
    assert steps["validate_target"]["status"] == "succeeded"
    assert steps["create_pr"]["status"] == "skipped"
    calls = model_server.model_calls()
    assert len(calls) == 3
    assert {call.api for call in calls} == {"converse"}
    assert not (project / "tests" / "test_calc_more.py").exists()  # the user's folder is only read

    second = _start(project)

    again = second["steps"]
    assert (again["generate_tests"]["status"], again["generate_tests"]["cache_hit"]) == ("cached", True)
    assert again["validate_target"]["status"] == "succeeded"  # the restored test file raised the coverage
    assert len(model_server.model_calls()) == len(calls)
    store = DeployedStack.find(STACK_NAME).backend.store
    archives = [store.get_execution(run["execution_id"]).trigger["workspace"] for run in (first, second)]
    assert archives[0] == archives[1]  # the same files: one stored archive
