"""Step types: one module per type, found through :func:`step_type`."""

from __future__ import annotations

import importlib
import sys

from baton.errors import UnsupportedStepTypeError
from baton.steps.base import Invocation, StepResult, StepType

__all__ = [
    "Invocation",
    "StepResult",
    "StepType",
    "UnsupportedStepTypeError",
    "settle_step_types",
    "step_type",
    "supported_types",
]

_MODULES = {
    "shell": "baton.steps.shell",
    "assert": "baton.steps.assertion",
    "wait": "baton.steps.wait",
    "approval": "baton.steps.approval",
    "http": "baton.steps.http",
    "aws": "baton.steps.aws",
    "agent": "baton.steps.agent",
    "workflow": "baton.steps.workflow",
}


def supported_types() -> tuple[str, ...]:
    """Types this build runs on the embedded backend."""
    return tuple(_MODULES)


_LOADED: dict[str, StepType] = {}
"""The types looked up so far: a step looks its type up several times, and asking the
import system again each time costs more than the lookup itself."""


def step_type(name: str) -> StepType:
    """The step type called ``name``; its module is imported on first use."""
    kind = _LOADED.get(name)
    if kind is not None:
        return kind
    module_name = _MODULES.get(name)
    if module_name is None:
        raise UnsupportedStepTypeError(
            f"step type '{name}' cannot run on the embedded backend yet (supported: {', '.join(_MODULES)})"
        )
    loaded: StepType = importlib.import_module(module_name).STEP_TYPE
    _LOADED[name] = loaded
    return loaded


def settle_step_types() -> None:
    """Call ``settle`` of every step type loaded in this process (see ``StepType.settle``)."""
    for module_name in _MODULES.values():
        module = sys.modules.get(module_name)
        kind: StepType | None = getattr(module, "STEP_TYPE", None)
        if kind is not None and kind.settle is not None:
            kind.settle()
