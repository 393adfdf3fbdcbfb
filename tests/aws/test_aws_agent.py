"""The reference workflow through the real Lambda handlers on moto, with the ``bedrock`` provider:
the worker's agent step calls the scripted model server with boto3, the agent's test file is
stored in S3, and a second execution restores it from the cache with no model request."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.aws.harness import AwsHarness, FakeLambdaContext
from tests.aws.moto_stack import MotoServer, Stack

from baton.testing.modelserver import ModelServer

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "workflows" / "reference" / "increase-test-coverage.yaml"
SAMPLE = ROOT / "workflows" / "samples" / "coverage"


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    with ModelServer(SAMPLE / "model-script.yaml") as server:
        yield server


@pytest.fixture
def agent_harness(
    moto: MotoServer, stack: Stack, tmp_path: Path, model_server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> AwsHarness:
    monkeypatch.setenv("BATON_AGENT_PROVIDER", "bedrock")  # the worker function's environment
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",  # the shell steps' pytest
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": model_server.url,
    }
    return AwsHarness(moto, stack.settings, tmp_path, env=env)


def _checkout(tmp_path: Path, execution_id: str) -> Path:
    """The project in the execution's workspace, as a checkout step would put it there."""
    workspace = tmp_path / "lambda" / "executions" / execution_id
    shutil.copytree(SAMPLE / "project", workspace, dirs_exist_ok=True)
    return workspace


def test_the_reference_workflow_runs_on_the_worker_with_bedrock(
    agent_harness: AwsHarness, model_server: ModelServer, tmp_path: Path
) -> None:
    assert agent_harness.upload("increase-test-coverage.yaml", WORKFLOW.read_text())["status"] == "registered"

    first = agent_harness.start("increase-test-coverage", {"target_file": "calc.py"})
    workspace = _checkout(tmp_path, first)
    final = agent_harness.drain(first)

    assert final.status == "succeeded", final.error
    steps = agent_harness.document(first)["steps"]
    assert steps["generate_tests"]["outputs"]["files_changed"] == ["tests/test_calc_more.py"]
    assert steps["generate_tests"]["outputs"]["provider"] == "bedrock"
    assert steps["validate_target"]["status"] == "succeeded"
    assert steps["create_pr"]["status"] == "skipped"
    assert (workspace / "tests" / "test_calc_more.py").exists()
    calls = len(model_server.model_calls())
    assert calls == 3
    assert all(call.api == "converse" for call in model_server.model_calls())

    second = agent_harness.start("increase-test-coverage", {"target_file": "calc.py"})
    restored = _checkout(tmp_path, second)
    assert agent_harness.drain(second).status == "succeeded"

    again = agent_harness.document(second)["steps"]
    assert (again["generate_tests"]["status"], again["generate_tests"]["cache_hit"]) == ("cached", True)
    assert (restored / "tests" / "test_calc_more.py").exists()  # from the S3 cache
    assert again["validate_target"]["status"] == "succeeded"
    assert len(model_server.model_calls()) == calls


def test_a_sent_workspace_reaches_every_sandbox_and_a_child(
    agent_harness: AwsHarness, model_server: ModelServer, tmp_path: Path
) -> None:
    """``baton start --workspace``: the project is packed into the artifact bucket once and each
    of three concurrent worker sandboxes unpacks it before the first step it runs."""
    from baton.adapters.aws.workspaces import WorkspaceSeeds

    assert agent_harness.upload("increase-test-coverage.yaml", WORKFLOW.read_text())["status"] == "registered"
    archive, count = WorkspaceSeeds(agent_harness.backend.artifacts).store(SAMPLE / "project", tmp_path)
    assert count == len([p for p in (SAMPLE / "project").rglob("*") if p.is_file() and "__pycache__" not in p.parts])

    execution_id = agent_harness.start("increase-test-coverage", {"target_file": "calc.py"}, workspace=archive)
    final = agent_harness.run_concurrently(execution_id, workers=3, timeout=120)

    assert final.status == "succeeded", final.error
    steps = agent_harness.document(execution_id)["steps"]
    assert steps["generate_tests"]["outputs"]["files_changed"] == ["tests/test_calc_more.py"]
    assert steps["validate_target"]["status"] == "succeeded"
    assert final.trigger["workspace"] == archive.to_data()
    sandboxes = [tmp_path / f"lambda-{i}" / "executions" / execution_id for i in range(3)]
    seeded = [folder for folder in sandboxes if (folder / "calc.py").exists()]
    assert seeded  # every sandbox that ran a step of it has the project
    assert not (SAMPLE / "project" / "tests" / "test_calc_more.py").exists()


