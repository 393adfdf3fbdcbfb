"""Fakes of the ports for engine tests: an in-memory state store, a clock that only moves
when told (or when the engine sleeps), and a dispatcher that runs tasks at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from baton.adapters.local.fs_artifacts import FilesystemArtifactStore
from baton.engine.records import ExecutionRecord, StepRecord, with_hand_offs
from baton.engine.summary import ExecutionSummary, StepSummary, summarize
from baton.errors import ExecutionNotFoundError, StateConflictError
from baton.ports import NullSupervisor, Ports

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock:
    """Starts at ``EPOCH``; ``sleep`` advances it instead of waiting."""

    def __init__(self, start: datetime = EPOCH) -> None:
        self.current = start
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return (self.current - EPOCH).total_seconds()

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=max(0.0, seconds))


class MemoryStateStore:
    """The state store contract in a few dictionaries (a reference for the real ones)."""

    def __init__(self) -> None:
        self.definitions: dict[str, dict[str, Any]] = {}
        self.executions: dict[str, ExecutionRecord] = {}
        self.steps: dict[tuple[str, str], StepRecord] = {}
        self.writes = 0
        self.slots: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def put_definition(self, digest: str, definition: Mapping[str, Any]) -> None:
        self.definitions.setdefault(digest, dict(definition))

    def get_definition(self, digest: str) -> dict[str, Any] | None:
        return self.definitions.get(digest)

    def create_execution(self, execution: ExecutionRecord, steps: Sequence[StepRecord]) -> ExecutionRecord:
        with self._lock:
            if execution.execution_id in self.executions:
                raise StateConflictError(execution.execution_id)
            stored = execution.evolve(version=1)
            self.executions[execution.execution_id] = stored
            for step in steps:
                self.steps[(step.execution_id, step.key)] = step.evolve(version=1)
            self.writes += 1
            return stored

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        try:
            return self.executions[execution_id]
        except KeyError:
            raise ExecutionNotFoundError(execution_id) from None

    def update_execution(self, execution: ExecutionRecord) -> ExecutionRecord:
        _, stored = self.commit([], (), execution)
        assert stored is not None
        return stored

    def list_executions(self, limit: int = 50) -> list[ExecutionRecord]:
        ordered = sorted(self.executions.values(), key=lambda e: (e.started_at or EPOCH, e.execution_id), reverse=True)
        return ordered[:limit]

    def list_history(
        self, since: datetime | None = None, workflow: str | None = None
    ) -> list[tuple[ExecutionRecord, list[StepRecord]]]:
        chosen = [
            e for e in self.list_executions(len(self.executions))
            if (since is None or (e.started_at is not None and e.started_at >= since))
            and (workflow is None or e.workflow == workflow)
        ]  # fmt: skip
        return [(e, list(self.get_steps(e.execution_id).values())) for e in chosen]

    def list_history_summaries(
        self, since: datetime | None = None, workflow: str | None = None
    ) -> list[tuple[ExecutionSummary, dict[str, StepSummary]]]:
        return [summarize(e, {r.key: r for r in records}) for e, records in self.list_history(since, workflow)]

    def get_steps(self, execution_id: str) -> dict[str, StepRecord]:
        return with_hand_offs({key: record for (eid, key), record in self.steps.items() if eid == execution_id})

    def commit(
        self,
        updates: Sequence[StepRecord],
        inserts: Sequence[StepRecord] = (),
        execution: ExecutionRecord | None = None,
    ) -> tuple[list[StepRecord], ExecutionRecord | None]:
        with self._lock:
            for record in updates:
                current = self.steps.get((record.execution_id, record.key))
                if current is None or current.version != record.version:
                    raise StateConflictError(record.key)
            for record in inserts:
                if (record.execution_id, record.key) in self.steps:
                    raise StateConflictError(record.key)
            if execution is not None:
                current_execution = self.executions.get(execution.execution_id)
                if current_execution is None or current_execution.version != execution.version:
                    raise StateConflictError(execution.execution_id)
            stored = [r.evolve(version=r.version + 1) for r in updates] + [r.evolve(version=1) for r in inserts]
            for record in stored:
                self.steps[(record.execution_id, record.key)] = record
            new_execution = None
            if execution is not None:
                new_execution = execution.evolve(version=execution.version + 1)
                self.executions[execution.execution_id] = new_execution
            self.writes += 1
            return stored, new_execution

    def renew_lease(self, step: StepRecord, expires_at: datetime) -> bool:
        with self._lock:
            current = self.steps.get((step.execution_id, step.key))
            if current is None or current.version != step.version:
                return False
            self.steps[(step.execution_id, step.key)] = current.evolve(lease_expires_at=expires_at)
            return True

    def take_slot(self, key: str, holder: str, limit: int) -> bool:
        with self._lock:
            holders = self.slots.setdefault(key, set())
            if holder in holders or len(holders) < limit:
                holders.add(holder)
                return True
            return False

    def release_slot(self, key: str, holder: str) -> None:
        with self._lock:
            self.slots.get(key, set()).discard(holder)

    def slot_holders(self, key: str) -> list[str]:
        with self._lock:
            return sorted(self.slots.get(key, set()))


class InlineDispatcher:
    """Runs each task as it is submitted; ``collect`` hands the results back."""

    def __init__(self) -> None:
        self.done: list[tuple[str, Any]] = []

    def submit(self, key: str, task: Callable[[], Any]) -> None:
        try:
            self.done.append((key, task()))
        except Exception as exc:
            self.done.append((key, exc))

    def collect(self, timeout: float | None) -> list[tuple[str, Any]]:
        done, self.done = self.done, []
        return done

    def in_flight(self) -> int:
        return len(self.done)

    def shutdown(self) -> None:
        pass


class FakeSecrets:
    """Resolves ``{env: NAME}`` from a dictionary."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values = dict(values or {})

    def resolve(self, name: str, source: Mapping[str, str]) -> str:
        from baton.errors import SecretError

        if "env" in source and source["env"] in self.values:
            return self.values[source["env"]]
        raise SecretError(f"secret {name} is not set")


def fake_ports(root: Path, *, clock: FakeClock | None = None, secrets: Mapping[str, str] | None = None) -> Ports:
    """Ports for engine tests: memory state, real files under ``root``, inline dispatch."""
    return Ports(
        store=MemoryStateStore(),
        artifacts=FilesystemArtifactStore(root / "state"),
        clock=clock or FakeClock(),
        secrets=FakeSecrets(secrets),
        supervisor=NullSupervisor("test-worker"),
        new_dispatcher=InlineDispatcher,
    )
