"""One execution as a page: timeline (steps and ``for_each`` items), step graph, and for
every step its status, duration, attempts, cache hit, agent usage, outputs, error, log tails
and artifacts. ``baton report`` writes it as one self-contained HTML file (inline CSS and
SVG, nothing fetched); ``baton ui`` serves the same content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from baton import __version__
from baton.engine.attempt import OutputResolver
from baton.engine.definition import Definition
from baton.engine.records import KIND_COMPENSATION, KIND_ITEM, TERMINAL_EXECUTION, StepRecord
from baton.engine.summary import summarize, usage_in
from baton.engine.views import iso, public_status
from baton.errors import BatonError
from baton.insights.critical import critical_path
from baton.insights.graph import graph_layout
from baton.insights.history import Run, seconds
from baton.ports import Ports

LOG_TAIL_LINES = 40
OUTPUT_TEXT_LIMIT = 4000


class ReportError(BatonError):
    """An execution that cannot be shown (its definition is gone)."""


@dataclass
class UnitView:
    """One bar of the timeline and one row of the step table."""

    key: str
    step_id: str
    kind: str
    status: str
    attempts: int
    cache_hit: bool
    start_offset: float | None
    seconds: float | None
    started_at: str | None
    finished_at: str | None
    error: str | None
    reason: str | None
    tokens: int
    cost_usd: float
    outputs: str
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    items: list[UnitView] = field(default_factory=list)
    type: str = ""
    on_critical_path: bool = False


def run_view(ports: Ports, execution_id: str) -> dict[str, Any]:
    """Everything the page shows about one execution."""
    store = ports.store
    execution = store.get_execution(execution_id)
    data = store.get_definition(execution.definition_digest)
    if data is None:
        raise ReportError(f"execution {execution_id}: its definition is no longer stored")
    definition = Definition.from_data(data)
    records = store.get_steps(execution_id)
    run = Run(*summarize(execution, records), definition)
    logs = _log_tails(ports, execution_id)
    resolve = OutputResolver(ports.artifacts)
    origin = execution.started_at
    path = critical_path(run)
    on_path = {step.step_id for step in path}
    units: list[UnitView] = []
    for step in definition.steps:
        record = records.get(step.id)
        if record is None:
            continue
        view = _unit(record, records, origin, resolve, logs)
        view.type, view.on_critical_path = step.type, step.id in on_path
        view.items = [
            _unit(r, records, origin, resolve, logs)
            for r in sorted(records.values(), key=lambda r: (r.index or 0, r.key))
            if r.step_id == step.id and r.kind in (KIND_ITEM, KIND_COMPENSATION)
        ]
        units.append(view)
    total = seconds(execution)
    if total is None and origin is not None:
        total = max((u.start_offset or 0) + (u.seconds or 0) for u in [*units, *_flat(units)]) if units else 0.0
    return {
        "execution": {
            **execution.to_data(),
            "started_at": iso(execution.started_at),
            "finished_at": iso(execution.finished_at),
            "seconds": total,
            "running": execution.status not in TERMINAL_EXECUTION,
        },
        "units": units,
        "graph": graph_layout(definition, {u.step_id: u.status for u in units}),
        "critical_path": path,
        "timeline_seconds": max(total or 0.0, 0.001),
        "version": __version__,
    }


def _flat(units: list[UnitView]) -> list[UnitView]:
    return [item for unit in units for item in unit.items]


def _unit(
    record: StepRecord,
    records: dict[str, StepRecord],
    origin: Any,
    resolve: OutputResolver,
    logs: dict[str, list[dict[str, Any]]],
) -> UnitView:
    tokens, cost = usage_in(record.outputs)
    offset = (record.started_at - origin).total_seconds() if record.started_at and origin else None
    outputs = resolve(record.outputs) if record.outputs is not None else None
    text = json.dumps(outputs, indent=2, default=str) if outputs not in (None, {}, []) else ""
    if len(text) > OUTPUT_TEXT_LIMIT:
        text = text[:OUTPUT_TEXT_LIMIT] + f"\n... ({len(text) - OUTPUT_TEXT_LIMIT} more characters)"
    artifacts = [
        {"name": name, "path": info.get("path"), "sha256": info.get("ref", {}).get("$artifact"),
         "size": info.get("ref", {}).get("size")}
        for name, info in sorted(record.artifacts.items())
    ]  # fmt: skip
    return UnitView(
        key=record.key,
        step_id=record.step_id,
        kind=record.kind,
        status=public_status(record, records),
        attempts=record.attempt,
        cache_hit=record.cache_hit,
        start_offset=offset,
        seconds=seconds(record),
        started_at=iso(record.started_at),
        finished_at=iso(record.finished_at),
        error=record.error,
        reason=record.reason,
        tokens=tokens,
        cost_usd=cost,
        outputs=text,
        artifacts=artifacts,
        logs=logs.get(record.key, []),
    )


def _log_tails(ports: Ports, execution_id: str) -> dict[str, list[dict[str, Any]]]:
    """The last lines of each stream of each unit's latest attempt."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in ports.artifacts.read_logs(execution_id):
        if not entry.text:
            continue
        lines = entry.text.splitlines()
        tail = "\n".join(lines[-LOG_TAIL_LINES:])
        slot = f"{entry.step_key}\0{entry.stream}"
        if slot not in latest or latest[slot]["attempt"] <= entry.attempt:
            latest[slot] = {"key": entry.step_key, "stream": entry.stream, "attempt": entry.attempt,
                            "text": tail, "cut": max(0, len(lines) - LOG_TAIL_LINES)}  # fmt: skip
    tails: dict[str, list[dict[str, Any]]] = {}
    for value in latest.values():
        tails.setdefault(value["key"], []).append(value)
    return tails


@cache
def templates() -> Environment:
    """The page templates, shipped inside the package."""
    environment = Environment(
        loader=PackageLoader("baton.insights", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["duration"] = _duration
    return environment


def _duration(value: float | None) -> str:
    from baton.insights.hints import human_seconds

    return human_seconds(value) if value is not None else "-"


def render_report(view: dict[str, Any]) -> str:
    """The standalone HTML page of one execution."""
    return templates().get_template("report.html").render(view=view, standalone=True)
