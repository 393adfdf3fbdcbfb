"""A step that is all its execution does just then runs on the driver's own thread, which
saves the hand-over to a worker thread and back; meanwhile the driver still renews the
step's lease and looks for a cancel, and a failure of its own stops the step and records
nothing, as when it waits for a worker thread. Real processes, real SQLite."""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from baton.adapters.local.sqlite_state import SqliteStateStore
from baton.bootstrap import local_engine
from baton.engine.driver import Driver
from baton.engine.records import ExecutionRecord
from baton.engine.service import Engine
from baton.errors import StateStoreError
from baton.steps import shell


def _start(engine: Engine, folder: Path, text: str) -> ExecutionRecord:
    path = folder / "workflow.yaml"
    path.write_text(text)
    definition, digest = engine.load(path)
    return engine.start(definition, digest, {}, workspace=folder)


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The thread each shell step's process was waited on, by step key."""
    seen: dict[str, str] = {}
    execute = shell._execute

    def recorded(*args: Any, **kwargs: Any) -> Any:
        seen[kwargs["invocation"].step_key] = threading.current_thread().name
        return execute(*args, **kwargs)

    monkeypatch.setattr(shell, "_execute", recorded)
    return seen


def test_a_chain_runs_on_the_driver_thread_and_steps_side_by_side_on_workers(
    tmp_path: Path, threads: dict[str, str]
) -> None:
    engine = local_engine(tmp_path / "state")
    text = (
        "name: shape\nsteps:\n  - {id: a, command: 'true'}\n  - {id: b, command: 'true'}\n"
        "  - {id: c, command: 'sleep 0.2', needs: [b]}\n  - {id: d, command: 'sleep 0.2', needs: [b]}\n"
        "  - {id: e, command: 'true', needs: [c, d]}\n"
    )
    execution = _start(engine, tmp_path, text)
    assert engine.drive(execution.execution_id).status == "succeeded"
    driver = threading.current_thread().name
    assert {key: name == driver for key, name in threads.items()} == {
        "a": True, "b": True, "c": False, "d": False, "e": True,
    }  # fmt: skip


def test_the_lease_of_a_step_on_the_driver_thread_is_renewed(tmp_path: Path, threads: dict[str, str]) -> None:
    engine = local_engine(tmp_path / "state")
    engine.lease_seconds = 1.5
    execution = _start(engine, tmp_path, "name: lease\nsteps:\n  - {id: slow, command: sleep 2.5}\n")
    leases: list[Any] = []
    done = threading.Event()

    def read() -> None:  # another connection, as `baton status` would read it
        reader = SqliteStateStore(tmp_path / "state" / "state.db")
        while not done.is_set():
            record = reader.get_steps(execution.execution_id)["slow"]
            if record.status == "running":
                leases.append((record.started_at, record.lease_expires_at))
            time.sleep(0.05)

    watcher = threading.Thread(target=read)
    watcher.start()
    try:
        ended = engine.drive(execution.execution_id)
    finally:
        done.set()
        watcher.join()
    assert ended.status == "succeeded"
    assert threads["slow"] == threading.current_thread().name
    started, latest = max(leases, key=lambda seen: seen[1])
    assert latest > started + timedelta(seconds=engine.lease_seconds + 0.5), "the lease was never renewed"