def test_an_unreadable_workspace_fails_the_execution_at_once(harness: AwsHarness) -> None:
    from baton.ports import ArtifactRef

    harness.upload("gated.yaml", GATED)
    missing = ArtifactRef("0" * 64, 10)
    execution_id = harness.start("gated", workspace=missing)

    final = harness.drain(execution_id)

    assert final.status == "failed"
    assert "workspace archive cannot be read" in (final.error or "")
    assert len(harness.invocations) == 1  # not retried into the dead-letter queue


def test_a_start_naming_a_workspace_must_name_a_blob(harness: AwsHarness) -> None:
    harness.upload("gated.yaml", GATED)
    event = harness.start_event("gated")
    event["detail"]["workspace"] = {"$artifact": "../../etc/passwd", "size": 1}

    with pytest.raises(Exception, match="artifact"):
        harness.starter(event, FakeLambdaContext("baton-starter"))


GATED = """
name: gated
steps:
  - id: maybe
    command: echo "ran={{ env.CREATE_PR }}" >> "$BATON_OUTPUT"
    when: "{{ env.CREATE_PR == 'true' }}"
"""


@pytest.mark.parametrize(
    ("env", "status"), [({"CREATE_PR": "true", "UNUSED": "x"}, "succeeded"), ({}, "skipped")], ids=["set", "unset"]
)
def test_env_reads_what_the_start_request_carried(harness: AwsHarness, env: dict[str, str], status: str) -> None:
    harness.upload("gated.yaml", GATED)
    event = harness.start_event("gated")
    event["detail"]["env"] = env
    execution_id = harness.starter(event, FakeLambdaContext("baton-starter"))["execution_id"]

    assert harness.drain(execution_id).status == "succeeded"
    assert harness.execution(execution_id).trigger["env"] == {k: v for k, v in env.items() if k == "CREATE_PR"}
    assert harness.document(execution_id)["steps"]["maybe"]["status"] == status


@pytest.mark.parametrize(
    ("cache_hit", "prefix"), [(False, "Agent"), (True, "AgentSaved")], ids=["spent", "saved-by-the-cache"]
)
def test_agent_tokens_and_dollars_are_metrics(cache_hit: bool, prefix: str) -> None:
    from baton.engine.records import CACHED, SUCCEEDED, ExecutionRecord, StepRecord
    from baton.handlers.observability import PowertoolsHooks, metrics

    outputs = {"text": "ok", "usage": {"input_tokens": 1800, "output_tokens": 400}, "cost_usd": 0.0114}
    status = CACHED if cache_hit else SUCCEEDED
    record = StepRecord("e1", "agent", "agent", status=status, outputs=outputs, cache_hit=cache_hit)
    metrics.clear_metrics()
    PowertoolsHooks().step_ended(ExecutionRecord("e1", "w", "d"), record)
    recorded = {name: entry["Value"] for name, entry in metrics.metric_set.items()}
    metrics.clear_metrics()

    assert recorded[f"{prefix}InputTokens"] == [1800.0]
    assert recorded[f"{prefix}OutputTokens"] == [400.0]
    assert recorded[f"{prefix}CostUSD"] == [0.0114]
