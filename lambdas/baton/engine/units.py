"""What a driver needs to know of a unit before it runs it elsewhere than where the last one
ran: the time it may take, and the files the units before it declared."""

from __future__ import annotations

from datetime import datetime

from baton.engine.executor import Executor
from baton.engine.records import COMPENSATION_SUFFIX, KIND_ITEM
from baton.ports import ArtifactRef

DEFAULT_STEP_SECONDS = 60.0
"""Time set aside for a step without a ``timeout`` before starting it under a time budget."""
SUSPENDING_TYPES = frozenset({"wait", "approval", "workflow"})


def unit_budget_seconds(executor: Executor, key: str) -> float:
    """Seconds a unit may need: its timeout (or a default); nearly none to suspend or expand."""
    record = executor.records.get(key)
    step_id = record.step_id if record is not None else key.removesuffix(COMPENSATION_SUFFIX).split("[")[0]
    step = executor.definition.step(step_id)
    body = step.compensate if key.endswith(COMPENSATION_SUFFIX) and step.compensate else step.body
    expanding = step.for_each is not None and (record is None or record.kind != KIND_ITEM)
    if body.type in SUSPENDING_TYPES or (expanding and not key.endswith(COMPENSATION_SUFFIX)):
        return 0.0
    return body.timeout_seconds or DEFAULT_STEP_SECONDS


def restore_declared_files(executor: Executor) -> None:
    """Put the files earlier units declared as outputs into this driver's workspace.

    On AWS the units of one execution run in different sandboxes; a later step must still
    find an earlier one's declared output files where the workflow says they are. When two
    units declared the same path, the one that finished last wins.
    """
    latest: dict[str, tuple[datetime | None, dict[str, object]]] = {}
    for record in executor.records.values():
        for info in record.artifacts.values():
            path = str(info["path"])
            seen = latest.get(path)
            if seen is None or (record.finished_at and (seen[0] is None or record.finished_at > seen[0])):
                latest[path] = (record.finished_at, info)
    for path, (_, info) in latest.items():
        destination = executor.workspace / path
        if not destination.exists():
            ref = info["ref"]
            assert isinstance(ref, dict)
            executor.ports.artifacts.restore_file(ArtifactRef.from_data(ref), destination)
