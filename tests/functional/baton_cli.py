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
