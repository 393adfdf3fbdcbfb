"""The link between a ``workflow`` unit and its child: its id, and what a resume keeps."""

from __future__ import annotations

from baton.engine.children import child_execution_id
from baton.engine.records import FAILED, StepRecord
from baton.engine.resume import reset


def test_a_child_id_is_the_same_for_the_same_attempt_and_differs_otherwise() -> None:
    parent = "20260131-090000-a1b2c3"

    ids = {child_execution_id(parent, key, attempt) for key in ("call", "each[0]", "each[1]") for attempt in (1, 2)}

    assert child_execution_id(parent, "call", 1) == child_execution_id(parent, "call", 1)
    assert len(ids) == 6
    assert all(i.startswith("20260131-090000-c") and len(i) == 27 for i in ids)


def test_a_reset_keeps_the_child_unless_told_not_to() -> None:
    failed = StepRecord("e", "call", "call", status=FAILED, attempt=1, child="e-child")

    assert reset(failed).child == "e-child"
    assert reset(failed, keep_child=False).child is None
    assert StepRecord.from_data(failed.to_data()) == failed
