"""The reference workflow (workflows/reference/increase-test-coverage.yaml, as the original design wrote it)
on the sample project, with each agent provider against the scripted model server: the agent's
test file appears, coverage passes the target, and a second run in a fresh copy of the project
comes back from the cache with no model request."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from agent_env import PROVIDERS, SAMPLES, provider_env
from baton_cli import WORKFLOWS, Workspace

from baton.testing.modelserver import ModelServer

WORKFLOW = WORKFLOWS / "reference" / "increase-test-coverage.yaml"
PROJECT = SAMPLES / "coverage" / "project"
SCRIPT = SAMPLES / "coverage" / "model-script.yaml"


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    with ModelServer(SCRIPT) as server:
        yield server


def _project(path: Path) -> Path:
    shutil.copytree(PROJECT, path)
    return path


def _line_rate(path: Path) -> float:
    return float(ElementTree.parse(path).getroot().get("line-rate", "0")) * 100


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_reference_workflow_raises_coverage_then_comes_from_the_cache(
    tmp_path: Path, model_server: ModelServer, provider: str
) -> None:
    env = {**provider_env(provider, model_server.url, tmp_path / "home"), "BATON_STATE_DIR": str(tmp_path / "state")}
    first = Workspace(_project(tmp_path / "first"), env=env)
    record = first.run_json("run", str(WORKFLOW), "--input", "target_file=calc.py")

    steps = record["steps"]
    assert record["status"] == "succeeded", record["error"]
    assert steps["generate_tests"]["status"] == "succeeded"
    assert steps["generate_tests"]["outputs"]["files_changed"] == ["tests/test_calc_more.py"]
    assert steps["generate_tests"]["outputs"]["usage"]["output_tokens"] > 0
    assert steps["generate_tests"]["outputs"]["cost_usd"] > 0
    assert (first.path / "tests" / "test_calc_more.py").read_text().count("def test_") == 5
    assert steps["validate_target"]["status"] == "succeeded"
    assert _line_rate(first.path / "coverage.xml") >= 90
    assert steps["create_pr"]["status"] == "skipped"  # CREATE_PR is not set
    assert record["outputs"] == {"coverage_report": None, "tests_added": None}
    calls = len(model_server.model_calls())
    assert calls >= 3

    second = Workspace(_project(tmp_path / "second"), env=env)
    again = second.run_json("run", str(WORKFLOW), "--input", "target_file=calc.py")

    assert again["status"] == "succeeded", again["error"]
    assert again["steps"]["generate_tests"]["status"] == "cached"
    assert again["steps"]["generate_tests"]["outputs"]["text"] == steps["generate_tests"]["outputs"]["text"]
    assert (second.path / "tests" / "test_calc_more.py").exists()  # restored from the cache
    assert again["steps"]["validate_target"]["status"] == "succeeded"
    assert len(model_server.model_calls()) == calls  # no model request on the cache hit
    spent = steps["generate_tests"]["outputs"]["cost_usd"]
    assert record["agents"]["spent"]["cost_usd"] == spent
    assert again["agents"] == {
        "spent": {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0},
        "saved": record["agents"]["spent"],
    }
    shown = second.baton("status", again["execution_id"]).stdout
    assert f"saved ${spent:.4f}" in shown
    assert "agents: 0 tokens in / 0 out, $0.0000; the cache saved" in shown


def test_a_changed_input_file_is_a_cache_miss(tmp_path: Path, model_server: ModelServer) -> None:
    env = {**provider_env("bedrock", model_server.url, tmp_path / "home"), "BATON_STATE_DIR": str(tmp_path / "state")}
    first = Workspace(_project(tmp_path / "first"), env=env)
    first.run_json("run", str(WORKFLOW), "--input", "target_file=calc.py")
    calls = len(model_server.model_calls())
    second = Workspace(_project(tmp_path / "second"), env=env)
    with (second.path / "calc.py").open("a") as source:
        source.write(
            "\n\ndef unused(x):\n    if x:\n        y = x + 1\n        z = y * 2\n        return z\n    return 0\n"
        )
    again = second.run_json("run", str(WORKFLOW), "--input", "target_file=calc.py", expect=1)

    # The agent ran again (the module changed), wrote the same tests, and the new function
    # stays uncovered: below the target.
    assert again["steps"]["generate_tests"]["status"] == "succeeded"
    assert len(model_server.model_calls()) > calls
    assert again["steps"]["validate_target"]["status"] == "failed"


def test_create_pr_reads_the_start_environment(tmp_path: Path, model_server: ModelServer) -> None:
    env = {**provider_env("bedrock", model_server.url, tmp_path / "home"), "CREATE_PR": "true"}
    env.update(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )
    workspace = Workspace(_project(tmp_path / "project"), env=env)
    (workspace.path / ".gitignore").write_text(".baton/\n.coverage\ncoverage.xml\n__pycache__/\n")
    subprocess.run(["git", "init", "-q"], cwd=workspace.path, check=True)
    record = workspace.run_json("run", str(WORKFLOW), "--input", "target_file=calc.py")

    assert record["steps"]["create_pr"]["status"] == "succeeded"
    log = subprocess.run(  # noqa: PLW1510 - the assertions below check what it printed
        ["git", "log", "--format=%s", "--name-only"], cwd=workspace.path, capture_output=True, text=True
    )
    assert "Increase test coverage for calc.py" in log.stdout
    assert "tests/test_calc_more.py" in log.stdout


def test_validate_accepts_the_reference_workflow_and_warns_about_the_output_no_step_sets(tmp_path: Path) -> None:
    result = Workspace(tmp_path).baton("validate", str(WORKFLOW))

    assert result.returncode == 0, result.stderr
    assert "ok (increase-test-coverage, 6 steps)" in result.stdout
    assert result.stderr.strip() == (
        f"{WORKFLOW}: warning: outputs.coverage_report: no step declares 'outputs: {{coverage_report: PATH}}', "
        "so it will be empty"
    )
