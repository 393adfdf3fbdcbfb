"""Showing an execution as it runs: a live table on a terminal, plain lines otherwise, and
the text forms of ``baton status`` and ``baton list``."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from baton.engine.usage import describe_usage, summarize, usage_of

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


STYLES = {
    "running": "cyan",
    "waiting": "yellow",
    "succeeded": "green",
    "cached": "green",
    "skipped": "dim",
    "pending": "dim",
    "failed": "bold red",
    "cancelled": "red",
    "compensated": "magenta",
}
"""Colour of each status on a terminal."""


def timing_note(record: StepRecord, now: datetime) -> str:
    """What a unit is waiting for: a retry's countdown, or a wait's wake time."""
    if record.wake_at is None:
        return ""
    left = max((record.wake_at - now).total_seconds(), 0.0)
    if record.status == "pending":
        return f"retry in {left:.1f}s"
    if record.status == "waiting":
        return f"until {record.wake_at.astimezone().strftime('%H:%M:%S')} ({left:.0f}s left)"
    return ""


def describe(record: StepRecord, *, live: bool = False, note: str = "") -> str:
    """One line for one unit: symbol, key, status, attempt, time, cache hit, error.

    ``live`` also shows the time a running or waiting unit has taken so far, and what it
    waits for; ``note`` is added at the end (an approval's question).
    """
    parts = [f"{SYMBOLS.get(record.status, '?')} {record.key:<28} {record.status:<10}"]
    if record.attempt > 1:
        parts.append(f"attempt {record.attempt}")
    ended = record.finished_at is not None and record.status not in ("pending", "skipped")
    if ended or (live and record.status in ("running", "waiting")):
        parts.append(_seconds(record.started_at, record.finished_at if ended else None))
    if record.cache_hit:
        parts.append("(cache hit)")
    usage = usage_of(record.outputs)
    if usage is not None:
        parts.append(describe_usage(usage, cached=record.cache_hit))
    if record.error and record.status in ("failed", "pending"):
        parts.append(f"- {record.error.splitlines()[0][:120]}")
    if live:
        parts.append(timing_note(record, datetime.now(UTC)))
    parts.append(note)
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
        self.notes: dict[str, str] = {}
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
            rows = fit_rows(list(self.rows.values()), max(self.console.size.height - 1, 5))
            notes = dict(self.notes)
        text = Text()
        for number, row in enumerate(rows):
            if number:
                text.append("\n")
            if isinstance(row, str):
                text.append(row, style="dim")
            else:
                text.append(describe(row, live=True, note=notes.get(row.key, "")), style=STYLES.get(row.status, ""))
        return text

    def step_changed(self, unit: UnitContext, record: StepRecord) -> None:
        """Update the row of the unit; a waiting approval shows its question."""
        note = approval_note(unit, record) if record.status == "waiting" else ""
        with self._lock:
            self.rows[record.key] = record
            self.notes[record.key] = note

    def execution_changed(self, execution: ExecutionRecord) -> None:
        """Nothing extra."""


def approval_note(unit: UnitContext, record: StepRecord) -> str:
    """``"question" - baton approve ID KEY`` for a waiting approval, else ""."""
    body_of = getattr(unit, "body_of", None)
    body = body_of(record) if body_of is not None else None
    if body is None or body.type != "approval":
        return ""
    message = body.fields.get("message") or ""
    from baton.errors import BatonError

    with contextlib.suppress(BatonError):  # a display must never stop the run: show the raw text
        message = str(unit.expressions.render(message, unit.context_for(record))) if message else ""
    question = f'"{unit.masker.text(message)}" ' if message else ""
    return f"{question}- baton approve {record.execution_id} {record.key} [--reject]"


def fit_rows(rows: list[StepRecord], height: int) -> list[StepRecord | str]:
    """The rows, or, when they do not fit in ``height`` lines, every unit that is running,
    waiting or failed plus one summary line per ``for_each`` step for its other items."""
    if len(rows) <= height:
        return list(rows)
    shown: list[StepRecord | str] = []
    hidden: dict[str, dict[str, int]] = {}
    for record in rows:
        parent = record.key.split("[", 1)[0] if "[" in record.key else None
        if parent is None or record.status in ("running", "waiting", "failed"):
            shown.append(record)
        else:
            counts = hidden.setdefault(parent, {})
            counts[record.status] = counts.get(record.status, 0) + 1
    for parent, counts in hidden.items():
        summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
        shown.append(f"  {parent}: {sum(counts.values())} more items ({summary})")
    return shown


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
        usage = usage_of(step["outputs"])
        spend = f"  {describe_usage(usage, cached=step['cache_hit'])}" if usage is not None else ""
        lines.append(f"  {symbol} {step_id:<28} {state:<11} attempts {step['attempts']} {took:>8}{cache}{spend}{error}")
        lines += _child_lines(step, "      ")
        for index, item in enumerate(step["items"] or []):
            item_error = f"  {item['error'].splitlines()[0][:100]}" if item["error"] else ""
            attempts = f"attempts {item['attempts']} {_took(item):>8}"
            lines.append(f"      [{index}] {item['status']:<11} {attempts}{item_error}")
            lines += _child_lines(item, "          ")
    totals = summarize(document)
    if totals is not None:
        spent, saved = totals["spent"], totals["saved"]
        lines.append(
            f"agents: {spent['input_tokens']} tokens in / {spent['output_tokens']} out, ${spent['cost_usd']:.4f}; "
            f"the cache saved {saved['input_tokens'] + saved['output_tokens']} tokens, ${saved['cost_usd']:.4f}"
        )
    if document["outputs"]:
        lines.append("outputs:")
        lines += [f"  {name}: {value}" for name, value in document["outputs"].items()]
    return "\n".join(lines)


def _child_lines(view: Mapping[str, Any], indent: str) -> list[str]:
    """The child execution a ``workflow`` unit runs, under the unit."""
    child = view.get("child")
    if not child:
        return []
    return [f"{indent}└ child {child['execution_id']}  {child.get('workflow', '')} {child['status']}"
            f"  (baton status {child['execution_id']})"]  # fmt: skip


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
    width = max(24, *(len(e.execution_id) for e in executions))  # a child's id is a little longer
    lines = [f"{'EXECUTION':<{width}} {'WORKFLOW':<28} {'STATUS':<10} {'STARTED':<20} DURATION"]
    for execution in executions:
        started = execution.started_at.strftime("%Y-%m-%d %H:%M:%S") if execution.started_at else "-"
        duration = _seconds(execution.started_at, execution.finished_at) if execution.finished_at else "-"
        row = f"{execution.execution_id:<{width}} {execution.workflow:<28} {execution.status:<10}"
        lines.append(f"{row} {started:<20} {duration}")
    return "\n".join(lines)
