"""Storage faults give one clear line naming the state file and what to do, never a
traceback, and never change what is already recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from baton_cli import Workspace

from baton.adapters.local.sqlite_state import SqliteStateStore
from baton.engine.records import ExecutionRecord
from baton.errors import StateStoreError

HELLO = "name: w\nsteps:\n  - id: a\n    command: echo hi\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    space = Workspace(tmp_path)
    space.write("w.yaml", HELLO)
    space.run_json("run", "w.yaml")
    return space


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "garbled":
        path.write_bytes(b"this is not a database" + data[22:])
    elif how == "truncated":
        path.write_bytes(data[:100])
    else:
        path.write_bytes(b"")


@pytest.mark.parametrize("how", ["garbled", "truncated", "empty"])
@pytest.mark.parametrize("command", [["list"], ["status", "latest"], ["run", "w.yaml"]], ids=["list", "status", "run"])
def test_a_damaged_state_file_gives_one_line_and_changes_nothing(
    workspace: Workspace, how: str, command: list[str]
) -> None:
    database = workspace.state_dir / "state.db"
    for extra in ("state.db-wal", "state.db-shm"):
        (workspace.state_dir / extra).unlink(missing_ok=True)
    _damage(database, how)
    before = database.read_bytes()

    result = workspace.baton(*command)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(database) in lines[0]
    assert ("empty" if how == "empty" else "move it aside") in lines[0]
    assert database.read_bytes() == before


def test_a_full_disk_during_a_write_is_a_clear_error_and_keeps_the_record(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    now = datetime.now(UTC)
    execution = store.create_execution(
        ExecutionRecord(execution_id="e1", workflow="w", definition_digest="d", status="running", started_at=now),
        [],
    )
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own 'disk full' (SQLITE_FULL)

    with pytest.raises(StateStoreError, match=r"state\.db: database or disk is full; free some disk space"):
        store.update_execution(execution.evolve(status="succeeded", error="x" * 200_000))

    assert SqliteStateStore(tmp_path / "state.db").get_execution("e1").status == "running"
