"""``SqliteStateStore``: executions and step records in one SQLite file.

WAL mode lets readers (``baton status``) run beside a writer; every state change is one
transaction whose ``WHERE version = ?`` makes it conditional. ``synchronous=NORMAL`` skips
the fsync at each commit: in WAL mode a committed transaction survives a crash of the
process (the WAL is in the OS page cache); only a power cut can lose the last commits.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from baton.engine.records import PENDING, ExecutionRecord, StepRecord, with_hand_offs
from baton.engine.summary import (
    ExecutionSummary,
    StepSummary,
    digest,
    duration,
    failure_line,
    summarize_step,
    usage_in,
)
from baton.errors import ExecutionNotFoundError, StateConflictError, StateStoreError
from baton.ports import DefinitionVersion

_P = ParamSpec("_P")
_R = TypeVar("_R")

SCHEMA_VERSION = 4
# A step's summary (``baton.engine.summary``) in columns beside its record, written with it,
# so a history read decodes no record: the figures read these, the engine reads ``data``. An
# index covers them, so the read never touches the records' pages however big the records
# are. The file of an earlier version gains them on first open (and a full refill of them).
_SUMMARY_COLUMNS = (
    ("step_id", "TEXT"), ("kind", "TEXT"), ("status", "TEXT"), ("tries", "INTEGER"),
    ("item_count", "INTEGER"), ("cache_hit", "INTEGER"), ("cache_key", "TEXT"), ("failure", "TEXT"),
    ("started_at", "TEXT"), ("finished_at", "TEXT"), ("tokens", "INTEGER"), ("cost_usd", "REAL"),
    ("outputs_digest", "TEXT"), ("hand_off_key", "TEXT"), ("hand_off_version", "INTEGER"),
)  # fmt: skip
_SUMMARY_NAMES = ", ".join(name for name, _ in _SUMMARY_COLUMNS)
_SUMMARY_SET = ", ".join(f"{name} = ?" for name, _ in _SUMMARY_COLUMNS)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS definitions (
    digest TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS executions (
    id TEXT PRIMARY KEY, started_at TEXT, version INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS executions_by_start ON executions (started_at);
CREATE TABLE IF NOT EXISTS steps (
    execution_id TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL,
    data TEXT NOT NULL, {", ".join(f"{name} {kind}" for name, kind in _SUMMARY_COLUMNS)},
    PRIMARY KEY (execution_id, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL, digest TEXT NOT NULL, version TEXT, seen_at TEXT NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY (name, digest)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS slots (
    key TEXT NOT NULL, holder TEXT NOT NULL, PRIMARY KEY (key, holder)) WITHOUT ROWID;
"""
_UPDATE_STEP = (
    f"UPDATE steps SET version = ?, data = ?, {_SUMMARY_SET} WHERE execution_id = ? AND key = ? AND version = ?"
)
_INSERT_STEP = (
    f"INSERT INTO steps (execution_id, key, version, data, {_SUMMARY_NAMES})"
    f" VALUES (?, ?, ?, ?{', ?' * len(_SUMMARY_COLUMNS)})"
)
_REFILL_SUMMARY = f"UPDATE steps SET {_SUMMARY_SET} WHERE execution_id = ? AND key = ?"
# One execution's fields as JSON paths: ten thousand small documents, read in one pass.
_EXECUTION_FIELDS = ", ".join(
    f"json_extract(data, '$.{name}')"
    for name in ("workflow", "definition_digest", "status", "started_at", "finished_at", "no_cache", "inputs")
)


def _close(db: sqlite3.Connection, lock: threading.Lock) -> None:
    with lock:
        db.close()


def _dumps(data: Mapping[str, Any]) -> str:
    # default=str: an output rendered from an odd value must never make a write fail
    return json.dumps(data, separators=(",", ":"), default=str)


def storage_error(path: Path, exc: sqlite3.Error) -> StateStoreError:
    """One line naming the file, what is wrong and what to do."""
    reason = str(exc) or type(exc).__name__
    if "full" in reason:
        advice = "free some disk space, then continue with `baton resume`"
    elif isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        advice = f"the file is damaged; move it aside (mv {path} {path}.broken) to start a new history"
    else:
        advice = "check the file's permissions and the disk, then try again"
    return StateStoreError(f"state file {path}: {reason}; {advice}")


