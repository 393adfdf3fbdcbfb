"""The critical path of a run: the chain of steps that decided when it ended.

It starts at the step that finished last and walks back, each time to the dependency that
finished last; a ``finally`` or ``on_failure`` step with no dependency in its own list
continues from the last ``steps`` entry that finished before it started. Shortening any
other step would not have ended the run sooner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from baton.engine.records import KIND_STEP
from baton.engine.summary import StepSummary
from baton.insights.history import Run

_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class PathStep:
    """One step on the critical path."""

    step_id: str
    status: str
    seconds: float
    waited_seconds: float
    """Time between the end of the step before it on the path and its own start."""


def critical_path(run: Run) -> list[PathStep]:
    """The critical path, first step first; empty when nothing has finished yet."""
    definition = run.definition
    ended = {r.step_id: r for r in run.records.values() if r.kind == KIND_STEP and r.finished_at is not None}
    if definition is None or not ended:
        return []
    current: StepSummary | None = max(ended.values(), key=lambda r: r.finished_at or _NEVER)
    chain: list[StepSummary] = []
    while current is not None and current not in chain:
        chain.append(current)
        current = _predecessor(run, current, ended)
    chain.reverse()
    path = []
    previous_end = None
    for record in chain:
        start = record.started_at or record.finished_at
        waited = (start - previous_end).total_seconds() if previous_end and start else 0.0
        path.append(PathStep(record.step_id, record.status, record.duration or 0.0, max(0.0, waited)))
        previous_end = record.finished_at
    return path


def _predecessor(run: Run, record: StepSummary, ended: dict[str, StepSummary]) -> StepSummary | None:
    assert run.definition is not None
    step = run.definition.step(record.step_id)
    needed = [ended[need] for need in step.needs if need in ended]
    if needed:
        return max(needed, key=lambda r: r.finished_at or _NEVER)
    if step.list_name == "steps":
        return None
    start = record.started_at or record.finished_at
    earlier = [
        r
        for r in ended.values()
        if run.definition.step(r.step_id).list_name == "steps" and start and r.finished_at and r.finished_at <= start
    ]
    return max(earlier, key=lambda r: r.finished_at or _NEVER) if earlier else None
