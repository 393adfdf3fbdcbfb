"""``baton resume ID --file F``: after fixing the YAML, the edited definition runs; steps
whose definition changed (and what needs them) run again, the others keep their results."""

from __future__ import annotations

import json
from pathlib import Path

from baton_cli import Workspace

BROKEN = """
name: fixme
steps:
  - id: fetch
    command: echo fetched >> fetch.log
  - id: build
    needs: [fetch]
    command: exit 3
  - id: ship
    needs: [build]
    command: echo shipped
"""
FIXED = BROKEN.replace("command: exit 3", "command: echo built")


def test_resume_with_the_fixed_file_runs_the_changed_step_and_keeps_the_others(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    path = workspace.write("fixme.yaml", BROKEN)
    failed = workspace.run_json("run", str(path), expect=1)
    assert failed["steps"]["build"]["status"] == "failed"
    path.write_text(FIXED)

    resumed = workspace.run_json("resume", failed["execution_id"], "--file", str(path))

    assert resumed["status"] == "succeeded"
    assert resumed["steps"]["build"]["outputs"]["stdout"] == "built"
    assert resumed["steps"]["fetch"]["attempts"] == 1
    assert workspace.lines("fetch.log") == ["fetched"], "an unchanged step ran again"


def test_a_changed_step_of_a_succeeded_execution_runs_again_with_its_dependants(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    path = workspace.write("fixme.yaml", FIXED)
    done = workspace.run_json("run", str(path))
    path.write_text(FIXED.replace("echo shipped", "echo shipped v2"))

    resumed = workspace.run_json("resume", done["execution_id"], "--file", str(path))

    assert resumed["steps"]["ship"]["outputs"]["stdout"] == "shipped v2"
    assert (resumed["steps"]["fetch"]["attempts"], resumed["steps"]["build"]["attempts"]) == (1, 1)


def test_a_broken_file_is_refused_with_its_position_and_changes_nothing(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    path = workspace.write("fixme.yaml", BROKEN)
    failed = workspace.run_json("run", str(path), expect=1)
    broken = workspace.write("broken.yaml", "name: fixme\nsteps:\n  - id: a\n    comand: echo\n")

    result = workspace.baton("resume", failed["execution_id"], "--file", str(broken))

    assert result.returncode == 2
    assert "broken.yaml:3:5:" in result.stderr
    assert "did you mean 'command'" in result.stderr
    status = json.loads(workspace.baton("status", failed["execution_id"], "--json").stdout)
    assert status["status"] == "failed"


def test_a_file_of_another_workflow_is_refused(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    path = workspace.write("fixme.yaml", BROKEN)
    failed = workspace.run_json("run", str(path), expect=1)
    other = workspace.write("other.yaml", FIXED.replace("name: fixme", "name: other"))

    result = workspace.baton("resume", failed["execution_id"], "--file", str(other))

    assert result.returncode == 2
    assert "defines workflow 'other', not 'fixme'" in result.stderr
