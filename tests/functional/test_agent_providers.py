"""Each agent provider against the scripted model server: what a restricted agent is refused,
the limits that stop an agent that never finishes, and throttling retried by the step's policy."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from agent_env import PROVIDERS, needs_claude, provider_env
from baton_cli import Workspace

from baton.testing.modelserver import ModelServer

FORBIDDEN = {
    "turns": [
        {"tools": [{"name": "write", "input": {"path": "../escape.txt", "content": "out"}}]},
        {"tools": [{"name": "run", "input": {"command": "curl http://127.0.0.1:9/"}}]},
        {"tools": [{"name": "fetch", "input": {"url": "http://127.0.0.1:9/"}}]},
        {"tools": [{"name": "write", "input": {"path": "inside.txt", "content": "in"}}]},
        {"text": "tried"},
    ]
}
NEVER_ENDS = {"repeat_last": True, "turns": [{"text": "again", "tools": [{"name": "list", "input": {}}]}]}


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer({"turns": []}) as running:
        yield running


def _workspace(tmp_path: Path, server: ModelServer, provider: str, script: dict[str, Any]) -> Workspace:
    server.load(script)
    project = tmp_path / "ws"
    project.mkdir()
    return Workspace(project, env=provider_env(provider, server.url, tmp_path / "home"))


def _run(workspace: Workspace, step: dict[str, Any], expect: int) -> dict[str, Any]:
    body = {"id": "agent", "type": "agent", "prompt": "do the task", **step}
    workspace.write("wf.yaml", yaml.safe_dump({"name": "agent-test", "steps": [body]}))
    record: dict[str, Any] = workspace.run_json("run", "wf.yaml", expect=expect)["steps"]["agent"]
    return record


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_restricted_agent_is_refused_what_its_profile_forbids(
    tmp_path: Path, server: ModelServer, provider: str
) -> None:
    workspace = _workspace(tmp_path, server, provider, FORBIDDEN)
    step = _run(workspace, {}, expect=0)

    denied = " | ".join(step["outputs"]["denied"])
    assert "escape.txt" in denied
    assert "curl" in denied
    assert "fetch" in denied.lower()
    assert not (tmp_path / "escape.txt").exists()
    assert step["outputs"]["files_changed"] == ["inside.txt"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_allow_listed_command_runs(tmp_path: Path, server: ModelServer, provider: str) -> None:
    script = {"turns": [{"tools": [{"name": "run", "input": {"command": "touch made-by-command"}}]}, {"text": "ok"}]}
    workspace = _workspace(tmp_path, server, provider, script)
    step = _run(workspace, {"allowed_commands": ["touch"]}, expect=0)

    assert step["outputs"]["denied"] == []
    assert step["outputs"]["files_changed"] == ["made-by-command"]


def test_a_command_agent_that_writes_outside_the_workspace_fails_the_step(tmp_path: Path, server: ModelServer) -> None:
    workspace = _workspace(tmp_path, server, "command", {"turns": []})
    program = (
        "import json, sys; json.load(sys.stdin); open('../escape.txt', 'w').write('x');"
        "print(json.dumps({'text': 'done'}))"
    )
    step = _run(workspace, {"provider": "command", "command": [sys.executable, "-c", program]}, expect=1)

    assert step["status"] == "failed"
    assert "outside the workspace: ../escape.txt" in step["error"]


@pytest.mark.parametrize(
    ("provider", "limits", "script", "message"),
    [
        pytest.param("bedrock", {"max_turns": 3}, NEVER_ENDS, "max_turns", id="bedrock-turns"),
        pytest.param(
            "claude_code", {"max_turns": 3}, NEVER_ENDS, "max_turns", id="claude_code-turns", marks=needs_claude
        ),
        pytest.param(
            "bedrock",
            {"budget": {"usd": 0.2}},
            {**NEVER_ENDS, "usage": {"input_tokens": 10, "output_tokens": 8000}},
            "budget",
            id="bedrock-budget",
        ),
        pytest.param(
            "claude_code",
            {"budget": {"usd": 1}},
            {**NEVER_ENDS, "usage": {"input_tokens": 10, "output_tokens": 40000}},
            "budget",
            id="claude_code-budget",
            marks=needs_claude,
        ),
        pytest.param(
            "command",
            {"budget": 0.05},
            {"turns": [{"text": "x", "usage": {"output_tokens": 8000}}]},
            "budget",
            id="command-budget",
        ),
        pytest.param(
            "bedrock",
            {"max_tokens": 100},
            {"turns": [{"text": "long", "usage": {"output_tokens": 500}}]},
            "max_tokens",
            id="bedrock-tokens",
        ),
        pytest.param(
            "bedrock",
            {"timeout": "1s"},
            {"turns": [{"text": "slow", "delay_seconds": 3}]},
            "timed out",
            id="bedrock-timeout",
        ),
        pytest.param("command", {"timeout": "1s"}, NEVER_ENDS, "timed out", id="command-timeout"),
        pytest.param(
            "claude_code",
            {"timeout": "2s"},
            {"turns": [{"text": "slow", "delay_seconds": 6}]},
            "timed out",
            id="claude_code-timeout",
            marks=needs_claude,
        ),
    ],
)
def test_limits_stop_the_agent_and_keep_its_log(  # noqa: PLR0917 - one parameter per parametrize column
    tmp_path: Path, server: ModelServer, provider: str, limits: dict[str, Any], script: dict[str, Any], message: str
) -> None:
    workspace = _workspace(tmp_path, server, provider, script)
    step = _run(workspace, limits, expect=1)

    assert step["status"] == "failed"
    assert message in step["error"]
    logs = workspace.baton("logs", workspace.latest_execution(), "--step", "agent")
    assert "start {" in logs.stdout  # what it did before it was stopped is in the log


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("status", [429, 500], ids=["throttled", "server-error"])
def test_model_service_errors_are_retried_by_the_step_policy(
    tmp_path: Path, server: ModelServer, provider: str, status: int
) -> None:
    script = {"faults": [{"request": 1, "status": status}], "turns": [{"text": "fine"}]}
    workspace = _workspace(tmp_path, server, provider, script)
    step = _run(workspace, {"retry": {"max_attempts": 2, "backoff": {"initial": "10ms"}}}, expect=0)

    assert step["status"] == "succeeded"
    assert step["attempts"] == 2
    assert step["outputs"]["text"] == "fine"
    assert [r.status for r in server.model_calls()][:2] == [status, 200]


def test_secrets_are_masked_in_the_agent_log_and_outputs(tmp_path: Path, server: ModelServer) -> None:
    workspace = _workspace(tmp_path, server, "bedrock", {"turns": [{"text": "the token is s3cr3t-token-value"}]})
    workspace.env["AGENT_TOKEN"] = "s3cr3t-token-value"
    body = {"id": "agent", "type": "agent", "prompt": "use {{ secrets.TOKEN }}"}
    document = {"name": "masked", "secrets": {"TOKEN": {"env": "AGENT_TOKEN"}}, "steps": [body]}
    workspace.write("wf.yaml", yaml.safe_dump(document))
    record = workspace.run_json("run", "wf.yaml")
    logs = workspace.baton("logs", record["execution_id"], "--step", "agent").stdout

    assert record["steps"]["agent"]["outputs"]["text"] == "the token is ***"
    assert "s3cr3t-token-value" not in logs
    assert "s3cr3t-token-value" in json.dumps(server.model_calls()[0].body)  # the model did get it


def test_the_workflow_default_provider_applies(tmp_path: Path, server: ModelServer) -> None:
    workspace = _workspace(tmp_path, server, "claude_code", {"turns": [{"text": "from bedrock"}]})
    document = {"name": "d", "defaults": {"agent": {"provider": "bedrock", "model": "amazon.nova-lite-v1:0"}},
                "steps": [{"id": "agent", "type": "agent", "prompt": "hi"}]}  # fmt: skip
    workspace.write("wf.yaml", yaml.safe_dump(document))
    step = workspace.run_json("run", "wf.yaml")["steps"]["agent"]

    assert (step["outputs"]["provider"], step["outputs"]["model"]) == ("bedrock", "amazon.nova-lite-v1:0")
    assert server.model_calls()[0].path.startswith("/model/amazon.nova-lite-v1%3A0/converse")
