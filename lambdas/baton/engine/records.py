"""The durable records of an execution: one per execution and one per step, item or compensation.

Records are immutable values. A store writes a changed copy conditionally on the ``version``
it was read at, so two workers can never both win the same transition.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import datetime
from typing import Any

PENDING = "pending"
RUNNING = "running"
WAITING = "waiting"
SUCCEEDED = "succeeded"
CACHED = "cached"
SKIPPED = "skipped"
FAILED = "failed"
CANCELLED = "cancelled"
COMPENSATED = "compensated"

TERMINAL_STEP = frozenset({SUCCEEDED, CACHED, SKIPPED, FAILED, CANCELLED, COMPENSATED})
ACTIVE_STEP = frozenset({RUNNING, WAITING})
DONE_OK = frozenset({SUCCEEDED, CACHED, SKIPPED, COMPENSATED})
TERMINAL_EXECUTION = frozenset({SUCCEEDED, FAILED, CANCELLED})

KIND_STEP = "step"
KIND_ITEM = "item"
KIND_COMPENSATION = "compensation"
COMPENSATION_SUFFIX = "~compensate"


def item_key(step_id: str, index: int) -> str:
    """Record key of item ``index`` of a ``for_each`` step."""
    return f"{step_id}[{index}]"


def is_item_key(key: str) -> bool:
    """True for the record key of a ``for_each`` item (not of its compensation)."""
    return key.endswith("]") and "[" in key


def compensation_key(unit_key: str) -> str:
    """Record key of the compensation of a step or item."""
    return unit_key + COMPENSATION_SUFFIX


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class StepRecord:
    """State of one unit of work: a step, one ``for_each`` item, or one compensation.

    ``attempt`` counts every claim (it names log files and fences writes); ``tries`` counts
    the attempts charged to the retry budget since the last resume (a crash-interrupted
    attempt is not charged).
    """

    execution_id: str
    key: str
    step_id: str
    kind: str = KIND_STEP
    status: str = PENDING
    version: int = 0
    attempt: int = 0
    tries: int = 0
    index: int | None = None
    item: Any = None
    outputs: Any = None
    artifacts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_kind: str | None = None
    cache_hit: bool = False
    cache_key: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    wake_at: datetime | None = None
    reason: str | None = None
    stop: bool = False
    item_count: int | None = None
    items_open: int | None = None
    """Items a ``for_each`` expansion runs (those not kept from an earlier run): a join that
    counts item ends is complete when it has counted this many."""
    hand_off: dict[str, Any] | None = None
    """The claim of the unit this unit's end made ready, when the same worker runs that unit
    next (``key``, the ``version`` it was read at, ``owner``, ``expires``, ``attempt``): it
    rides on this record's write instead of a write of its own. See :func:`with_hand_offs`."""
    child: str | None = None
    """The child execution a ``workflow`` unit started (kept by a resume that resumes it)."""

    def evolve(self, **changes: Any) -> StepRecord:
        """A copy with ``changes`` applied (the version is left to the store).

        Not through ``dataclasses.replace``, which calls ``__init__`` with every field as a
        keyword: a step's end makes several copies, and ``_copy_with`` takes under half the
        time."""
        if not _STEP_FIELD_SET.issuperset(changes):
            raise TypeError(f"StepRecord has no field {sorted(set(changes) - _STEP_FIELD_SET)[0]!r}")
        return _copy_with(self, changes)

    def to_data(self) -> dict[str, Any]:
        """JSON-ready form; stores keep it in one document."""
        return {
            "execution_id": self.execution_id, "key": self.key, "step_id": self.step_id,
            "kind": self.kind, "status": self.status, "version": self.version,
            "attempt": self.attempt, "tries": self.tries, "index": self.index, "item": self.item,
            "outputs": self.outputs, "artifacts": self.artifacts, "error": self.error,
            "error_kind": self.error_kind, "cache_hit": self.cache_hit, "cache_key": self.cache_key,
            "started_at": _iso(self.started_at), "finished_at": _iso(self.finished_at),
            "lease_owner": self.lease_owner, "lease_expires_at": _iso(self.lease_expires_at),
            "wake_at": _iso(self.wake_at), "reason": self.reason, "stop": self.stop,
            "item_count": self.item_count, "items_open": self.items_open, "hand_off": self.hand_off,
            "child": self.child,
        }  # fmt: skip

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> StepRecord:
        """Inverse of :meth:`to_data`. The names every record of an execution repeats are
        shared, not copied once per record (a wide fan-out reads many records)."""
        return _read(data)


