"""Recorded runs as the operating views read them: an execution, its records, its definition.

Everything here reads the ``StateStore`` port only (``list_history_summaries``), so ``baton
stats``, the HTML report and ``baton ui`` show the same figures for the laptop and for a
stack. A run holds the summaries of its records (``baton.engine.summary``), not the records.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from baton.engine.definition import Definition
from baton.engine.records import CACHED, FAILED, KIND_ITEM, KIND_STEP, SKIPPED
from baton.engine.summary import ExecutionSummary, StepSummary, duration
from baton.errors import BatonError
from baton.ports import StateStore

RAN = frozenset({"succeeded", FAILED, "cancelled"})
"""Statuses of a unit whose body ran (not restored from the cache, not skipped)."""
_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class HistoryError(BatonError):
    """A history query that cannot be answered (a bad ``--since``)."""


@dataclass(frozen=True)
class Run:
    """One recorded execution with its records' summaries by key and (when still stored) its
    definition."""

    execution: ExecutionSummary
    records: dict[str, StepSummary]
    definition: Definition | None
    steps: list[StepSummary] = field(init=False)
    """The records of whole steps (not items, not compensations)."""
    units: list[StepSummary] = field(init=False)
    """The records that ran a body once per attempt: plain steps and ``for_each`` items."""

    def __post_init__(self) -> None:
        steps, units = [], []
        for record in self.records.values():
            if record.kind == KIND_STEP:
                steps.append(record)
                if record.item_count is None:
                    units.append(record)
            elif record.kind == KIND_ITEM:
                units.append(record)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "units", units)

    @property
    def workflow(self) -> str:
        """The workflow's name."""
        return self.execution.workflow


def parse_since(text: str, now: datetime) -> datetime:
    """``7d``, ``12h``, ``30m``, ``90s`` or ``2w`` before ``now``, or an ISO-8601 time."""
    match = _SINCE.match(text)
    if match:
        return now - timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HistoryError(f"--since {text!r}: expected a duration like 7d, 12h, 30m or an ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)


def load_runs(store: StateStore, since: datetime | None = None, workflow: str | None = None) -> list[Run]:
    """Every execution started since ``since`` (of ``workflow``), newest first."""
    with paused_garbage_collection():
        history = store.list_history_summaries(since, workflow)
        definitions: dict[str, Definition | None] = {}
        runs = []
        for execution, records in history:
            digest = execution.definition_digest
            if digest not in definitions:
                definitions[digest] = _definition(store, digest)
            runs.append(Run(execution, records, definitions[digest]))
    return runs


@contextmanager
def paused_garbage_collection() -> Iterator[None]:
    """No cyclic collection while tens of thousands of records are built: every one of them
    survives, so the collector's passes would only cost time (a fifth of the read)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _definition(store: StateStore, digest: str) -> Definition | None:
    data = store.get_definition(digest)
    if data is None:
        return None
    try:
        return Definition.from_data(data)
    except (ValueError, KeyError, TypeError):
        return None  # compiled by another format: figures from the records alone


class Timed(Protocol):
    """A record or summary with a start and an end."""

    @property
    def started_at(self) -> datetime | None: ...
    @property
    def finished_at(self) -> datetime | None: ...


class Outcome(Protocol):
    """A record or summary with a status and whether the cache restored it."""

    @property
    def status(self) -> str: ...
    @property
    def cache_hit(self) -> bool: ...


def seconds(record: Timed) -> float | None:
    """How long a record ran, start to end (retries and their delays included)."""
    return duration(record.started_at, record.finished_at)


def ran(record: Outcome) -> bool:
    """True when the unit's body ran (it was not cached or skipped)."""
    return record.status in RAN and not record.cache_hit


def restored(record: Outcome) -> bool:
    """True for a unit restored from the cache."""
    return record.status == CACHED or record.cache_hit


def skipped(record: Outcome) -> bool:
    """True for a unit that never ran."""
    return record.status == SKIPPED


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` quantile with linear interpolation between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Usage:
    """Tokens and dollars an agent step reported (zero for other steps)."""

    tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.tokens + other.tokens, self.cost_usd + other.cost_usd)


NO_USAGE = Usage()


def usage_of(record: StepSummary) -> Usage:
    """The tokens and dollars a record's outputs report (``baton.engine.summary.usage_in``)."""
    if not record.tokens and not record.cost_usd:
        return NO_USAGE
    return Usage(record.tokens, record.cost_usd)


def total_usage(records: Iterable[StepSummary]) -> Usage:
    """The summed usage of ``records``."""
    tokens, cost = 0, 0.0
    for record in records:
        tokens += record.tokens
        cost += record.cost_usd
    return Usage(tokens, cost)
