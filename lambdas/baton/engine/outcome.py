"""How an execution ends: its final status, outputs and error, from its records."""

from __future__ import annotations

from typing import Any

from baton.engine.executor import Executor
from baton.engine.records import CANCELLED, FAILED, SUCCEEDED
from baton.errors import BatonError


def final_changes(executor: Executor, outcome: str) -> dict[str, Any]:
    """The execution's last status, outputs and error for an ``outcome`` of the planner; a
    success whose outputs cannot be rendered becomes a failure."""
    outputs: dict[str, Any] = {}
    error = None
    if outcome == SUCCEEDED:
        try:
            outputs = render_workflow_outputs(executor)
        except BatonError as exc:
            outcome, error = FAILED, f"outputs: {executor.masker.text(str(exc))}"
    elif outcome == FAILED:
        error = first_failure(executor)
    elif outcome == CANCELLED:
        error = "cancelled"
    return {"status": outcome, "outputs": outputs, "error": error}


def first_failure(executor: Executor) -> str:
    """The execution's error: the first failed step in file order."""
    for step in executor.definition.steps:
        record = executor.records.get(step.id)
        if record is not None and record.status == FAILED and not step.continue_on_error:
            return f"step '{step.id}' failed: {record.error}"
    return "failed"


def render_workflow_outputs(executor: Executor) -> dict[str, Any]:
    """The workflow's ``outputs``, rendered once every step has ended."""
    from baton.engine.inputs import convert_output

    definition = executor.definition
    if not definition.outputs:
        return {}
    context = executor.context_for(None)
    outputs = {}
    for name, spec in definition.outputs.items():
        if spec.get("type") == "artifact":
            step_id, _, output = spec["from"].partition(".")
            outputs[name] = context["steps"].get(step_id, {}).get("outputs", {}).get(output)
            continue
        value = executor.expressions.render_value(spec["value"], context)
        outputs[name] = convert_output(name, value, spec.get("type"))
    masked: dict[str, Any] = executor.masker.data(outputs)
    return masked
