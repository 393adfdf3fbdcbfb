"""Durability with real processes: a ``baton run`` killed with SIGKILL mid-step is finished by
``baton resume`` without re-running what had finished; two resumes at once share the work
and never run a step twice."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from baton_cli import Workspace, alive

CRASHING = """
name: crash
steps:
  - id: first
    command: |
      echo first >> ran.log
      echo "value=1" >> "$BATON_OUTPUT"
  - id: fan
    for_each: [a, b, c]
    command: echo "fan-{{ item }}" >> ran.log
  - id: long
    command: |
      echo long-start >> ran.log
      if [ "$BATON_ATTEMPT" = 1 ]; then
        echo $$ > long.pid
        touch started.flag
        sleep 60
      fi
      echo long-end >> ran.log
      echo "value=42" >> "$BATON_OUTPUT"
  - id: last
    command: echo "last-{{ steps.long.outputs.value }}-{{ steps.first.outputs.value }}" >> ran.log
"""


def _wait_for(path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def test_sigkill_mid_step_then_resume_loses_nothing_and_reruns_nothing_finished(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.write("crash.yaml", CRASHING)
    process = workspace.start("run", "crash.yaml")
    _wait_for(tmp_path / "started.flag")
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    execution_id = workspace.latest_execution()
    before = workspace.run_json("status", execution_id)
    assert before["status"] == "running"
    assert before["steps"]["long"]["status"] == "running"

    after = workspace.run_json("resume", execution_id)

    assert after["status"] == "succeeded"
    ran = workspace.lines("ran.log")
    assert ran.count("first") == 1, "a finished step ran again"
    assert ran.count("fan-a") == 1, "a finished item ran again"
    assert ran.count("long-start") == 2, "the interrupted step runs again"
    assert ran.count("long-end") == 1
    assert not alive(int((tmp_path / "long.pid").read_text())), "the orphaned attempt was stopped"
    assert ran[-1] == "last-42-1", "outputs of steps finished before the crash were kept"
    assert after["steps"]["first"]["attempts"] == 1
    assert after["steps"]["long"]["attempts"] == 2
    assert after["steps"]["first"]["outputs"] == before["steps"]["first"]["outputs"]


RACING = """
name: race
steps:
  - id: gate
    command: test -f go.flag
  - id: fan
    for_each: [1, 2, 3, 4, 5, 6, 7, 8]
    max_concurrency: 4
    command: echo "fan-{{ item }}" >> ran.log; sleep 0.1
  - id: solo
    needs: [gate]
    command: echo solo >> ran.log; sleep 0.3
""" + "".join(
    f"  - id: s{i}\n    needs: [{'fan' if i == 0 else f's{i - 1}'}]\n    command: echo s{i} >> ran.log; sleep 0.05\n"
    for i in range(6)
)


@pytest.mark.parametrize("round_", range(2), ids=["first-race", "second-race"])
def test_two_resumes_at_once_never_run_a_step_twice(tmp_path: Path, round_: int) -> None:
    workspace = Workspace(tmp_path)
    workspace.write("race.yaml", RACING)
    failed = workspace.run_json("run", "race.yaml", expect=1)
    (tmp_path / "go.flag").touch()

    resumes = [workspace.start("resume", failed["execution_id"], "--json") for _ in range(2)]
    outcomes = [process.communicate(timeout=60) for process in resumes]

    assert [process.returncode for process in resumes] == [0, 0], outcomes
    ran = workspace.lines("ran.log")
    assert sorted(ran) == sorted({*ran}), f"a step ran twice: {ran}"
    assert len(ran) == 8 + 1 + 6
    assert workspace.run_json("status", failed["execution_id"])["status"] == "succeeded"


def test_cancel_stops_a_running_step_and_runs_finally(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.write(
        "long.yaml",
        "name: long\nsteps:\n  - id: long\n    command: |\n      touch started.flag\n      sleep 30\n"
        "  - id: after\n    command: 'true'\nfinally:\n  - id: tidy\n    command: echo tidy > tidy.txt\n",
    )
    process = workspace.start("run", "long.yaml")
    _wait_for(tmp_path / "started.flag")
    cancelled = workspace.baton("cancel", workspace.latest_execution())
    assert cancelled.returncode == 0, cancelled.stderr
    process.communicate(timeout=30)
    assert process.returncode == 1
    record = workspace.run_json("status", workspace.latest_execution())
    statuses = {step: value["status"] for step, value in record["steps"].items()}
    assert (record["status"], statuses) == (
        "cancelled",
        {"long": "cancelled", "after": "cancelled", "tidy": "succeeded"},
    )
    assert (tmp_path / "tidy.txt").exists()