def test_a_failure_of_the_driver_stops_the_step_on_its_thread_and_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: dict[str, str]
) -> None:
    engine = local_engine(tmp_path / "state")
    text = "name: broken\nsteps:\n  - id: slow\n    command: |\n      echo $$ > step.pid\n      sleep 30\n"
    execution = _start(engine, tmp_path, text)
    store = engine.ports.store
    read_execution: Callable[[str], ExecutionRecord] = store.get_execution

    def unreadable(execution_id: str) -> ExecutionRecord:
        if (tmp_path / "step.pid").exists():
            raise StateStoreError("state file state.db: disk I/O error; check the disk, then try again")
        return read_execution(execution_id)

    monkeypatch.setattr(store, "get_execution", unreadable)
    started = time.monotonic()
    with pytest.raises(StateStoreError, match="disk I/O error"):
        engine.drive(execution.execution_id)
    assert time.monotonic() - started < 10, "the step was not stopped"
    assert threads["slow"] == threading.current_thread().name
    pid = int((tmp_path / "step.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    record = SqliteStateStore(tmp_path / "state" / "state.db").get_steps(execution.execution_id)["slow"]
    assert record.status == "running", "nothing is recorded: a resume takes the step over"


def test_without_pidfds_a_thread_waits_for_the_process_and_the_driver_still_watches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: dict[str, str]
) -> None:
    monkeypatch.delattr(os, "pidfd_open")  # as on macOS
    watched: list[float] = []
    watch = Driver._watch
    monkeypatch.setattr(Driver, "_watch", lambda self: watched.append(time.monotonic()) or watch(self))
    engine = local_engine(tmp_path / "state")
    execution = _start(engine, tmp_path, "name: mac\nsteps:\n  - {id: slow, command: 'sleep 0.35; exit 3'}\n")
    assert engine.drive(execution.execution_id).status == "failed"
    record = SqliteStateStore(tmp_path / "state" / "state.db").get_steps(execution.execution_id)["slow"]
    assert (record.status, record.outputs["exit_code"]) == ("failed", 3)
    assert threads["slow"] == threading.current_thread().name
    assert len(watched) >= 2, "the driver was not called while the process ran"


def test_a_step_is_watched_when_the_driver_holds_more_than_1024_descriptors(
    tmp_path: Path, threads: dict[str, str]
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip(f"this machine allows only {hard} open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]  # the step's pidfd comes after them
    try:
        engine = local_engine(tmp_path / "state")
        execution = _start(engine, tmp_path, "name: fds\nsteps:\n  - {id: a, command: sleep 0.2}\n")
        assert engine.drive(execution.execution_id).status == "succeeded"
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert threads["a"] == threading.current_thread().name


class _Events:
    """The observer's notices and the shell's process starts, in the order they happened."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.seen: list[str] = []
        self.fail_on = fail_on

    def step_changed(self, unit: Any, record: Any) -> None:
        self.seen.append(f"{record.key} {record.status}")
        if f"{record.key} {record.status}" == self.fail_on:
            raise RuntimeError("the progress view broke")

    def execution_changed(self, execution: Any) -> None:
        self.seen.append(f"execution {execution.status}")


@pytest.fixture
def spawns(monkeypatch: pytest.MonkeyPatch) -> Callable[[_Events], None]:
    def attach(events: _Events) -> None:
        start = shell._start

        def recorded(argv: list[str], *args: Any, **kwargs: Any) -> Any:
            started = start(argv, *args, **kwargs)
            events.seen.append(f"process {argv[-1]}")
            return started

        monkeypatch.setattr(shell, "_start", recorded)

    return attach


def test_the_progress_of_a_chain_is_told_while_the_next_process_runs(
    tmp_path: Path, spawns: Callable[[_Events], None]
) -> None:
    engine = local_engine(tmp_path / "state")
    text = "name: told\nsteps:\n  - {id: a, command: 'true a'}\n  - {id: b, command: 'true b'}\n"
    execution = _start(engine, tmp_path, text)
    events = _Events()
    spawns(events)
    assert engine.drive(execution.execution_id, events).status == "succeeded"
    assert events.seen == [
        "a running",
        "process a",
        "process b",  # a's end and b's start are told once b's process runs
        "a succeeded",
        "b running",
        "b succeeded",
        "execution succeeded",
    ]


def test_an_observer_that_fails_while_the_next_step_runs_does_not_fail_that_step(
    tmp_path: Path, spawns: Callable[[_Events], None]
) -> None:
    engine = local_engine(tmp_path / "state")
    text = "name: broken-view\nsteps:\n  - {id: a, command: 'true a'}\n  - {id: b, command: 'echo b > b.txt'}\n"
    execution = _start(engine, tmp_path, text)
    events = _Events(fail_on="a succeeded")
    spawns(events)
    with pytest.raises(RuntimeError, match="the progress view broke"):
        engine.drive(execution.execution_id, events)
    steps = engine.ports.store.get_steps(execution.execution_id)
    assert (steps["a"].status, steps["b"].status) == ("succeeded", "succeeded"), "b ran to its end and was recorded"
    assert (tmp_path / "b.txt").read_text() == "b\n"


def test_a_step_restored_from_the_cache_is_told_before_the_next_process_starts(
    tmp_path: Path, spawns: Callable[[_Events], None]
) -> None:
    engine = local_engine(tmp_path / "state")
    text = (
        "name: told-cached\nsteps:\n  - {id: x, command: 'true x'}\n"
        "  - {id: a, command: 'true a', use_cache: true}\n  - {id: b, command: 'true b'}\n"
    )
    first = _start(engine, tmp_path, text)
    assert engine.drive(first.execution_id).status == "succeeded"
    again = _start(engine, tmp_path, text)
    events = _Events()
    spawns(events)
    assert engine.drive(again.execution_id, events).status == "succeeded"
    assert events.seen.index("a cached") < events.seen.index("process b"), events.seen
    assert events.seen[-1] == "execution succeeded"
