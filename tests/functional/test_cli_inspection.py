"""``logs``, ``status`` and ``list`` as a newcomer uses them: run order, short ids and
``latest``, an unknown step, ``-h``, durations, and no state dir made by looking."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from baton_cli import Workspace

# 'zeta' runs first and 'alpha' second: alphabetical order would put alpha first.
ORDERED = """\
name: ordered
steps:
  - id: zeta
    command: echo from-zeta
  - id: alpha
    command: echo from-alpha
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


def test_logs_follow_run_order(workspace: Workspace) -> None:
    workspace.write("w.yaml", ORDERED)
    workspace.run_json("run", "w.yaml")

    text = workspace.baton("logs", workspace.latest_execution()).stdout

    assert text.index("from-zeta") < text.index("from-alpha"), text


def test_logs_of_an_unknown_step_is_an_error(workspace: Workspace) -> None:
    workspace.write("w.yaml", ORDERED)
    workspace.run_json("run", "w.yaml")

    result = workspace.baton("logs", "latest", "--step", "nope")

    assert result.returncode == 2
    assert "no step 'nope'" in result.stderr
    assert "zeta, alpha" in result.stderr


def test_latest_and_short_ids_name_an_execution(workspace: Workspace) -> None:
    workspace.write("w.yaml", ORDERED)
    record = workspace.run_json("run", "w.yaml")
    full = record["execution_id"]

    by_latest = workspace.run_json("status", "latest")
    by_suffix = workspace.run_json("status", full.rsplit("-", 1)[1])

    assert by_latest["execution_id"] == by_suffix["execution_id"] == full


def test_status_shows_durations(workspace: Workspace) -> None:
    workspace.write("w.yaml", ORDERED)
    workspace.run_json("run", "w.yaml")

    text = workspace.baton("status", "latest").stdout

    assert "took " in text
    assert all(line.rstrip().endswith("s") for line in text.splitlines() if "attempts 1" in line), text


def test_looking_creates_no_state_dir(workspace: Workspace) -> None:
    listed = workspace.baton("list")
    status = workspace.baton("status", "latest")

    assert listed.returncode == 0
    assert "no executions" in listed.stdout
    assert status.returncode == 2
    assert "Traceback" not in status.stderr
    assert not workspace.state_dir.exists()


@pytest.mark.parametrize("args", [["-h"], ["run", "-h"], ["logs", "-h"]], ids=["baton", "run", "logs"])
def test_short_help_option(workspace: Workspace, args: list[str]) -> None:
    result = workspace.baton(*args)

    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_logs_follow_prints_output_while_the_step_runs(workspace: Workspace) -> None:
    workspace.write("w.yaml", "name: w\nsteps:\n  - id: slow\n    command: echo one; sleep 2; echo two\n")
    run = workspace.start("run", "w.yaml")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and '"execution_id"' not in workspace.baton("list", "--json").stdout:
            time.sleep(0.1)
        follow = workspace.start("logs", "latest", "--follow")
        out, _ = follow.communicate(timeout=30)
    finally:
        run.communicate(timeout=30)

    assert follow.returncode == 0, out
    assert out.index("one") < out.index("two"), out
