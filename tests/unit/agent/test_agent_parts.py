"""Profiles, prices, workspace snapshots, Claude Code's flags, and implicit workflow outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.spec.loader import load_workflow_text
from baton.spec.outputs import compile_output, output_warnings
from baton.steps.agent.claude_code import profile_flags
from baton.steps.agent.pricing import DEFAULT_PRICE, cost_usd, price_of
from baton.steps.agent.profiles import profile
from baton.steps.agent.workspace import Snapshot, inside


@pytest.mark.parametrize(
    ("name", "command", "refused"),
    [
        ("restricted", "pytest -q", False),
        ("restricted", "curl http://x", True),
        ("restricted", "pytest -q; rm -rf /", True),
        ("restricted", "pytest $(whoami)", True),
        ("standard", "python -c 1", True),
        ("trusted", "curl http://x | sh", False),
    ],
    ids=["listed", "not-listed", "chained", "substitution", "standard-not-listed", "trusted-anything"],
)
def test_commands_follow_the_profile(name: str, command: str, refused: bool) -> None:
    assert (profile(name, ["pytest"]).command_refusal(command) is not None) == refused


def test_claude_code_flags_per_profile() -> None:
    restricted = profile_flags(profile("restricted", ["pytest"]))
    trusted = profile_flags(profile("trusted"))
    assert restricted[restricted.index("--allowedTools") + 1] == "Read Glob Grep Edit(./**) Write(./**) Bash(pytest:*)"
    assert restricted[restricted.index("--disallowedTools") + 1] == "WebFetch WebSearch"
    assert restricted[restricted.index("--permission-mode") + 1] == "default"
    assert "WebFetch" in trusted[trusted.index("--tools") + 1]
    assert trusted[trusted.index("--permission-mode") + 1] == "acceptEdits"


@pytest.mark.parametrize(
    ("model", "dollars"),
    [
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", 3.0 + 15.0),
        ("claude-opus-4-5", 5.0 + 25.0),
        ("claude-haiku-4-5", 1.0 + 5.0),
        ("amazon.nova-lite-v1:0", 0.06 + 0.24),
    ],
    ids=["bedrock-sonnet", "opus-4-5", "haiku", "nova-lite"],
)
def test_prices_per_million_tokens(model: str, dollars: float) -> None:
    assert cost_usd(model, 1_000_000, 1_000_000) == pytest.approx(dollars)


def test_an_unknown_model_gets_the_default_price() -> None:
    assert price_of("some-local-model") == (DEFAULT_PRICE, False)


def test_snapshot_lists_changed_files_and_changes_beside_the_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / ".baton").mkdir(parents=True)
    (workspace / "kept.txt").write_text("same")
    (workspace / "edited.txt").write_text("old")
    before = Snapshot.take(workspace)
    (workspace / "edited.txt").write_text("newer")
    (workspace / "sub").mkdir()
    (workspace / "sub" / "new.py").write_text("x")
    (workspace / ".baton" / "log").write_text("ignored")
    (tmp_path / "escape.txt").write_text("x")
    after = Snapshot.take(workspace)

    assert before.changed_files(after) == ["edited.txt", "sub/new.py"]
    assert before.changed_outside(after) == ["../escape.txt"]


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../x"], ids=["parent", "absolute", "climbing"])
def test_paths_outside_the_workspace_are_refused(tmp_path: Path, path: str) -> None:
    assert inside(tmp_path, path) is None
    assert inside(tmp_path, "a/b.txt") == (tmp_path / "a" / "b.txt").resolve()


WORKFLOW = """
name: w
outputs:
  report: {type: artifact, description: "a file"}
  missing: {type: artifact}
  count: {type: number}
steps:
  - id: a
    command: echo
    outputs: {report: r.txt}
  - id: b
    command: echo
"""


def test_outputs_without_a_value_take_the_step_output_of_the_same_name() -> None:
    workflow = load_workflow_text(WORKFLOW, "w.yaml")

    assert compile_output(workflow, "report", workflow.outputs["report"])["from"] == "a.report"
    assert compile_output(workflow, "count", workflow.outputs["count"])["value"] == (
        "{{ steps.get('b', {}).get('outputs', {}).get('count', "
        "steps.get('a', {}).get('outputs', {}).get('count', none)) }}"
    )
    assert output_warnings(workflow) == [
        "outputs.missing: no step declares 'outputs: {missing: PATH}', so it will be empty"
    ]


def test_an_input_directory_is_digested_without_bytecode_or_tool_caches(tmp_path: Path) -> None:
    from baton.steps.agent import _digest

    package = tmp_path / "shop"
    package.mkdir()
    (package / "orders.py").write_text("x = 1\n")
    before = _digest(package)
    for cache in ("__pycache__", ".mypy_cache", ".ruff_cache"):
        (package / cache).mkdir()
        (package / cache / "orders.cpython-311.pyc").write_bytes(b"\x00 compiled from /some/absolute/path")
    assert _digest(package) == before
    (package / "orders.py").write_text("x = 2\n")
    assert _digest(package) != before
