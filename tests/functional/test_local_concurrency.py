"""``concurrency:`` on ``baton run``: two processes on one state dir share the key's slots,
as executions on AWS do."""

from __future__ import annotations

import json
import time
from pathlib import Path

from baton_cli import Workspace

WORKFLOW = """
name: deploy
inputs:
  env: {type: string, default: prod}
concurrency: {key: "{{ inputs.env }}", limit: 1, on_conflict: POLICY}
steps:
  - id: work
    command: |
      echo "start $(date +%s.%N)" >> "log-$BATON_EXECUTION_ID"
      sleep 1.5
      echo "end $(date +%s.%N)" >> "log-$BATON_EXECUTION_ID"
"""


def times(workspace: Workspace, execution_id: str) -> dict[str, float]:
    lines = (workspace.path / f"log-{execution_id}").read_text().split("\n")
    return {word: float(value) for word, value in (line.split() for line in lines if line)}


def start_two(workspace: Workspace, policy: str, second_env: str = "prod") -> list[dict]:
    path = workspace.write("deploy.yaml", WORKFLOW.replace("POLICY", policy))
    first = workspace.start("run", str(path), "--json")
    deadline = time.monotonic() + 30
    while not list(workspace.path.glob("log-*")) and time.monotonic() < deadline:
        time.sleep(0.05)  # until the first runs its step: it holds the key
    second = workspace.start("run", str(path), "--input", f"env={second_env}", "--json")
    outputs = [process.communicate(timeout=60)[0] for process in (first, second)]
    return [json.loads(output) for output in outputs]


def test_queue_runs_the_second_after_the_first_ends(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    first, second = start_two(workspace, "queue")

    assert (first["status"], second["status"]) == ("succeeded", "succeeded")
    assert times(workspace, second["execution_id"])["start"] >= times(workspace, first["execution_id"])["end"]


def test_another_key_runs_at_once(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    first, second = start_two(workspace, "queue", second_env="staging")

    assert times(workspace, second["execution_id"])["start"] < times(workspace, first["execution_id"])["end"]


def test_skip_ends_the_second_without_running_it(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    first, second = start_two(workspace, "skip")

    assert first["status"] == "succeeded"
    assert second["status"] == "cancelled"
    assert second["error"] == f"skipped: concurrency key 'prod' is held by {first['execution_id']}"
    assert not (workspace.path / f"log-{second['execution_id']}").exists()


def test_cancel_running_cancels_the_holder_then_runs(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    first, second = start_two(workspace, "cancel-running")

    assert first["status"] == "cancelled"
    assert second["status"] == "succeeded"


def test_a_holder_killed_and_cancelled_gives_its_slot_back(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    slow = workspace.write("slow.yaml", WORKFLOW.replace("POLICY", "skip").replace("sleep 1.5", "sleep 30"))
    holder = workspace.start("run", str(slow), "--json")
    deadline = time.monotonic() + 30
    while not list(workspace.path.glob("log-*")) and time.monotonic() < deadline:
        time.sleep(0.1)  # until its step runs
    holder.kill()  # SIGKILL: its record still says running, and it still holds the key
    holder.communicate()
    dead = workspace.latest_execution()
    fast = workspace.write("fast.yaml", WORKFLOW.replace("POLICY", "skip").replace("sleep 1.5", "true"))
    assert workspace.run_json("run", str(fast), expect=1)["error"].startswith("skipped")

    workspace.baton("cancel", dead)

    assert workspace.run_json("run", str(fast))["status"] == "succeeded"
