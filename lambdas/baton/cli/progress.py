"""Showing an execution as it runs: a live table on a terminal, plain lines otherwise, and
the text forms of ``baton status`` and ``baton list``."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from baton.engine.context import UnitContext
    from baton.engine.records import ExecutionRecord, StepRecord

SYMBOLS = {
    "pending": "·",
    "running": "▶",
    "waiting": "⏸",
    "succeeded": "✔",
    "cached": "↺",
    "skipped": "↷",
    "failed": "✘",
    "cancelled": "■",
    "compensated": "↩",
}


def _seconds(started: datetime | None, finished: datetime | None) -> str:
    if started is None:
        return ""
    end = finished or datetime.now(started.tzinfo)
    return f"{(end - started).total_seconds():.2f}s"


def describe(record: StepRecord, *, live: bool = False) -> str:
    """One line for one unit: symbol, key, status, attempt, time, cache hit, error.

    ``live`` also shows the time a running or waiting unit has taken so far.
    """
    parts = [f"{SYMBOLS.get(record.status, '?')} {record.key:<28} {record.status:<10}"]
    if record.attempt > 1:
        parts.append(f"attempt {record.attempt}")
    ended = record.finished_at is not None and record.status not in ("pending", "skipped")
    if ended or (live and record.status in ("running", "waiting")):
        parts.append(_seconds(record.started_at, record.finished_at if ended else None))
    if record.cache_hit:
        parts.append("(cache hit)")
    if record.error and record.status in ("failed", "pending"):
        parts.append(f"- {record.error.splitlines()[0][:120]}")
    return " ".join(p for p in parts if p)


class LineProgress:
    """Prints a line whenever a unit starts or ends (logs, CI, pipes)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def step_changed(self, unit: UnitContext, record: StepRecord) -> None:
        """Print starts and ends, not every write."""
        if record.status == "pending" and record.error is None:
            return
        print(describe(record), file=self.stream, flush=True)

    def execution_changed(self, execution: ExecutionRecord) -> None:
        """Nothing: the command prints the outcome."""


class LiveProgress:
    """A rich live table with one row per unit, redrawn as records change and as time passes."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console()
        self.rows: dict[str, StepRecord] = {}
        self._lock = threading.Lock()  # rich redraws from its own thread
        self.live = Live(console=self.console, refresh_per_second=8, get_renderable=self._render)

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.refresh()
        self.live.__exit__(None, None, None)

    def _render(self) -> Any:
        from rich.text import Text

        with self._lock:
            rows = list(self.rows.values())
        return Text("\n".join(describe(record, live=True) for record in rows))

    def step_changed(self, unit: UnitContext, record: StepRecord) -> None:
        """Update the row of the unit."""
        with self._lock:
            self.rows[record.key] = record

    def execution_changed(self, execution: ExecutionRecord) -> None:
        """Nothing extra."""


def status_text(document: Mapping[str, Any], expired: Mapping[str, str] | None = None) -> str:
    """``baton status`` without ``--json``; ``expired``: waiting approvals past their deadline
    (key -> when), shown as expired: the next ``approve`` or ``resume`` records the timeout."""
    expired = expired or {}
    took = _took(document)
    lines = [
        f"execution {document['execution_id']}  workflow {document['workflow']}  status {document['status']}",
        f"started {document['started_at']}  finished {document['finished_at'] or '-'}"
        + (f"  took {took}" if took else ""),
    ]
    if document["error"]:
        lines.append(f"error: {document['error']}")
    for step_id, step in document["steps"].items():
        cache = " (cache hit)" if step["cache_hit"] else ""
        error = f"  {step['error'].splitlines()[0][:120]}" if step["error"] else ""
        symbol = SYMBOLS.get(step["status"], "?")
        took = _took(step)
        state = "expired" if step_id in expired else step["status"]
        if step_id in expired:
            error = f"  no answer before {expired[step_id]}; approve/resume records the timeout"
        lines.append(f"  {symbol} {step_id:<28} {state:<11} attempts {step['attempts']} {took:>8}{cache}{error}")
        for index, item in enumerate(step["items"] or []):
            item_error = f"  {item['error'].splitlines()[0][:100]}" if item["error"] else ""
            attempts = f"attempts {item['attempts']} {_took(item):>8}"
            lines.append(f"      [{index}] {item['status']:<11} {attempts}{item_error}")
    if document["outputs"]:
        lines.append("outputs:")
        lines += [f"  {name}: {value}" for name, value in document["outputs"].items()]
    return "\n".join(lines)


def _took(view: Mapping[str, Any]) -> str:
    """How long a finished execution, step or item took ("" when it has not run or ended)."""
    started, finished = view.get("started_at"), view.get("finished_at")
    if not started or not finished:
        return ""
    return _seconds(datetime.fromisoformat(started), datetime.fromisoformat(finished))


def list_text(executions: list[ExecutionRecord]) -> str:
    """``baton list``."""
    if not executions:
        return "no executions yet"
    lines = [f"{'EXECUTION':<24} {'WORKFLOW':<28} {'STATUS':<10} {'STARTED':<20} DURATION"]
    for execution in executions:
        started = execution.started_at.strftime("%Y-%m-%d %H:%M:%S") if execution.started_at else "-"
        duration = _seconds(execution.started_at, execution.finished_at) if execution.finished_at else "-"
        lines.append(
            f"{execution.execution_id:<24} {execution.workflow:<28} {execution.status:<10} {started:<20} {duration}"
        )
    return "\n".join(lines)
