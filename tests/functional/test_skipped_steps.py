"""A step skipped by ``when`` reads as null outputs; skipped ``for_each`` items are left out
of the step's output list (they stay in ``items`` with status ``skipped``)."""

from __future__ import annotations

from pathlib import Path

from baton_cli import Workspace

SKIPPED_STEP = """\
name: w
steps:
  - id: maybe
    when: "false"
    command: echo "v=1" >> "$BATON_OUTPUT"
  - id: after
    command: echo "got [{{ steps.maybe.outputs.v }}] or [{{ steps.maybe.outputs.v or 'none' }}]"
"""

SKIPPED_ITEMS = """\
name: w
steps:
  - id: each
    for_each: [1, 2, 3]
    when: "item != 2"
    command: echo "v={{ item }}" >> "$BATON_OUTPUT"
  - id: after
    command: echo "values {{ steps.each.outputs | map(attribute='v') | join(',') }}"
"""


def test_a_skipped_step_has_null_outputs(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.write("w.yaml", SKIPPED_STEP)

    record = workspace.run_json("run", "w.yaml")

    assert record["status"] == "succeeded", record
    assert record["steps"]["maybe"]["status"] == "skipped"
    assert record["steps"]["after"]["outputs"]["stdout"].strip() == "got [] or [none]"


def test_skipped_items_are_left_out_of_the_outputs(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.write("w.yaml", SKIPPED_ITEMS)

    record = workspace.run_json("run", "w.yaml")

    assert record["status"] == "succeeded", record
    assert [item["status"] for item in record["steps"]["each"]["items"]] == ["succeeded", "skipped", "succeeded"]
    assert record["steps"]["after"]["outputs"]["stdout"].strip() == "values 1,3"


def test_validate_warns_where_a_template_reads_a_step_that_may_be_skipped(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.write("w.yaml", SKIPPED_STEP)
    workspace.write(
        "guarded.yaml", SKIPPED_STEP.replace("  - id: after\n", "  - id: after\n    when: maybe.status != 'skipped'\n")
    )

    warned = workspace.baton("validate", "w.yaml")
    guarded = workspace.baton("validate", "guarded.yaml")

    assert warned.returncode == 0
    assert "warning: step 'after' reads the outputs of 'maybe', which may be skipped" in warned.stderr
    assert guarded.returncode == 0
    assert "warning" not in guarded.stderr
