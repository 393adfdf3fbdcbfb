"""``workflow``: runs another workflow as a child execution and takes its outputs.

The step holds no compute while the child runs: the engine records the unit as ``waiting``
with a link to the child, starts the child through the home's ``ChildWorkflows`` port, and
the child's end wakes the unit with its outputs or its failure (``baton.engine.children``).
Rendering is all this module does: ``inputs`` are templates over the parent's context.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from baton.errors import StepFailedError
from baton.spec.workflow_refs import WorkflowRefError, parse_reference
from baton.steps.base import StepResult, StepType

if TYPE_CHECKING:
    from baton.engine.expressions import Expressions


def prepare(fields: dict[str, Any], context: dict[str, Any], expressions: Expressions) -> dict[str, Any]:
    """The child's reference (checked) and its inputs, rendered."""
    version = fields.get("version")
    reference = str(fields["workflow"])
    try:
        parsed = parse_reference(reference, str(version) if version is not None else None)
    except WorkflowRefError as exc:
        raise StepFailedError(f"workflow: {exc}", retryable=False) from exc
    inputs = expressions.render_data(fields.get("inputs") or {}, context)
    return {"workflow": str(parsed), "inputs": inputs}


def suspend(prepared: dict[str, Any], now: datetime, timeout_seconds: float | None) -> datetime | None:
    """Wait for the child; until the step's timeout if it has one."""
    return now + timedelta(seconds=timeout_seconds) if timeout_seconds is not None else None


def wake(prepared: dict[str, Any]) -> StepResult:
    """The timeout came before the child ended."""
    return StepResult.failure("the child workflow did not end before the step timed out", kind="timeout",
                              retryable=False)  # fmt: skip


STEP_TYPE = StepType(name="workflow", mode="suspend", prepare=prepare, suspend=suspend, wake=wake)