def _translated(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn SQLite's errors into ``StateStoreError`` (conflicts are handled by the method)."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            store = args[0]
            assert isinstance(store, SqliteStateStore)
            raise storage_error(store.path, exc) from exc

    return wrapper


class SqliteStateStore:
    """State store over one SQLite database file (created on first use)."""

    @_translated
    def __init__(self, path: Path, *, busy_timeout_seconds: float = 30.0) -> None:
        self.path = path
        if path.is_file() and path.stat().st_size == 0:
            # SQLite would take an empty file for a new database and start a new history
            # silently; the old one is gone, and the user must know.
            raise StateStoreError(
                f"state file {path} is empty, so the history it held is lost; restore it from a backup, "
                "or remove it to start a new history"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the engine's threads, serialised by a lock: SQLite has one
        # writer at a time anyway, and statements stay prepared in the connection's cache.
        self._db = sqlite3.connect(
            path,
            isolation_level=None,
            check_same_thread=False,
            timeout=busy_timeout_seconds,
            cached_statements=64,
        )
        self._lock = threading.Lock()
        # Closed when the store is dropped, or at the latest when the process exits, once no
        # thread is inside a statement: the last connection to close folds the WAL back into
        # the file and removes it.
        self._closing = weakref.finalize(self, _close, self._db, self._lock)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        if self._db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            with self._transaction():
                # Asked again under the write lock: another process may have just done it.
                if self._db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        self._db.execute(statement)
                    self._add_summaries()
                    self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _add_summaries(self) -> None:
        """Give a file of an earlier version the summary columns, and (re)fill them from the
        records: a file last opened by an earlier version may hold records written without them."""
        present = {row[1] for row in self._db.execute("PRAGMA table_info(steps)")}
        for name, kind in _SUMMARY_COLUMNS:
            if name not in present:
                self._db.execute(f"ALTER TABLE steps ADD COLUMN {name} {kind}")
        self._db.execute(
            f"CREATE INDEX IF NOT EXISTS steps_summaries ON steps (execution_id, key, version, {_SUMMARY_NAMES})"
        )
        rows = self._db.execute("SELECT data FROM steps").fetchall()
        for start in range(0, len(rows), 1000):
            records = [StepRecord.from_data(json.loads(row[0])) for row in rows[start : start + 1000]]
            self._db.executemany(
                _REFILL_SUMMARY, [(*_summary_row(record), record.execution_id, record.key) for record in records]
            )

    def close(self) -> None:
        """Close the connection."""
        self._closing()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading
        # a read lock; busy_timeout makes the second one wait its turn.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- definitions ----------------------------------------------------------------------

    @_translated
    def put_definition(self, digest: str, definition: Mapping[str, Any]) -> None:
        """Store a compiled definition under its digest (idempotent)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO definitions (digest, data) VALUES (?, ?)",
                (digest, _dumps(definition)),
            )

    @_translated
    def get_definition(self, digest: str) -> dict[str, Any] | None:
        """The compiled definition stored under ``digest``, or None."""
        with self._lock:
            row = self._db.execute("SELECT data FROM definitions WHERE digest = ?", (digest,)).fetchone()
        return json.loads(row[0]) if row else None

    # -- definition versions (the ``DefinitionVersions`` port) ------------------------------

    @_translated
    def remember(self, version: DefinitionVersion) -> None:
        """Keep a definition that was run here (its first sighting wins; idempotent)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO versions (name, digest, version, seen_at, source) VALUES (?, ?, ?, ?, ?)",
                (version.name, version.digest, version.version, _iso(version.seen_at), version.source),
            )

    @_translated
    def versions(self, name: str) -> list[DefinitionVersion]:
        """The definitions of ``name`` run here, in the order they were first run; the newest is current."""
        with self._lock:
            rows = self._db.execute(
                "SELECT digest, version, seen_at, source FROM versions WHERE name = ? ORDER BY seen_at, digest",
                (name,),
            ).fetchall()
        found = [DefinitionVersion(name, row[0], row[1], datetime.fromisoformat(row[2]), row[3]) for row in rows]
        return [replace(v, current=i == len(found) - 1) for i, v in enumerate(found)]

    # -- executions -----------------------------------------------------------------------

    @_translated
    def create_execution(self, execution: ExecutionRecord, steps: Sequence[StepRecord]) -> ExecutionRecord:
        """Insert an execution and its step records in one transaction."""
        stored = execution.evolve(version=1)
        with self._lock:
            try:
                with self._transaction() as db:
                    db.execute(
                        "INSERT INTO executions (id, started_at, version, data) VALUES (?, ?, 1, ?)",
                        (stored.execution_id, _iso(stored.started_at), _dumps(stored.to_data())),
                    )
                    db.executemany(_INSERT_STEP, [_insert_row(step) for step in steps])
            except sqlite3.IntegrityError as exc:
                raise StateConflictError(f"execution {execution.execution_id} already exists") from exc
        return stored

    @_translated
    def get_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution; ``ExecutionNotFoundError`` if there is none."""
        with self._lock:
            row = self._db.execute("SELECT data FROM executions WHERE id = ?", (execution_id,)).fetchone()
        if row is None:
            raise ExecutionNotFoundError(f"no execution {execution_id!r} in {self.path}")
        return ExecutionRecord.from_data(json.loads(row[0]))

    @_translated
    def update_execution(self, execution: ExecutionRecord) -> ExecutionRecord:
        """Write a changed execution conditionally on its version."""
        stored = execution.evolve(version=execution.version + 1)
        with self._lock:
            self._update_execution(stored, execution.version)
        return stored

    def _update_execution(self, new: ExecutionRecord, expected_version: int) -> None:
        changed = self._db.execute(
            "UPDATE executions SET version = ?, data = ? WHERE id = ? AND version = ?",
            (new.version, _dumps(new.to_data()), new.execution_id, expected_version),
        ).rowcount
        if changed != 1:
            raise StateConflictError(f"execution {new.execution_id} changed since version {expected_version}")

    @_translated
    def list_executions(self, limit: int = 50) -> list[ExecutionRecord]:
        """The most recently started executions, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM executions ORDER BY started_at DESC, id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [ExecutionRecord.from_data(json.loads(row[0])) for row in rows]

    def list_history(
        self, since: datetime | None = None, workflow: str | None = None
    ) -> list[tuple[ExecutionRecord, list[StepRecord]]]:
        """Executions started since ``since`` with their steps: two indexed reads in total."""
        bound = _iso(since) or ""
        with self._lock:
            executions = self._db.execute(
                "SELECT id, data FROM executions WHERE started_at >= ? ORDER BY started_at DESC, id DESC", (bound,)
            ).fetchall()
            rows = self._db.execute(
                "SELECT s.execution_id, s.data FROM steps s JOIN executions e ON e.id = s.execution_id"
                " WHERE e.started_at >= ?",
                (bound,),
            ).fetchall()
        steps: dict[str, dict[str, StepRecord]] = {}
        for execution_id, data in rows:
            step = StepRecord.from_data(json.loads(data))
            steps.setdefault(execution_id, {})[step.key] = step
        history = []
        for execution_id, data in executions:
            record = ExecutionRecord.from_data(json.loads(data))
            if workflow is None or record.workflow == workflow:
                history.append((record, list(with_hand_offs(steps.get(execution_id, {})).values())))
        return history

    @_translated
    def list_history_summaries(
        self, since: datetime | None = None, workflow: str | None = None
    ) -> list[tuple[ExecutionSummary, dict[str, StepSummary]]]:
        """The summaries of :meth:`list_history` from the summary columns: no record decoded,
        except those of the rare execution with a hand-off still in flight, read whole."""
        bound = _iso(since) or ""
        chosen = "started_at >= ?" + (" AND json_extract(data, '$.workflow') = ?" if workflow is not None else "")
        arguments = (bound,) if workflow is None else (bound, workflow)
        with self._lock:
            executions = self._db.execute(
                f"SELECT id, {_EXECUTION_FIELDS} FROM executions WHERE {chosen} ORDER BY started_at DESC, id DESC",
                arguments,
            ).fetchall()
            rows = self._db.execute(
                f"SELECT execution_id, key, version, {_SUMMARY_NAMES} FROM steps"
                f" WHERE execution_id IN (SELECT id FROM executions WHERE {chosen})",
                arguments,
            ).fetchall()
        steps: dict[str, dict[str, StepSummary]] = {}
        pending: dict[tuple[str, str], int] = {}
        handed: list[tuple[str, str, int]] = []
        # Fifty thousand rows: the loop is written for speed (``duration`` inlined).
        parse, make = datetime.fromisoformat, StepSummary._make
        for (
            execution_id, key, version, step_id, kind, status, tries, item_count, cache_hit, cache_key,
            failure, started, finished, tokens, cost, outputs_digest, hand_key, hand_version,
        ) in rows:  # fmt: skip
            started_at = parse(started) if started else None
            finished_at = parse(finished) if finished else None
            took = max(0.0, (finished_at - started_at).total_seconds()) if started_at and finished_at else None
            records = steps.get(execution_id)
            if records is None:
                records = steps[execution_id] = {}
            records[key] = make((
                execution_id, key, step_id, kind, status, tries, item_count, cache_hit == 1, cache_key, failure,
                started_at, finished_at, took, tokens, cost, outputs_digest,
            ))  # fmt: skip
            if hand_key is not None:
                handed.append((execution_id, hand_key, hand_version))
            if status == PENDING:
                pending[execution_id, key] = version
        # A hand-off applies while its unit is still pending at the named version (see
        # ``with_hand_offs``): such an execution is read whole, so the one rule applies.
        in_flight = {eid for eid, key, version in handed if pending.get((eid, key)) == version}
        history = []
        for execution_id, name, digest_, status, started, finished, no_cache, inputs in executions:
            if execution_id in in_flight:
                steps[execution_id] = {key: summarize_step(r) for key, r in self.get_steps(execution_id).items()}
            started_at, finished_at = _time(started), _time(finished)
            summary = ExecutionSummary(
                execution_id, name, digest_, status, started_at, finished_at, duration(started_at, finished_at),
                bool(no_cache), inputs if inputs is not None else "{}",
            )  # fmt: skip
            history.append((summary, steps.get(execution_id, {})))
        return history

    # -- steps ----------------------------------------------------------------------------

    @_translated
    def get_steps(self, execution_id: str) -> dict[str, StepRecord]:
        """Every record of the execution by key."""
        with self._lock:
            rows = self._db.execute("SELECT data FROM steps WHERE execution_id = ?", (execution_id,)).fetchall()
        records = (StepRecord.from_data(json.loads(row[0])) for row in rows)
        return with_hand_offs({record.key: record for record in records})

    @_translated
    def commit(
        self,
        updates: Sequence[StepRecord],
        inserts: Sequence[StepRecord] = (),
        execution: ExecutionRecord | None = None,
    ) -> tuple[list[StepRecord], ExecutionRecord | None]:
        """Apply conditional step updates, inserts and an execution update atomically."""
        stored = [record.evolve(version=record.version + 1) for record in updates]
        new_execution = execution.evolve(version=execution.version + 1) if execution else None
        with self._lock:
            if len(stored) == 1 and not inserts and execution is None:
                # The hot path (claim, complete): one statement is one transaction.
                self._update(stored[0], updates[0].version)
            else:
                with self._transaction():
                    for new, old in zip(stored, updates, strict=True):
                        self._update(new, old.version)
                    self._insert(inserts)
                    if execution is not None and new_execution is not None:
                        self._update_execution(new_execution, execution.version)
        inserted = [record.evolve(version=1) for record in inserts]
        return [*stored, *inserted], new_execution

    def _update(self, new: StepRecord, expected_version: int) -> None:
        changed = self._db.execute(
            _UPDATE_STEP,
            (new.version, _dumps(new.to_data()), *_summary_row(new), new.execution_id, new.key, expected_version),
        ).rowcount
        if changed != 1:
            raise StateConflictError(f"step {new.key} of {new.execution_id} changed since version {expected_version}")

    def _insert(self, inserts: Sequence[StepRecord]) -> None:
        try:
            self._db.executemany(_INSERT_STEP, [_insert_row(record) for record in inserts])
        except sqlite3.IntegrityError as exc:
            raise StateConflictError("a step record to insert already exists") from exc

    @_translated
    def renew_lease(self, step: StepRecord, expires_at: datetime) -> bool:
        """Extend the lease of a running step still at the holder's version."""
        renewed = step.evolve(lease_expires_at=expires_at)
        with self._lock:
            changed = self._db.execute(
                "UPDATE steps SET data = ? WHERE execution_id = ? AND key = ? AND version = ?",
                (_dumps(renewed.to_data()), step.execution_id, step.key, step.version),
            ).rowcount
        return changed == 1

    # -- admission ------------------------------------------------------------------------

    def take_slot(self, key: str, holder: str, limit: int) -> bool:
        """Join the holders of ``key`` if there is room (one write transaction: the database's
        write lock makes the count and the insert one step for every process)."""
        with self._lock, self._transaction() as db:
            if db.execute("SELECT 1 FROM slots WHERE key = ? AND holder = ?", (key, holder)).fetchone():
                return True
            (count,) = db.execute("SELECT COUNT(*) FROM slots WHERE key = ?", (key,)).fetchone()
            if count >= limit:
                return False
            db.execute("INSERT INTO slots (key, holder) VALUES (?, ?)", (key, holder))
            return True

    def release_slot(self, key: str, holder: str) -> None:
        """Leave the holders of ``key``."""
        with self._lock:
            self._db.execute("DELETE FROM slots WHERE key = ? AND holder = ?", (key, holder))

    def slot_holders(self, key: str) -> list[str]:
        """The holders of ``key``."""
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT holder FROM slots WHERE key = ?", (key,))]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _summary_row(record: StepRecord) -> tuple[Any, ...]:
    """The summary columns' values for ``record`` (in ``_SUMMARY_COLUMNS`` order)."""
    tokens, cost = usage_in(record.outputs)
    hand = record.hand_off or {}
    return (
        record.step_id, record.kind, record.status, record.tries, record.item_count, int(record.cache_hit),
        record.cache_key, failure_line(record.error, record.error_kind), _iso(record.started_at),
        _iso(record.finished_at), tokens, cost, digest(record.outputs), hand.get("key"), hand.get("version"),
    )  # fmt: skip


def _insert_row(record: StepRecord) -> tuple[Any, ...]:
    data = record.to_data()
    data["version"] = 1  # as stored: no copy of the record is needed for that
    return (record.execution_id, record.key, 1, _dumps(data), *_summary_row(record))
