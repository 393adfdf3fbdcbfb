"""A wide ``for_each`` costs the same per item whatever its width: the planner, the views
and the state store do a bounded amount of work per item. Counted, not timed, so a busy
machine cannot make it flaky; planning every item over all its siblings (as the engine
once did) makes the counts per item grow with the width and fails it."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import baton.engine.driver
import baton.engine.views
from baton.bootstrap import MAX_WORKERS_ENV, local_engine
from baton.engine.records import StepRecord

FAN_AND_AFTER = """\
  - id: fan
    for_each: range({width}) | list
    type: assert
    condition: "item >= 0"
  - id: after
    needs: [fan]
    type: assert
    condition: "(steps.fan.items | length) == {width}"
"""
WORKFLOW = "name: wide-{width}\nsteps:\n" + FAN_AND_AFTER
FIRST = "  - id: first\n    type: assert\n    condition: true\n"
IN_FINALLY = "name: wide-{width}\nsteps:\n" + FIRST + "finally:\n" + FAN_AND_AFTER
"""The same fan-out in a ``finally`` list, which the planner reads apart from the main list."""


class CountingRecords(Mapping[str, StepRecord]):
    """The records the planner is given, counting each one it reads."""

    def __init__(self, records: Mapping[str, StepRecord], counts: Counts) -> None:
        self.records, self.counts = records, counts

    def __getitem__(self, key: str) -> StepRecord:
        self.counts.planner_reads += 1
        return self.records[key]

    def __iter__(self) -> Iterator[str]:
        self.counts.planner_reads += len(self.records)
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)


@dataclass
class Counts:
    planner_reads: int = 0
    listed_to_start: int = 0
    item_views: int = 0
    commits: int = 0
    full_reads: int = 0

    def per_item(self, width: int) -> dict[str, float]:
        return {name: value / width for name, value in vars(self).items()}


def run_fan_out(root: Path, width: int, monkeypatch: pytest.MonkeyPatch, workflow: str = WORKFLOW) -> Counts:
    counts = Counts()
    real_plan, real_view = baton.engine.driver.plan, baton.engine.views._unit_view

    def counted_plan(definition: Any, records: Mapping[str, StepRecord], **options: Any) -> Any:
        decision = real_plan(definition, CountingRecords(records, counts), **options)
        counts.listed_to_start += len(decision.start)
        return decision

    def counted_view(*args: Any) -> Any:
        counts.item_views += 1
        return real_view(*args)

    monkeypatch.setattr(baton.engine.driver, "plan", counted_plan)
    monkeypatch.setattr(baton.engine.views, "_unit_view", counted_view)
    engine = local_engine(root / "state", {**os.environ, MAX_WORKERS_ENV: "4"})
    store = engine.ports.store
    real_commit, real_get_steps = store.commit, store.get_steps

    def counted_commit(*args: Any, **kwargs: Any) -> Any:
        counts.commits += 1
        return real_commit(*args, **kwargs)

    def counted_get_steps(execution_id: str) -> dict[str, StepRecord]:
        counts.full_reads += 1
        return real_get_steps(execution_id)

    monkeypatch.setattr(store, "commit", counted_commit)
    monkeypatch.setattr(store, "get_steps", counted_get_steps)
    path = root / "wide.yaml"
    path.write_text(workflow.format(width=width))
    definition, digest = engine.load(path)
    workspace = root / "ws"
    workspace.mkdir()
    execution = engine.start(definition, digest, {}, workspace=workspace)
    assert engine.drive(execution.execution_id).status == "succeeded"
    monkeypatch.undo()
    return counts


@pytest.mark.parametrize("workflow", [WORKFLOW, IN_FINALLY], ids=["in-steps", "in-finally"])
def test_the_work_per_item_of_a_fan_out_does_not_grow_with_its_width(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workflow: str
) -> None:
    narrow = run_fan_out(tmp_path / "narrow", 50, monkeypatch, workflow).per_item(50)
    wide = run_fan_out(tmp_path / "wide", 400, monkeypatch, workflow).per_item(400)
    for name, value in narrow.items():
        # Eight times the width: per item, the same work (a little slack for the fixed part).
        assert wide[name] <= value * 1.2 + 0.1, (name, narrow, wide)
    assert wide["commits"] <= 2.1, "a claim and an end per item"
    assert wide["full_reads"] * 400 <= 2, "every record is read once, not once per item"
