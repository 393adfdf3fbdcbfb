"""Runs workflow text through the real engine on fake ports (memory state, fake clock)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine_fakes import FakeClock, MemoryStateStore, fake_ports

from baton.engine.records import ExecutionRecord, StepRecord
from baton.engine.service import Engine


@dataclass
class Harness:
    """An engine whose workspace and state live under one temporary folder."""

    root: Path
    clock: FakeClock
    engine: Engine

    @classmethod
    def create(cls, root: Path, secrets: dict[str, str] | None = None) -> Harness:
        clock = FakeClock()
        ports = fake_ports(root, clock=clock, secrets=secrets)
        (root / "ws").mkdir(exist_ok=True)
        return cls(root, clock, Engine(ports, base_env=dict(os.environ)))

    @property
    def workspace(self) -> Path:
        return self.root / "ws"

    @property
    def store(self) -> MemoryStateStore:
        store = self.engine.ports.store
        assert isinstance(store, MemoryStateStore)
        return store

    def start(self, text: str, inputs: dict[str, Any] | None = None, *, no_cache: bool = False) -> ExecutionRecord:
        path = self.root / "workflow.yaml"
        path.write_text(text)
        definition, digest = self.engine.load(path)
        return self.engine.start(definition, digest, inputs or {}, workspace=self.workspace, no_cache=no_cache)

    def run(self, text: str, inputs: dict[str, Any] | None = None, *, no_cache: bool = False) -> ExecutionRecord:
        execution = self.start(text, inputs, no_cache=no_cache)
        return self.engine.drive(execution.execution_id)

    def steps(self, execution: ExecutionRecord) -> dict[str, StepRecord]:
        return self.store.get_steps(execution.execution_id)

    def document(self, execution: ExecutionRecord) -> dict[str, Any]:
        return self.engine.document(execution.execution_id)
