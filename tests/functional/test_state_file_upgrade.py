"""A state file written before the step summaries had their own columns (schema version 3)
keeps working: the first open adds the columns and fills them from the records, nothing
recorded changes, and ``baton stats`` reads the same figures as from a file written now."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from baton_cli import Workspace

from baton.adapters.local.sqlite_state import SCHEMA_VERSION, SqliteStateStore
from baton.engine.summary import summarize

WORKFLOW = """name: upgrade
steps:
  - id: prepare
    command: echo ready
  - id: fan
    for_each: "{{ [1, 2, 3] }}"
    command: "test {{ item }} != 2 || exit 3"
  - id: last
    needs: [prepare]
    command: echo done
"""
VERSION_3 = """
CREATE TABLE definitions (digest TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE executions (id TEXT PRIMARY KEY, started_at TEXT, version INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX executions_by_start ON executions (started_at);
CREATE TABLE steps (
    execution_id TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (execution_id, key)) WITHOUT ROWID;
CREATE TABLE versions (
    name TEXT NOT NULL, digest TEXT NOT NULL, version TEXT, seen_at TEXT NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY (name, digest)) WITHOUT ROWID;
CREATE TABLE slots (key TEXT NOT NULL, holder TEXT NOT NULL, PRIMARY KEY (key, holder)) WITHOUT ROWID;
PRAGMA user_version = 3;
"""
TABLES = ("definitions", "executions", "versions")


@pytest.fixture
def current(tmp_path: Path) -> Workspace:
    """A state folder with a few real runs (one fails), written by this version."""
    (tmp_path / "current").mkdir()
    space = Workspace(tmp_path / "current")
    space.write("w.yaml", WORKFLOW)
    for _ in range(3):
        space.baton("run", "w.yaml")
    return space


def as_version_3(current: Path, older: Path) -> None:
    """The same records in a file laid out as version 3 wrote it."""
    older.parent.mkdir(parents=True)
    db = sqlite3.connect(older)
    db.executescript(VERSION_3)
    source = sqlite3.connect(current)
    for table in TABLES:
        rows = source.execute(f"SELECT * FROM {table}").fetchall()
        if rows:
            db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    db.executemany(
        "INSERT INTO steps VALUES (?, ?, ?, ?)", source.execute("SELECT execution_id, key, version, data FROM steps")
    )
    db.commit()
    db.close()
    source.close()


def records(path: Path) -> dict[str, Any]:
    db = sqlite3.connect(path)
    try:
        found = {table: sorted(db.execute(f"SELECT * FROM {table}").fetchall()) for table in TABLES}
        found["steps"] = sorted(db.execute("SELECT execution_id, key, version, data FROM steps").fetchall())
        return found
    finally:
        db.close()


def stats(space: Workspace, state_dir: Path) -> dict[str, Any]:
    result = space.baton("stats", "--json", "--state-dir", str(state_dir))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    document.pop("since")
    return dict(document)


def test_a_version_3_file_is_upgraded_and_reads_the_same(current: Workspace, tmp_path: Path) -> None:
    older = tmp_path / "older" / ".baton" / "state.db"
    as_version_3(current.state_dir / "state.db", older)
    before = records(older)

    upgraded = stats(current, older.parent)

    assert upgraded == stats(current, current.state_dir)
    assert upgraded["executions"] == 3
    assert upgraded["workflows"][0]["failures"]
    assert records(older) == before  # nothing recorded changed
    db = sqlite3.connect(older)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT 1 FROM sqlite_master WHERE name = 'steps_summaries'").fetchone()  # the read's index
    db.close()
    store = SqliteStateStore(older)
    history = store.list_history()
    assert store.list_history_summaries() == [summarize(e, {r.key: r for r in steps}) for e, steps in history]
    listed = current.baton("list", "--json", "--state-dir", str(older.parent))
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 3


def test_summaries_left_stale_by_an_earlier_version_are_refilled(current: Workspace) -> None:
    path = current.state_dir / "state.db"
    expected = stats(current, current.state_dir)
    db = sqlite3.connect(path)
    # An earlier version opening the file sets its own schema version and writes records
    # without their summaries.
    db.execute("UPDATE steps SET status = 'pending', tries = NULL, started_at = NULL")
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()

    assert stats(current, current.state_dir) == expected
