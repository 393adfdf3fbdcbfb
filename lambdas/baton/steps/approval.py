"""``approval``: waits for ``baton approve`` (or ``--reject``); its ``timeout`` fails it,
or approves it when the step says ``on_timeout: approve``.

While it waits nothing runs on its behalf: a local ``baton run`` with nothing else to do
exits, leaving the execution ``waiting``; ``baton approve`` records the answer and carries
the execution on from there.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from baton.steps.base import StepResult, StepType

if TYPE_CHECKING:
    from baton.engine.expressions import Expressions

APPROVED = "approved"
REJECTED = "rejected"


def prepare(fields: dict[str, Any], context: dict[str, Any], expressions: Expressions) -> dict[str, Any]:
    """Render the question put to the approver."""
    message = fields.get("message")
    return {"message": expressions.render(message, context) if message else None,
            "on_timeout": fields.get("on_timeout", "reject")}  # fmt: skip


def suspend(prepared: dict[str, Any], now: datetime, timeout_seconds: float | None) -> datetime | None:
    """Wait for an answer, until the step's timeout if it has one."""
    return now + timedelta(seconds=timeout_seconds) if timeout_seconds is not None else None


def wake(fields: dict[str, Any]) -> StepResult:
    """The timeout came before any answer: the step's default answer, a rejection unless
    it says ``on_timeout: approve``."""
    if fields.get("on_timeout") == "approve":
        return StepResult(outputs={"decision": APPROVED, "comment": "no answer before the timeout", "by": "timeout"})
    return StepResult.failure("no answer before the approval timed out", kind="timeout", retryable=False)


def answer(decision: str, comment: str | None, by: str) -> StepResult:
    """The result of an approval answered by ``by``."""
    outputs = {"decision": decision, "comment": comment or "", "by": by}
    if decision == APPROVED:
        return StepResult(outputs=outputs)
    reason = f"rejected by {by}" + (f": {comment}" if comment else "")
    return StepResult(outputs=outputs, error=reason, retryable=False)


STEP_TYPE = StepType(name="approval", mode="suspend", prepare=prepare, suspend=suspend, wake=wake)
