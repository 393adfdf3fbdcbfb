"""Workflow outputs declared with only ``type``/``description``: they take the step output of the
same name.

``tests_added: {type: number}`` is the value of ``tests_added`` from the last step, in file order,
that has such an output when the execution ends; ``report: {type: artifact}`` is the file of the
last step that declares ``outputs: {report: PATH}``. An output no step can set is empty (null),
and validation warns about it.
"""

from __future__ import annotations

from typing import Any

from baton.spec.models import Workflow, WorkflowOutput

# Types whose steps can set outputs of any name (``$BATON_OUTPUT``, a child workflow's outputs).
_OPEN_TYPES = ("shell", "workflow")
_KNOWN = {"agent": ("text", "files_changed", "turns", "usage", "cost_usd", "denied", "provider", "model")}


def is_implicit(output: WorkflowOutput) -> bool:
    """True for an output that names neither ``value`` nor ``from``."""
    return output.value is None and output.from_ is None


def _kind(step: Any) -> str:
    kind = str(getattr(step, "type", ""))
    return "agent" if kind == "claude_code" else kind


def sources(workflow: Workflow, name: str, output: WorkflowOutput) -> list[str]:
    """Ids of the steps that can set output ``name``, in file order."""
    found = []
    for step in workflow.all_steps():
        if step.for_each is not None:
            continue  # its outputs are a list of the items' outputs
        declared = name in step.outputs
        if output.type == "artifact":
            can_set = declared
        else:
            can_set = declared or _kind(step) in _OPEN_TYPES or name in _KNOWN.get(_kind(step), ())
        if can_set:
            found.append(step.id)
    return found


def compile_output(workflow: Workflow, name: str, output: WorkflowOutput) -> dict[str, Any]:
    """The compiled form of one output (``value`` or ``from``), implicit ones resolved."""
    data = output.model_dump(mode="json", by_alias=True, exclude_none=True)
    if not is_implicit(output):
        return data
    candidates = sources(workflow, name, output)
    if output.type == "artifact" and candidates:
        return {**data, "from": f"{candidates[-1]}.{name}"}
    # The last step that set it wins: nested lookups, the earliest step innermost.
    expression = "none"
    for step_id in candidates:
        expression = f"steps.get({step_id!r}, {{}}).get('outputs', {{}}).get({name!r}, {expression})"
    if output.type == "artifact":
        data.pop("type", None)  # nothing to take a file from: an empty value
    return {**data, "value": f"{{{{ {expression} }}}}"}


def output_warnings(workflow: Workflow) -> list[str]:
    """A warning for each implicit output that no step can set."""
    warnings = []
    for name, output in workflow.outputs.items():
        if is_implicit(output) and not sources(workflow, name, output):
            what = f"declares 'outputs: {{{name}: PATH}}'" if output.type == "artifact" else f"can set '{name}'"
            warnings.append(f"outputs.{name}: no step {what}, so it will be empty")
    return warnings
