"""Summaries of records: the few fields the history views (``baton stats``, the report, the
critical path) read, so that a store can answer a history read of thousands of executions
without decoding whole records.

The SQLite store keeps a step's summary in columns beside its record, written with it; any
other store derives the summaries from the records it reads (:func:`summarize`). Either way
the values come from the functions here, so the figures are the same on every backend.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from baton.engine.records import ExecutionRecord, StepRecord

FAILURE_TEXT_LIMIT = 200
"""Characters kept of the first line of a unit's error (what failures are grouped by)."""
_USAGE_KEYS = frozenset({"usage", "cost_usd", "total_cost_usd"})


class StepSummary(NamedTuple):
    """What the history views read of one step, item or compensation record."""

    execution_id: str
    key: str
    step_id: str
    kind: str
    status: str
    tries: int
    item_count: int | None
    cache_hit: bool
    cache_key: str | None
    failure: str | None
    """The first line of the error (or the error kind), see :func:`failure_line`; None when
    the record has neither."""
    started_at: datetime | None
    finished_at: datetime | None
    duration: float | None
    """Seconds from start to end (retries and their delays included), see :func:`duration`."""
    tokens: int
    cost_usd: float
    outputs_digest: str | None
    """Digest of the outputs, equal for equal outputs (:func:`digest`); None when there are none."""


class ExecutionSummary(NamedTuple):
    """What the history views read of one execution record."""

    execution_id: str
    workflow: str
    definition_digest: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    duration: float | None
    no_cache: bool
    inputs: str
    """The inputs as JSON text (their order of keys as written): compare :func:`canonical` forms."""


def duration(started_at: datetime | None, finished_at: datetime | None) -> float | None:
    """Seconds from ``started_at`` to ``finished_at`` (never negative), None unless both are known."""
    if started_at is None or finished_at is None:
        return None
    return max(0.0, (finished_at - started_at).total_seconds())


def failure_line(error: str | None, error_kind: str | None) -> str | None:
    """What failures are grouped by: the error's first line (else the error kind), at most
    ``FAILURE_TEXT_LIMIT`` characters; None when the record names no error at all."""
    if not error and not error_kind:
        return None
    text = (error or error_kind or "").strip()
    return (text.splitlines() or ["failed"])[0][:FAILURE_TEXT_LIMIT]


def usage_in(outputs: Any) -> tuple[int, float]:
    """The ``usage`` tokens and the ``cost_usd`` (or ``total_cost_usd``) an agent step's
    outputs report; zero for outputs that report none."""
    if not isinstance(outputs, Mapping) or not _USAGE_KEYS.intersection(outputs):
        return 0, 0.0
    tokens = 0
    usage = outputs.get("usage")
    if isinstance(usage, Mapping):
        tokens = sum(int(v) for k, v in usage.items() if str(k).endswith("tokens") and _is_number(v))
    cost = outputs.get("cost_usd", outputs.get("total_cost_usd"))
    return tokens, float(cost) if _is_number(cost) else 0.0


def canonical(value: Any) -> str:
    """JSON text of ``value`` with sorted keys: equal for equal values."""
    return json.dumps(value, sort_keys=True, default=str)


def digest(outputs: Any) -> str | None:
    """A short digest of ``canonical(outputs)``; None for no outputs."""
    if outputs is None:
        return None
    return hashlib.blake2b(canonical(outputs).encode(), digest_size=16).hexdigest()


def summarize_step(record: StepRecord) -> StepSummary:
    """The summary of one record."""
    tokens, cost = usage_in(record.outputs)
    return StepSummary(
        record.execution_id, record.key, record.step_id, record.kind, record.status, record.tries,
        record.item_count, record.cache_hit, record.cache_key, failure_line(record.error, record.error_kind),
        record.started_at, record.finished_at, duration(record.started_at, record.finished_at),
        tokens, cost, digest(record.outputs),
    )  # fmt: skip


def summarize_execution(execution: ExecutionRecord) -> ExecutionSummary:
    """The summary of one execution record."""
    return ExecutionSummary(
        execution.execution_id, execution.workflow, execution.definition_digest, execution.status,
        execution.started_at, execution.finished_at, duration(execution.started_at, execution.finished_at),
        execution.no_cache, json.dumps(execution.inputs, separators=(",", ":"), default=str),
    )  # fmt: skip


def summarize(
    execution: ExecutionRecord, records: Mapping[str, StepRecord]
) -> tuple[ExecutionSummary, dict[str, StepSummary]]:
    """An execution's summary and its records' summaries by key (records as a store reads
    them, hand-offs applied)."""
    return summarize_execution(execution), {key: summarize_step(record) for key, record in records.items()}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
