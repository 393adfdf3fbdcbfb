"""In a chain, the next step's process starts as soon as the step before it has exited, and
that step's end is recorded and committed while the next one runs.

The end and the next step's claim are one write (the hand-off); the driver starts the next
process first and commits that write while it runs. These tests pin down what this must not
change: a driver that dies between the start and the commit leaves no process behind after a
takeover, a commit that loses a race stops the process it started and records nothing of
it, a step that fails after its process exited with 0 stops the next step's process, and a
next step that depends on how the one before ended waits for that end. Real processes, real
SQLite.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from baton_cli import Workspace, alive, first_outputs_fail, step_events

from baton.adapters.local.sqlite_state import SqliteStateStore
from baton.bootstrap import local_engine
from baton.engine import driver
from baton.engine.executor import Executor
from baton.engine.records import RUNNING, SUCCEEDED, StepRecord
from baton.steps import shell

CHAIN = """
name: chain
steps:
  - id: a
    command: echo a >> ran.log
  - id: b
    command: |
      echo b-start >> ran.log
      if [ ! -e b.once ]; then
        touch b.once
        echo $$ > b.pid
        sleep 60
      fi
      echo b-end >> ran.log
"""

# Runs ``baton`` with the state store's commit patched to kill the process, as a crash
# would, on the first write that carries a hand-off: by then the next step's process runs.
CRASH_AT_THE_COMMIT = """
import os, signal, sys
from baton.adapters.local import sqlite_state

commit = sqlite_state.SqliteStateStore.commit

def crash(self, updates, inserts=(), execution=None):
    if any(record.hand_off for record in updates):
        os.kill(os.getpid(), signal.SIGKILL)
    return commit(self, updates, inserts, execution)

