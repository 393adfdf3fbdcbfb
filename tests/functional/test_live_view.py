"""The live view on a terminal: colour, an approval's question, a retry's countdown, a wait's
wake time, and every running item of a wide fan-out."""

from __future__ import annotations

import os
import pty
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from baton_cli import BATON, Workspace

from baton.cli.progress import fit_rows, timing_note
from baton.engine.records import StepRecord


def _on_a_terminal(workspace: Workspace, *args: str) -> str:
    leader, follower = pty.openpty()
    env = {**workspace.environment(), "COLUMNS": "160", "LINES": "12", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [BATON, *args], cwd=workspace.path, env=env, stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", errors="replace")


def test_a_terminal_shows_colour_and_the_approval_question(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.write(
        "w.yaml", "name: w\nsteps:\n  - id: gate\n    type: approval\n    message: 'Ship {{ workflow }}?'\n"
    )

    screen = _on_a_terminal(workspace, "run", "w.yaml")

    assert "\x1b[" in screen  # ANSI styles
    assert '"Ship w?"' in screen
    assert "baton approve" in screen


def _record(key: str, status: str, wake_at: datetime | None = None) -> StepRecord:
    return StepRecord(execution_id="e", key=key, step_id=key.split("[", maxsplit=1)[0], status=status, wake_at=wake_at)


def test_timing_notes_count_down() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)

    retry = timing_note(_record("a", "pending", now + timedelta(seconds=3)), now)
    wait = timing_note(_record("b", "waiting", now + timedelta(seconds=90)), now)

    assert retry == "retry in 3.0s"
    assert wait.startswith("until ")
    assert wait.endswith("(90s left)")


def test_a_wide_fan_out_keeps_every_running_item_and_summarises_the_rest() -> None:
    rows = [_record("fan", "running")]
    rows += [_record(f"fan[{i}]", "running" if i % 10 == 0 else "succeeded") for i in range(100)]

    shown = fit_rows(rows, height=20)

    running = [row for row in shown if isinstance(row, StepRecord) and row.status == "running"]
    assert len(running) == 11
    assert shown[-1] == "  fan: 90 more items (90 succeeded)"
