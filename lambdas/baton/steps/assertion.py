"""``assert``: a condition that must hold; ``on_false: stop`` ends the execution early instead."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from baton.steps.base import Invocation, StepResult, StepType

if TYPE_CHECKING:
    from baton.engine.expressions import Expressions


def prepare(fields: dict[str, Any], context: dict[str, Any], expressions: Expressions) -> dict[str, Any]:
    """Evaluate the condition now (it reads the context) and render the message."""
    condition = fields["condition"]
    passed = bool(expressions.evaluate(condition, context))
    prepared: dict[str, Any] = {"passed": passed, "on_false": fields.get("on_false", "fail")}
    if not passed:
        message = fields.get("message")
        prepared["message"] = expressions.render(message, context) if message else f"assertion failed: {condition}"
    return prepared


def run(prepared: dict[str, Any], invocation: Invocation) -> StepResult:
    """Pass, fail with the message, or stop the execution as succeeded."""
    if prepared["passed"]:
        return StepResult()
    if prepared["on_false"] == "stop":
        return StepResult(stop=True)
    return StepResult.failure(invocation.masker.text(prepared["message"]))


STEP_TYPE = StepType(name="assert", mode="inline", prepare=prepare, run=run)