sqlite_state.SqliteStateStore.commit = crash
from baton.cli.main import main
sys.argv = ["baton", *sys.argv[1:]]
main()
"""


def _wait_for(path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def test_a_driver_killed_before_its_commit_leaves_no_process_after_a_takeover(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.write("chain.yaml", CHAIN)
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_AT_THE_COMMIT, "run", "chain.yaml"],
        cwd=tmp_path, env=workspace.environment(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    _wait_for(tmp_path / "b.pid")
    leftover = int((tmp_path / "b.pid").read_text())
    assert alive(leftover), "the next step's process was started before the commit"
    execution_id = workspace.latest_execution()
    before = workspace.run_json("status", execution_id)
    assert before["steps"]["a"]["status"] == "running", "the end of a was never stored"
    assert before["steps"]["b"]["status"] == "pending", "nor the claim of b"

    started = time.monotonic()
    after = workspace.run_json("resume", execution_id)

    assert after["status"] == "succeeded"
    assert time.monotonic() - started < 30, "the resume waited for the leftover process"
    assert not alive(leftover), "the takeover stopped the process started on a claim never stored"
    ran = workspace.lines("ran.log")
    assert ran.count("a") == 2, "a step whose end was not stored runs again, as after any crash"
    assert ran.count("b-start") == 2
    assert ran.count("b-end") == 1, "the leftover process never went on"


def _start(tmp_path: Path, text: str) -> tuple[Any, str]:
    engine = local_engine(tmp_path / "state")
    path = tmp_path / "chain.yaml"
    path.write_text(text)
    definition, digest = engine.load(path)
    return engine, engine.start(definition, digest, {}, workspace=tmp_path).execution_id


def test_the_end_of_a_step_is_committed_while_the_next_process_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, execution_id = _start(
        tmp_path, "name: c\nsteps:\n  - {id: a, command: 'true'}\n  - {id: b, command: 'true'}\n"
    )
    reader = SqliteStateStore(tmp_path / "state" / "state.db")
    seen: dict[str, str] = {}
    spawn = shell._spawn

    def spawned(argv: list[str], env: dict[str, str], *args: Any) -> int | None:
        pid = spawn(argv, env, *args)
        seen[env["BATON_STEP_KEY"]] = reader.get_steps(execution_id)["a"].status
        return pid

    monkeypatch.setattr(shell, "_spawn", spawned)
    assert engine.drive(execution_id).status == SUCCEEDED
    assert seen == {"a": RUNNING, "b": RUNNING}, "when b started, the end of a was not yet stored"
    assert reader.get_steps(execution_id)["a"].status == SUCCEEDED


def test_a_commit_that_loses_a_race_stops_the_process_it_started_and_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "name: c\nsteps:\n  - {id: a, command: 'echo a >> ran.log'}\n"
        "  - {id: b, command: 'echo b-start >> ran.log; sleep 1; echo b-end >> ran.log'}\n"
    )
    engine, execution_id = _start(tmp_path, text)
    other = SqliteStateStore(tmp_path / "state" / "state.db")
    commit = SqliteStateStore.commit
    raced: list[StepRecord] = []

    def racing(self: SqliteStateStore, updates: Any, inserts: Any = (), execution: Any = None) -> Any:
        if self is not other and not raced and any(record.hand_off for record in updates):
            # Another worker took a over, ended it first and claimed b, then died (its lease
            # has run out: this driver takes b over and runs it once more).
            theirs = other.get_steps(execution_id)
            raced.append(theirs["a"].evolve(status=SUCCEEDED, lease_owner=None, lease_expires_at=None))
            raced.append(theirs["b"].evolve(status=RUNNING, lease_owner="elsewhere:1:x", attempt=1, tries=1,
                                            lease_expires_at=datetime.now(UTC) - timedelta(seconds=1)))  # fmt: skip
            other.commit(raced)
        return commit(self, updates, inserts, execution)

    monkeypatch.setattr(SqliteStateStore, "commit", racing)
    started = time.monotonic()
    ended = engine.drive(execution_id)

    assert raced, "the race was never run"
    assert ended.status == SUCCEEDED
    assert time.monotonic() - started < 10
    steps = other.get_steps(execution_id)
    assert steps["a"].status == SUCCEEDED
    assert steps["a"].lease_owner is None
    assert steps["b"].status == SUCCEEDED
    assert steps["b"].attempt == 2, "the stopped start left no attempt"
    ran = (tmp_path / "ran.log").read_text().split()
    assert ran.count("a") == 1
    assert ran.count("b-end") == 1, "the process started on the lost claim went on beside the other worker's"


def test_the_next_step_starts_as_soon_as_the_one_before_has_exited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "name: c\nsteps:\n" + "".join(f"  - {{id: s{i}, command: 'true'}}\n" for i in range(3))
    engine, execution_id = _start(tmp_path, text)
    events = step_events(monkeypatch)

    assert engine.drive(execution_id).status == SUCCEEDED

    assert events == ["start s0", "start s1", "end s0", "start s2", "end s1", "end s2"]
    folder = tmp_path / "state" / "logs" / execution_id
    assert list(folder.iterdir()) == [], "the logs of the steps that printed nothing were given back"


# Where the next step must wait for the end of the one before: it reads that end, or the
# step before may fail although its process exited with 0.
WAITS = {
    "reads the outcome": "  - {id: a, command: 'true'}\n  - {id: b, command: 'echo {{ steps.a.status }}'}\n",
    "has a condition": (
        "  - {id: a, command: 'true'}\n  - {id: b, command: 'true', when: steps.a.outputs.exit_code == 0}\n"
    ),
    "follows an output file": ("  - {id: a, command: 'echo x=1 >> \"$BATON_OUTPUT\"'}\n  - {id: b, command: 'true'}\n"),
    "follows a declared output": "  - {id: a, command: 'touch f', outputs: {f: f}}\n  - {id: b, command: 'true'}\n",
    "follows a cached step": "  - {id: a, command: 'true', use_cache: true}\n  - {id: b, command: 'true'}\n",
}


@pytest.mark.parametrize("case", sorted(WAITS), ids=sorted(WAITS))
def test_a_next_step_that_depends_on_how_the_one_before_ended_waits_for_that_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    engine, execution_id = _start(tmp_path, f"name: c\nsteps:\n{WAITS[case]}")
    events = step_events(monkeypatch)

    assert engine.drive(execution_id).status == SUCCEEDED

    assert events == ["start a", "end a", "start b", "end b"]


def test_a_next_step_started_for_a_step_that_then_fails_is_stopped_and_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "name: c\nsteps:\n  - {id: a, command: 'true'}\n"
        "  - id: b\n    command: |\n      echo $$ > b.pid\n      sleep 30\n      echo b-end >> ran.log\n"
    )
    engine, execution_id = _start(tmp_path, text)
    events = step_events(monkeypatch)
    first_outputs_fail(monkeypatch, "the artifact store is out of reach")  # a's process exits with 0, then this fails
    started = time.monotonic()
    ended = engine.drive(execution_id)

    assert time.monotonic() - started < 10, "the drive waited for b"
    assert events[:2] == ["start a", "start b"], "b was started as a exited"
    assert ended.status == "failed"
    steps = engine.ports.store.get_steps(execution_id)
    assert steps["a"].status == "failed"
    assert "out of reach" in (steps["a"].error or "")
    assert steps["b"].attempt == 0, "nothing of b's start was recorded"
    pid = tmp_path / "b.pid"
    assert not pid.exists() or not alive(int(pid.read_text() or 0)), "b's process was stopped"
    assert not (tmp_path / "ran.log").exists()
    folder = tmp_path / "state" / "logs" / execution_id
    assert [p.name for p in folder.iterdir() if p.name.startswith("b.")] == [], "b's empty logs were removed"


def _plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many plans the driver makes for a chain of three quiet steps."""
    engine, execution_id = _start(
        tmp_path, "name: c\nsteps:\n" + "".join(f"  - {{id: s{i}, command: 'true'}}\n" for i in range(3))
    )
    made: list[int] = []
    plan = driver.plan

    def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return plan(*args, **kwargs)

    monkeypatch.setattr(driver, "plan", counted)
    assert engine.drive(execution_id).status == SUCCEEDED
    monkeypatch.setattr(driver, "plan", plan)
    return len(made)


def test_the_next_step_chosen_while_a_step_runs_is_chosen_again_only_if_no_record_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unchanged = _plans(tmp_path / "one", monkeypatch)
    plan_early = Executor._plan_early

    def then_changed(self: Executor) -> None:
        plan_early(self)
        for flight in list(self.in_flight.values()):
            self.remember(self.records[flight.record.key])  # kept again: the choice must be made again

    monkeypatch.setattr(Executor, "_plan_early", then_changed)
    changed = _plans(tmp_path / "two", monkeypatch)

    assert changed == unchanged + 2, "s0's and s1's ends planned again; s2 has no next step to reuse"
