"""``baton run/status/list/logs/resume/approve/cancel`` as a user runs them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from baton_cli import WORKFLOWS, Workspace

EXECUTION_KEYS = {
    "execution_id",
    "workflow",
    "version",
    "definition_digest",
    "status",
    "inputs",
    "outputs",
    "started_at",
    "finished_at",
    "error",
    "steps",
}
STEP_KEYS = {"status", "attempts", "cache_hit", "outputs", "error", "started_at", "finished_at", "items"}


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


def test_hello_twice_gives_the_section_4_record_and_a_cache_hit(workspace: Workspace) -> None:
    first = workspace.run_json("run", str(WORKFLOWS / "hello.yaml"))
    second = workspace.run_json("run", str(WORKFLOWS / "hello.yaml"))
    assert set(first) == EXECUTION_KEYS
    assert all(set(step) == STEP_KEYS for step in first["steps"].values())
    assert first["status"] == second["status"] == "succeeded"
    assert first["outputs"]["greeting"] == "Hello, world!"
    assert len(first["steps"]["translate"]["items"]) == 4
    assert (first["steps"]["build"]["cache_hit"], second["steps"]["build"]["cache_hit"]) == (False, True)
    assert second["steps"]["build"]["status"] == "cached"
    status = workspace.run_json("status", second["execution_id"])
    assert status == second


def test_status_list_and_logs_show_what_ran(workspace: Workspace) -> None:
    workspace.write("w.yaml", "name: shown\nsteps:\n  - id: talk\n    command: echo to-out; echo to-err >&2\n")
    assert workspace.baton("run", "w.yaml").returncode == 0
    execution_id = workspace.latest_execution()
    status = workspace.baton("status", execution_id)
    assert "talk" in status.stdout
    assert "succeeded" in status.stdout
    assert execution_id in workspace.baton("list").stdout
    logs = workspace.baton("logs", execution_id, "--step", "talk").stdout
    assert "to-out" in logs
    assert "to-err" in logs
    assert "(attempt 1) stderr" in logs


def test_a_stream_that_printed_nothing_leaves_no_log_file(workspace: Workspace) -> None:
    text = (
        "name: quiet\nsteps:\n  - id: says\n    command: echo said\n"
        '  - id: silent\n    command: "true"\n    needs: [says]\n'
    )
    workspace.write("w.yaml", text)
    assert workspace.baton("run", "w.yaml").returncode == 0
    execution_id = workspace.latest_execution()
    kept = sorted(p.name for p in (workspace.state_dir / "logs" / execution_id).iterdir())
    assert kept == ["says.1.stdout.log"]
    assert "said" in workspace.baton("logs", execution_id).stdout
    silent = workspace.baton("logs", execution_id, "--step", "silent")
    assert (silent.returncode, silent.stdout, silent.stderr.strip()) == (0, "", "no logs for step silent")
    # The empty files are kept to become the next logs, not left in the execution's folder.
    spares = workspace.state_dir / "logs" / ".spare"
    first = {p.name for p in spares.iterdir()}
    # silent starts as soon as says has exited, before says's empty stderr is free.
    assert len(first) == 3, "says's stderr, then silent's two logs"
    assert workspace.baton("run", "w.yaml").returncode == 0
    again = {p.name for p in spares.iterdir()}
    assert len(again) == 3
    assert again != first, "the spares became the second run's logs"


def test_a_log_a_background_process_still_holds_is_kept_for_it(workspace: Workspace) -> None:
    text = (
        "name: late\nsteps:\n  - id: starts\n    command: (sleep 0.5; echo late) &\n"
        '  - id: quiet\n    command: "true"\n    needs: [starts]\n'
        "  - id: says\n    command: echo own\n    needs: [quiet]\n"
    )
    workspace.write("w.yaml", text)
    assert workspace.baton("run", "w.yaml").returncode == 0
    folder = workspace.state_dir / "logs" / workspace.latest_execution()
    deadline = time.monotonic() + 10
    while "late" not in (folder / "starts.1.stdout.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (folder / "starts.1.stdout.log").read_text() == "late\n"
    assert (folder / "says.1.stdout.log").read_text() == "own\n"


@pytest.mark.parametrize(
    ("text", "args", "code", "message"),
    [
        ("name: bad\nsteps:\n  - id: a\n    comand: x\n", [], 2, "w.yaml:3:5: steps[0]"),
        (
            "name: i\ninputs: {n: {type: integer}}\nsteps:\n  - id: a\n    command: 'true'\n",
            ["--input", "n=x"],
            2,
            "not a valid integer",
        ),
        ("name: i\nsteps:\n  - id: a\n    command: 'true'\n", ["--input", "nope=1"], 2, "unknown input nope"),
        ("name: f\nsteps:\n  - id: a\n    command: exit 3\n", [], 1, "step 'a' failed: exited with code 3"),
    ],
    ids=["invalid-definition", "bad-input-type", "unknown-input", "failing-step"],
)
def test_exit_codes(workspace: Workspace, text: str, args: list[str], code: int, message: str) -> None:
    workspace.write("w.yaml", text)
    result = workspace.baton("run", "w.yaml", *args)
    assert result.returncode == code, result.stdout + result.stderr
    assert message in result.stdout + result.stderr


def test_running_a_missing_file_says_so_and_leaves_nothing_behind(tmp_path: Path) -> None:
    result = Workspace(tmp_path).baton("run", "missing.yaml")

    assert result.returncode == 2
    assert "missing.yaml:1:1: cannot read the file" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_inputs_from_a_file_and_the_command_line(workspace: Workspace) -> None:
    workspace.write(
        "w.yaml",
        """
