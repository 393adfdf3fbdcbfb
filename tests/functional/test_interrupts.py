"""SIGTERM and Ctrl-C stop a run cleanly: the step's whole process group ends, the execution
is recorded as interrupted, the message says how to resume, and resume finishes the work."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from baton_cli import Workspace, alive

WORKFLOW = """
name: interrupted
steps:
  - id: slow
    command: |
      if [ "$BATON_ATTEMPT" = 1 ]; then
        sleep 300 &
        echo $! > child.pid
        sleep 300
      fi
      echo done
  - id: after
    command: echo after
"""


# With a secret, the step's output goes through masking pumps, which a background child
# keeps busy: the interruption must not wait for them.
MASKED = WORKFLOW.replace("name: interrupted\n", "name: interrupted\nsecrets:\n  TOKEN: {env: DEMO_TOKEN}\n")


@pytest.mark.parametrize("text", [WORKFLOW, MASKED], ids=["plain", "masked"])
@pytest.mark.parametrize(("signum", "code", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")],
                         ids=["sigterm", "ctrl-c"])  # fmt: skip
def test_a_signal_stops_the_steps_records_the_interruption_and_resume_finishes(
    tmp_path: Path, signum: int, code: int, name: str, text: str
) -> None:
    workspace = Workspace(tmp_path, env={"DEMO_TOKEN": "s3cr3t-value"})
    path = workspace.write("slow.yaml", text)
    run = workspace.start("run", str(path))
    pid_file = tmp_path / "child.pid"
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())

    run.send_signal(signum)
    _, stderr = run.communicate(timeout=30)

    assert run.returncode == code, stderr
    execution_id = workspace.latest_execution()
    assert f"interrupted ({name}); continue with: baton resume {execution_id}" in stderr
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the step's background child outlived the run"
    status = json.loads(workspace.baton("status", execution_id, "--json").stdout)
    assert (status["status"], status["error"]) == ("failed", f"interrupted ({name})")

    resumed = workspace.run_json("resume", execution_id)
    assert resumed["status"] == "succeeded"
    assert resumed["steps"]["after"]["status"] == "succeeded"
