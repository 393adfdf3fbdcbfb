"""``wait``: a pause for a ``duration`` or ``until`` a time, holding no worker meanwhile.

The unit is recorded as ``waiting`` with its wake time, so a crash or a resume continues the
same wait instead of starting it over.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from baton.errors import StepFailedError
from baton.steps.base import StepResult, StepType

if TYPE_CHECKING:
    from baton.engine.expressions import Expressions


def prepare(fields: dict[str, Any], context: dict[str, Any], expressions: Expressions) -> dict[str, Any]:
    """Resolve the wait to a duration in seconds or an ISO-8601 time."""
    if fields.get("duration") is not None:
        return {"duration": float(fields["duration"])}
    until = str(expressions.render(str(fields["until"]), context))
    return {"until": _parse_time(until).isoformat()}


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise StepFailedError(
            f"until: {text!r} is not an ISO-8601 time (such as 2026-01-31T09:00:00Z)",
            retryable=False,
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def suspend(prepared: dict[str, Any], now: datetime, timeout_seconds: float | None) -> datetime:
    """When the wait ends."""
    if "duration" in prepared:
        return now + timedelta(seconds=prepared["duration"])
    return datetime.fromisoformat(prepared["until"])


def wake(prepared: dict[str, Any]) -> StepResult:
    """The wait is over."""
    return StepResult()


STEP_TYPE = StepType(name="wait", mode="suspend", prepare=prepare, suspend=suspend, wake=wake)
