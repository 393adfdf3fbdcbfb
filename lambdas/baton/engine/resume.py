"""Which records a resume makes pending again.

Without ``--from``: every unit that failed, was cancelled, was skipped for any reason but
its ``when``, or was rolled back by its compensation; ``for_each`` steps re-run only the
items that did not succeed. With ``--from STEP``: also that step, everything that needs it
(transitively), and all their items. ``on_failure`` and ``finally`` always run again.
"""

from __future__ import annotations

from collections.abc import Mapping

from baton.engine.definition import Definition
from baton.engine.planner import REASON_WHEN
from baton.engine.records import (
    CANCELLED,
    COMPENSATED,
    FAILED,
    KIND_COMPENSATION,
    KIND_ITEM,
    PENDING,
    SKIPPED,
    StepRecord,
    compensation_key,
)
from baton.engine.views import public_status


def dependants(definition: Definition, step_id: str) -> set[str]:
    """``step_id`` and every step of its list that needs it, directly or not."""
    found = {step_id}
    changed = True
    listed = definition.list_steps(definition.step(step_id).list_name)
    while changed:
        changed = False
        for step in listed:
            if step.id not in found and found.intersection(step.needs):
                found.add(step.id)
                changed = True
    return found


def _needs_rerun(record: StepRecord, records: Mapping[str, StepRecord]) -> bool:
    if record.status in (FAILED, CANCELLED):
        return True
    if record.status == SKIPPED and record.reason != REASON_WHEN:
        return True
    return public_status(record, records) == COMPENSATED


def reset(record: StepRecord, *, keep_child: bool = True) -> StepRecord:
    """The record made pending again; its attempt count stays, so log names never collide.

    A ``workflow`` unit keeps the link to its child unless ``keep_child`` is False, so it
    resumes that child instead of starting a new one.
    """
    return record.evolve(
        status=PENDING, tries=0, outputs=None, artifacts={}, error=None, error_kind=None,
        cache_hit=False, cache_key=None, started_at=None, finished_at=None, lease_owner=None,
        lease_expires_at=None, wake_at=None, reason=None, stop=False, item_count=None, hand_off=None,
        child=record.child if keep_child else None,
    )  # fmt: skip


def resets_for(
    definition: Definition, records: Mapping[str, StepRecord], from_step: str | None = None
) -> list[StepRecord]:
    """The records to write back as pending for a resume."""
    chosen: set[str] = set()
    for record in records.values():
        if record.kind != KIND_COMPENSATION and _needs_rerun(record, records):
            chosen.add(record.key)
            if record.kind == KIND_ITEM:
                chosen.add(record.step_id)  # the step expands again, keeping good items
    whole_steps = {s.id for s in definition.steps if s.list_name != "steps"}
    rerun: set[str] = set()
    if from_step is not None:
        rerun = dependants(definition, from_step)
        whole_steps |= rerun
    for record in records.values():
        if record.step_id in whole_steps and record.kind != KIND_COMPENSATION:
            chosen.add(record.key)
    chosen |= {compensation_key(key) for key in chosen}
    # ``--from`` runs a workflow step's child anew; a plain resume resumes the child it had.
    return [
        reset(records[key], keep_child=records[key].step_id not in rerun)
        for key in sorted(chosen)
        if key in records and _changes(records[key])
    ]


def _changes(record: StepRecord) -> bool:
    """A pending record nobody touched yet needs no write."""
    return record != reset(record)


def changed_steps(old: Definition, new: Definition) -> set[str]:
    """Steps of ``new`` whose compiled definition differs from ``old``'s (or that ``old``
    lacks), and every step that needs them: what a resume with an edited file runs again."""
    from dataclasses import asdict

    before = {step.id: asdict(step) for step in old.steps}
    changed = {step.id for step in new.steps if before.get(step.id) != asdict(step)}
    return set().union(*(dependants(new, step_id) for step_id in changed)) if changed else set()
