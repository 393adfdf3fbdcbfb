"""Views of the records: the execution record and the expression
context steps are rendered against. Both show a step the same way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from baton.engine.definition import Definition, StepDef
from baton.engine.records import (
    COMPENSATED,
    SKIPPED,
    SUCCEEDED,
    ExecutionRecord,
    StepRecord,
    compensation_key,
    item_key,
)
from baton.engine.usage import summarize

Resolver = Callable[[Any], Any]
"""Turns a stored output value (maybe a reference to a large blob) into the value itself."""


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and a ``Z``."""
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SkippedOutputs(dict[str, Any]):
    """The outputs of a skipped step: empty, and every name in it reads as null.

    A step skipped by ``when`` produced nothing; its dependants still run, and
    ``steps.x.outputs.y`` (or ``| default(...)``) must then be ``none``, not an error.
    """

    def __missing__(self, key: str) -> None:
        return None


def public_status(record: StepRecord, records: Mapping[str, StepRecord]) -> str:
    """The status users see: a succeeded unit whose compensation succeeded is ``compensated``."""
    if record.status == SUCCEEDED:
        compensation = records.get(compensation_key(record.key))
        if compensation is not None and compensation.status == SUCCEEDED:
            return COMPENSATED
    return record.status


def items_of(step: StepDef, parent: StepRecord, records: Mapping[str, StepRecord]) -> list[StepRecord]:
    """The item records of a ``for_each`` step, in index order."""
    if step.for_each is None or parent.item_count is None:
        return []
    found = (records.get(item_key(step.id, i)) for i in range(parent.item_count))
    return [record for record in found if record is not None]


def _unit_view(record: StepRecord, records: Mapping[str, StepRecord], resolve: Resolver) -> dict[str, Any]:
    outputs: dict[str, Any] = resolve(record.outputs) if record.outputs is not None else {}
    if record.status == SKIPPED:
        outputs = SkippedOutputs(outputs)
    view = {
        "status": public_status(record, records),
        "attempts": record.attempt,
        "cache_hit": record.cache_hit,
        "outputs": outputs,
        "error": record.error,
        "started_at": iso(record.started_at),
        "finished_at": iso(record.finished_at),
    }
    if record.child is not None:
        view["child"] = {"execution_id": record.child}
    return view


def step_view(step: StepDef, records: Mapping[str, StepRecord], resolve: Resolver) -> dict[str, Any]:
    """One step as section 4 shows it (and as ``steps.<id>`` in expressions)."""
    record = records[step.id]
    view = _unit_view(record, records, resolve)
    view["items"] = None
    if step.for_each is not None:
        items = items_of(step, record, records)
        if items:
            item_views = []
            for item in items:
                item_view = _unit_view(item, records, resolve)
                item_view["item"] = item.item
                item_views.append(item_view)
            view["items"] = item_views
            # Skipped items produced nothing and are left out: map(attribute=...) keeps working.
            view["outputs"] = [entry["outputs"] for entry in item_views if entry["status"] != SKIPPED]
            statuses = {entry["status"] for entry in item_views}
            if COMPENSATED in statuses and SUCCEEDED not in statuses:
                view["status"] = COMPENSATED
        elif record.outputs is None:
            view["outputs"] = []
    return view


def execution_document(
    definition: Definition,
    execution: ExecutionRecord,
    records: Mapping[str, StepRecord],
    resolve: Resolver,
) -> dict[str, Any]:
    """The execution record (``baton run --json``), with ``agents`` (tokens and dollars
    spent, and saved by the cache) when it has agent steps."""
    document: dict[str, Any] = {
        "execution_id": execution.execution_id,
        "workflow": execution.workflow,
        "version": execution.workflow_version,
        "definition_digest": execution.definition_digest,
        "status": execution.status,
        "inputs": execution.inputs,
        "outputs": resolve(execution.outputs),
        "started_at": iso(execution.started_at),
        "finished_at": iso(execution.finished_at),
        "error": execution.error,
        "steps": {step.id: step_view(step, records, resolve) for step in definition.steps if step.id in records},
    }
    agents = summarize(document)
    if agents is not None:
        document["agents"] = agents
    return document


def expression_context(
    definition: Definition,
    execution: ExecutionRecord,
    step_views: Mapping[str, dict[str, Any]],
    secrets: Mapping[str, str],
) -> dict[str, Any]:
    """The names templates and expressions see (``item``/``index`` are added per item)."""
    context: dict[str, Any] = dict(step_views)
    context.update(
        inputs=execution.inputs,
        steps=step_views,
        # The start environment (names the workflow reads, captured when it started) under ``env:``.
        # Unset ones are null, not an error.
        env={
            **dict.fromkeys(definition.environment_names()),
            **(execution.trigger.get("env") or {}),
            **definition.env,
        },
        secrets=dict(secrets),
        execution={
            "id": execution.execution_id,
            "started_at": iso(execution.started_at),
            "workflow": definition.name,
        },
        trigger=execution.trigger,
        workflow=definition.name,
    )
    return context