name: i
inputs:
  n: {type: integer}
  tags: {type: array}
steps:
  - id: a
    command: echo '{{ inputs.n }} {{ inputs.tags | join(",") }}'
""",
    )
    workspace.write("in.json", json.dumps({"n": 1, "tags": ["x", "y"]}))
    record = workspace.run_json("run", "w.yaml", "--inputs-file", "in.json", "--input", "n=5")
    assert record["steps"]["a"]["outputs"]["stdout"] == "5 x,y"


def test_resume_from_reruns_a_step_and_its_dependants(workspace: Workspace) -> None:
    steps = "".join(f"  - id: s{i}\n    command: echo s{i} >> ran.log\n" for i in range(4))
    workspace.write("w.yaml", "name: chain\nsteps:\n" + steps)
    first = workspace.run_json("run", "w.yaml")
    again = workspace.run_json("resume", first["execution_id"], "--from", "s2")
    assert workspace.lines("ran.log") == ["s0", "s1", "s2", "s3", "s2", "s3"]
    assert [again["steps"][f"s{i}"]["attempts"] for i in range(4)] == [1, 1, 2, 2]


def test_an_approval_waits_then_approve_carries_on(workspace: Workspace) -> None:
    waiting = workspace.run_json("run", str(WORKFLOWS / "approval.yaml"))
    assert (waiting["status"], waiting["steps"]["release"]["status"]) == ("waiting", "waiting")
    done = workspace.run_json("approve", waiting["execution_id"], "release", "--comment", "go")
    assert done["status"] == "succeeded"
    assert done["steps"]["release"]["outputs"]["decision"] == "approved"


def test_a_rejection_fails_the_execution(workspace: Workspace) -> None:
    waiting = workspace.run_json("run", str(WORKFLOWS / "approval.yaml"))
    done = workspace.run_json("approve", waiting["execution_id"], "release", "--reject", expect=1)
    assert done["steps"]["release"]["status"] == "failed"
    assert done["steps"]["publish"]["status"] == "skipped"


def test_cancel_stops_a_waiting_execution(workspace: Workspace) -> None:
    waiting = workspace.run_json("run", str(WORKFLOWS / "approval.yaml"))
    result = workspace.baton("cancel", waiting["execution_id"])
    assert result.returncode == 0, result.stderr
    assert workspace.run_json("status", waiting["execution_id"])["status"] == "cancelled"
    again = workspace.baton("cancel", waiting["execution_id"])
    assert again.returncode == 2
    assert "already ended" in again.stderr


def test_unknown_executions_are_usage_errors(workspace: Workspace) -> None:
    for command in (["status", "nope"], ["resume", "nope"], ["logs", "nope"]):
        result = workspace.baton(*command)
        assert result.returncode == 2, command
        assert "no execution 'nope'" in result.stderr


def test_a_timeout_kills_the_step_and_its_children(workspace: Workspace) -> None:
    workspace.write(
        "w.yaml",
        "name: t\nsteps:\n  - id: slow\n    timeout: 0.5s\n    command: |\n"
        "      sleep 30 &\n      echo $! > child.pid\n      sleep 30\n",
    )
    record = workspace.run_json("run", "w.yaml", expect=1)
    assert record["steps"]["slow"]["error"] == "timed out after 0.5s"
    child = int((workspace.path / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while _running(child):
        assert time.monotonic() < deadline, "the background child outlived the timeout"
        time.sleep(0.05)


def _running(pid: int) -> bool:
    try:
        return ") Z " not in Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
