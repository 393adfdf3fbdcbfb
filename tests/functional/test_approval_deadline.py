"""An approval past its deadline cannot be approved; status says it expired."""

from __future__ import annotations

import time
from pathlib import Path

from baton_cli import Workspace

GATE = """\
name: gate
steps:
  - id: gate
    type: approval
    message: go?
    timeout: 1s
  - id: after
    command: echo after > after.txt
"""


def test_an_expired_approval_cannot_be_approved(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.write("w.yaml", GATE)
    execution = workspace.run_json("run", "w.yaml")["execution_id"]
    time.sleep(1.5)

    shown = workspace.baton("status", execution).stdout
    result = workspace.baton("approve", execution, "gate", "--json")

    assert "expired" in shown
    assert result.returncode == 1, result.stdout + result.stderr
    assert "expired" in result.stderr
    record = workspace.run_json("status", execution)
    assert record["steps"]["gate"]["status"] == "failed"
    assert "timed out" in record["steps"]["gate"]["error"]
    assert not (tmp_path / "after.txt").exists()


def test_an_approval_within_its_deadline_is_accepted(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.write("w.yaml", GATE.replace("1s", "1h"))
    execution = workspace.run_json("run", "w.yaml")["execution_id"]

    record = workspace.run_json("approve", execution, "gate")

    assert record["status"] == "succeeded"


def test_an_approval_that_says_so_is_approved_when_its_timeout_passes(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.write("w.yaml", GATE.replace("timeout: 1s", "timeout: 1s\n    on_timeout: approve"))
    execution = workspace.run_json("run", "w.yaml")["execution_id"]
    time.sleep(1.5)

    record = workspace.run_json("resume", execution)

    assert record["status"] == "succeeded", record
    gate = record["steps"]["gate"]
    assert gate["outputs"]["decision"] == "approved"
    assert gate["outputs"]["by"] == "timeout"
    assert (tmp_path / "after.txt").exists()
