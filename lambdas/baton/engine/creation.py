"""Creating an execution: inputs checked, secrets resolvable, ``concurrency:`` rendered, and
the execution stored with every step pending. ``Engine.start`` and child workflows share it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from baton.engine.admission import render_concurrency
from baton.engine.definition import Definition
from baton.engine.expressions import Expressions
from baton.engine.inputs import resolve_inputs
from baton.engine.records import RUNNING, ExecutionRecord, StepRecord
from baton.ports import Ports


def new_execution(
    ports: Ports,
    definition: Definition,
    digest: str,
    inputs: Mapping[str, Any],
    *,
    execution_id: str,
    workspace: Path,
    trigger: dict[str, Any],
    text_inputs: frozenset[str] = frozenset(),
    no_cache: bool = False,
) -> tuple[ExecutionRecord, list[StepRecord]]:
    """The execution and its first records, not yet stored; ``BatonError`` for bad inputs or
    a secret that cannot be resolved here."""
    resolved = resolve_inputs(definition.inputs, inputs, from_text=text_inputs, workspace=workspace)
    for name, source in definition.secrets.items():
        ports.secrets.resolve(name, source)
    now: datetime = ports.clock.now()
    trigger = dict(trigger)
    expressions = Expressions(workspace, ports.clock.now)
    concurrency = render_concurrency(definition.concurrency, definition.name, resolved, expressions)
    if concurrency is not None:
        trigger["concurrency"] = concurrency
    execution = ExecutionRecord(
        execution_id=execution_id,
        workflow=definition.name,
        definition_digest=digest,
        workflow_version=definition.version,
        status=RUNNING,
        inputs=resolved,
        started_at=now,
        workspace=str(workspace.resolve()),
        trigger=trigger,
        no_cache=no_cache,
    )
    return execution, [StepRecord(execution_id, step.id, step.id) for step in definition.steps]
