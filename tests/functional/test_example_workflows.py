"""Every example in workflows/ that needs no network or cloud runs for real, each in a fresh
workspace, and ends as its header comment says."""

from __future__ import annotations

from pathlib import Path

import pytest
from baton_cli import WORKFLOWS, Workspace

# file -> (exit code, execution status, environment)
EXPECTED: dict[str, tuple[int, str, dict[str, str]]] = {
    "hello": (0, "succeeded", {}),
    "dag": (0, "succeeded", {}),
    "fan-out": (0, "succeeded", {}),
    "conditions": (0, "succeeded", {}),
    "caching": (0, "succeeded", {}),
    "retries-and-timeouts": (0, "succeeded", {}),
    "wait": (0, "succeeded", {}),
    "approval": (0, "waiting", {}),
    "saga": (1, "failed", {}),
    "secrets": (0, "succeeded", {"DEMO_TOKEN": "s3cr3t-value"}),
    "sub-workflows": (0, "succeeded", {}),
    "greet-one": (0, "succeeded", {}),
}
NEEDS_THE_CLOUD = {
    "coverage-with-pr": "runs an agent on Bedrock and calls the GitHub API",
}
EXAMPLES = sorted(path.stem for path in WORKFLOWS.glob("*.yaml"))


def test_every_example_is_either_run_or_explained() -> None:
    unknown = set(EXAMPLES) - set(EXPECTED) - set(NEEDS_THE_CLOUD)
    assert not unknown, f"add these examples to EXPECTED or NEEDS_THE_CLOUD: {sorted(unknown)}"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.skip(reason=NEEDS_THE_CLOUD[name])) if name in NEEDS_THE_CLOUD else name
        for name in EXAMPLES
    ],
    ids=EXAMPLES,
)
def test_example_runs(tmp_path: Path, name: str) -> None:
    code, status, env = EXPECTED[name]
    workspace = Workspace(tmp_path, env=env)
    record = workspace.run_json("run", str(WORKFLOWS / f"{name}.yaml"), expect=code)
    assert record["status"] == status
    assert "s3cr3t-value" not in repr(record)


def test_the_saga_example_compensates_newest_first(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    record = workspace.run_json("run", str(WORKFLOWS / "saga.yaml"), expect=1)
    assert [record["steps"][s]["status"] for s in ("reserve", "charge", "ship", "alert", "close")] == [
        "compensated", "compensated", "failed", "succeeded", "succeeded",
    ]  # fmt: skip
    assert (tmp_path / ".scratch" / "ledger").read_text().splitlines() == [
        "reserved order-42", "charged order-42", "refunded order-42", "released order-42",
        "order order-42 rolled back", "closed",
    ]  # fmt: skip


def test_the_caching_example_misses_when_its_input_file_changes(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    first = workspace.run_json("run", str(WORKFLOWS / "caching.yaml"))
    second = workspace.run_json("run", str(WORKFLOWS / "caching.yaml"))
    (tmp_path / "src" / "main.txt").write_text("version 2\n")
    third = workspace.run_json("run", str(WORKFLOWS / "caching.yaml"))
    assert [r["steps"]["build"]["cache_hit"] for r in (first, second, third)] == [False, True, False]
    assert third["steps"]["use"]["outputs"]["stdout"] == "VERSION 2"


def test_retries_example_is_repeatable(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)

    runs = [workspace.run_json("run", str(WORKFLOWS / "retries-and-timeouts.yaml")) for _ in range(2)]

    assert [run["steps"]["flaky"]["attempts"] for run in runs] == [3, 3]
    assert not (tmp_path / ".scratch").exists()


@pytest.mark.parametrize("name", ["fan-out", "retries-and-timeouts"])
def test_examples_leave_nothing_behind(tmp_path: Path, name: str) -> None:
    workspace = Workspace(tmp_path)

    workspace.run_json("run", str(WORKFLOWS / f"{name}.yaml"))

    assert sorted(path.name for path in tmp_path.iterdir()) == [".baton"]
