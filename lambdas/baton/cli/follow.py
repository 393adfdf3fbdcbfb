"""``baton logs --follow``: print each attempt's output as it grows, until the execution
stops running (ends, or waits for an answer)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from baton.engine.service import Engine

POLL_SECONDS = 0.25


def follow_logs(engine: Engine, execution_id: str, step: str | None, *, poll_seconds: float = POLL_SECONDS) -> None:
    """Poll the stored logs and print what is new, headed by the attempt it belongs to."""
    shown: dict[tuple[str, int, str], int] = {}
    while True:
        running = engine.ports.store.get_execution(execution_id).status == "running"
        for entry in engine.logs(execution_id, step):
            where = (entry.step_key, entry.attempt, entry.stream)
            already = shown.get(where, 0)
            if len(entry.text) <= already:
                continue
            new = entry.text[already:]
            if already == 0:
                typer.echo(f"==> {entry.step_key} (attempt {entry.attempt}) {entry.stream} <==")
            typer.echo(new, nl=False)
            shown[where] = len(entry.text)
        if not running:  # read once more after the end, so the last lines are printed
            return
        time.sleep(poll_seconds)