_STEP_FIELDS = tuple(f.name for f in fields(StepRecord))
_STEP_FIELD_SET = frozenset(_STEP_FIELDS)


_TIMES = ("started_at", "finished_at", "lease_expires_at", "wake_at")
_SHARED_NAMES = ("execution_id", "step_id", "kind", "status", "lease_owner", "reason")


def _shared(value: Any) -> Any:
    return sys.intern(value) if type(value) is str else value


def _step_functions() -> tuple[
    Callable[[StepRecord, Mapping[str, Any]], StepRecord], Callable[[Mapping[str, Any]], StepRecord]
]:
    """``copy_with(record, changes)``: a copy of ``record`` with each field taken from
    ``changes`` where it is there; ``read(data)``: a record from its ``to_data`` form.

    Both set each field through its slot (a frozen class refuses ``setattr``) and are
    written out field by field, as ``dataclasses`` writes ``__init__``: a loop over the
    names costs twice as much, the keyword call of ``__init__`` three times, and a chain of
    steps copies records several times a step (a run reads them all twice).
    """
    scope: dict[str, Any] = {"new": object.__new__, "cls": StepRecord, "time": _time, "shared": _shared}
    copy = ["def copy_with(record, changes):", "    made = new(cls)", "    get = changes.get"]
    read = ["def read(data):", "    made = new(cls)", "    get = data.get"]
    for spec in fields(StepRecord):
        name = spec.name
        scope[f"set_{name}"] = StepRecord.__dict__[name].__set__
        copy.append(f"    set_{name}(made, get({name!r}, record.{name}))")
        if spec.default is not MISSING:
            scope[f"default_{name}"] = spec.default
            value = f"get({name!r}, default_{name})"
        elif spec.default_factory is not MISSING:
            scope[f"factory_{name}"] = spec.default_factory
            value = f"data[{name!r}] if {name!r} in data else factory_{name}()"
        else:
            value = f"data[{name!r}]"
        if name in _TIMES:
            value = f"time({value})"
        elif name in _SHARED_NAMES:
            value = f"shared({value})"
        read.append(f"    set_{name}(made, {value})")
    copy.append("    return made")
    read.append("    return made")
    exec("\n".join([*copy, *read]), scope)  # nosec B102: the text is made of the class's own field names
    return scope["copy_with"], scope["read"]


_copy_with, _read = _step_functions()


def with_hand_offs(records: dict[str, StepRecord]) -> dict[str, StepRecord]:
    """Records as the engine reads them: a unit named by another record's ``hand_off`` reads
    as running under that claim's lease while its stored copy is still the one the claim was
    made from (pending, at the named version). Any later write of the unit moves its version
    on, and the hand-off no longer applies. Every store applies this to what it reads."""
    for record in list(records.values()):
        hand = record.hand_off
        if not hand:
            continue
        target = records.get(hand["key"])
        if target is None or target.status != PENDING or target.version != hand["version"]:
            continue
        records[target.key] = target.evolve(
            status=RUNNING,
            lease_owner=hand["owner"],
            lease_expires_at=_time(hand["expires"]),
            attempt=hand["attempt"],
            started_at=target.started_at or record.finished_at,
        )
    return records


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """State of one execution. ``definition_digest`` names the stored compiled definition."""

    execution_id: str
    workflow: str
    definition_digest: str
    workflow_version: str | None = None
    status: str = RUNNING
    version: int = 0
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    workspace: str = "."
    trigger: dict[str, Any] = field(default_factory=dict)
    cancel_requested: bool = False
    no_cache: bool = False

    def evolve(self, **changes: Any) -> ExecutionRecord:
        """A copy with ``changes`` applied (the version is left to the store)."""
        return replace(self, **changes)

    def to_data(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "execution_id": self.execution_id, "workflow": self.workflow,
            "definition_digest": self.definition_digest,
            "workflow_version": self.workflow_version, "status": self.status,
            "version": self.version, "inputs": self.inputs, "outputs": self.outputs,
            "error": self.error, "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at), "workspace": self.workspace,
            "trigger": self.trigger, "cancel_requested": self.cancel_requested,
            "no_cache": self.no_cache,
        }  # fmt: skip

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> ExecutionRecord:
        """Inverse of :meth:`to_data`."""
        times = {name: _time(data.get(name)) for name in ("started_at", "finished_at")}
        values: dict[str, Any] = {**data, **times}
        return cls(**values)
