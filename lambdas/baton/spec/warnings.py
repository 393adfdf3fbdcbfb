"""Warnings ``baton validate`` prints without failing: things that are valid but may not do
what the author expects.

Today: a template that reads ``steps.X.outputs`` of a step X that may be skipped (it has a
``when:``). A skipped step's outputs read as null, so the reading step runs with empty
values unless it says what to do (``steps.X.outputs.y or 'default'``, or a ``when:`` of its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from baton.errors import ExpressionError
from baton.expr import ExpressionEngine, shell_references
from baton.expr.references import Reference
from baton.spec.models import Workflow

_BARE_FIELDS = frozenset({"when", "for_each", "condition"})


def skipped_output_warnings(workflow: Workflow) -> list[str]:
    """One warning per (step, skippable step it reads the outputs of)."""
    maybe_skipped = {step.id for step in workflow.all_steps() if step.when not in (None, True)}
    warnings = []
    for step in workflow.all_steps():
        if step.when is not None:
            continue  # the step decides for itself when to run
        read = {_outputs_of(ref) for ref in _references(step.model_dump(by_alias=True, exclude_none=True))}
        for source in sorted(read & maybe_skipped - {step.id}):
            warnings.append(
                f"step {step.id!r} reads the outputs of {source!r}, which may be skipped (it has 'when:'); "
                "a skipped step's outputs read as null"
            )
    return warnings


def _outputs_of(reference: Reference) -> str:
    """The step whose outputs ``reference`` reads (``steps.x.outputs...`` or ``x.outputs...``), or ""."""
    path = reference.path
    if reference.root == "steps" and len(path) >= 2 and path[1] == "outputs":
        return str(path[0])
    if reference.root != "steps" and path[:1] == ("outputs",):
        return reference.root
    return ""


def _references(data: Any, key: str = "") -> Iterator[Reference]:
    engine = _ENGINE
    if isinstance(data, dict):
        for name, value in data.items():
            yield from _references(value, str(name))
    elif isinstance(data, list):
        for item in data:
            yield from _references(item, key)
    elif isinstance(data, str):
        try:
            if key == "command":
                yield from shell_references(data)
            elif key in _BARE_FIELDS:
                yield from engine.references(data, bare=True)
            elif "{{" in data:
                yield from engine.references(data, bare=False)
        except ExpressionError:
            return  # reported as an error by validation


_ENGINE = ExpressionEngine()
