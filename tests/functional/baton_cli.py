"""Running the real ``baton`` command in a temporary workspace with its own state dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
BATON = str(Path(sys.executable).with_name("baton"))


@dataclass
class Workspace:
    """A folder steps run in, with the state dir inside it."""

    path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.path / ".baton"

    def command(self, *args: str) -> list[str]:
        return [BATON, *args]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "BATON_STATE_DIR": str(self.state_dir), **self.env}

    def baton(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``baton ARGS`` to its end."""
        return subprocess.run(
            self.command(*args),
            cwd=self.path,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start ``baton ARGS`` without waiting for it."""
        return subprocess.Popen(
            self.command(*args),
            cwd=self.path,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run_json(self, *args: str, expect: int = 0) -> dict[str, Any]:
        """``baton ARGS --json``, checked for its exit code; the execution record."""
        result = self.baton(*args, "--json")
        assert result.returncode == expect, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    def latest_execution(self) -> str:
        result = self.baton("list", "--json", "--limit", "1")
        rows = json.loads(result.stdout)
        assert rows, result.stderr
        return str(rows[0]["execution_id"])

    def write(self, name: str, text: str) -> Path:
        path = self.path / name
        path.write_text(text)
        return path

    def lines(self, name: str) -> list[str]:
        path = self.path / name
        return path.read_text().split() if path.exists() else []


def alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie, exited but not waited for, is not running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and ") Z " in stat.read_text())


def step_events(monkeypatch: Any) -> list[str]:
    """What the engine does, in order, from now on in this process: ``start <key>`` as a
    step's process starts (the key from its environment), ``end <key>`` as the engine
    begins to record a step's end."""
    from baton.engine.executor import Executor
    from baton.steps import shell

    events: list[str] = []
    spawn = shell._spawn
    finish = Executor.finish

    def spawned(argv: list[str], env: dict[str, str], *args: Any) -> int | None:
        events.append(f"start {env['BATON_STEP_KEY']}")
        return spawn(argv, env, *args)

    def finishing(self: Executor, key: str, outcome: Any) -> bool:
        events.append(f"end {key}")
        return finish(self, key, outcome)

    monkeypatch.setattr(shell, "_spawn", spawned)
    monkeypatch.setattr(Executor, "finish", finishing)
    return events


def first_outputs_fail(monkeypatch: Any, message: str) -> None:
    """Make storing the first attempt's outputs in this process fail with ``OSError(message)``
    (an artifact store out of reach), after its process has exited with 0."""
    from baton.engine import attempt

    offload = attempt.offload_large_values
    calls: list[int] = []

    def failing(outputs: dict[str, Any], artifacts: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise OSError(message)
        return offload(outputs, artifacts)

    monkeypatch.setattr(attempt, "offload_large_values", failing)
