"""Is an execution stalled? A pure check, for the sweeper that restarts stalled executions.

On AWS an execution moves only when a message arrives. If the message that should have
come never does (a worker died between its write and its send, or a message went to the
dead-letter queue), the execution would stay ``running`` forever. It is stalled when it is
``running``, nothing holds a live lease, no wake-up is due later, and the planner has work
that nobody has touched for a while.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from baton.engine.definition import Definition
from baton.engine.planner import plan
from baton.engine.records import PENDING, RUNNING, WAITING, ExecutionRecord, StepRecord

QUIET_SECONDS = 120.0
"""How long an execution with work to do must have shown no activity to count as stalled:
long enough for a message in the queue to have been delivered."""


def stall_reason(
    definition: Definition,
    execution: ExecutionRecord,
    records: Mapping[str, StepRecord],
    now: datetime,
    *,
    quiet_seconds: float = QUIET_SECONDS,
) -> str | None:
    """Why ``execution`` needs a nudge, or None when it is moving (or waits for people)."""
    if execution.status != RUNNING:
        return None
    running = [r for r in records.values() if r.status == RUNNING]
    expired = frozenset(r.key for r in running if r.lease_expires_at is not None and r.lease_expires_at <= now)
    live = [r for r in running if r.key not in expired and r.item_count is None]
    if live:
        return None  # a worker holds a unit and renews its lease
    if any(r.status in (PENDING, WAITING) and r.wake_at is not None and r.wake_at > now for r in records.values()):
        return None  # a wake-up message is due later
    decision = plan(definition, records, now=now, cancel_requested=execution.cancel_requested, orphaned=expired)
    if not decision.has_actions and decision.outcome is None:
        return None
    last = max((t for r in records.values() for t in (r.started_at, r.finished_at) if t is not None),
               default=execution.started_at)  # fmt: skip
    if last is not None and now - last < timedelta(seconds=quiet_seconds):
        return None
    if expired:
        return f"units {sorted(expired)} hold expired leases"
    if decision.outcome is not None:
        return f"every step ended ({decision.outcome}) but the execution was not closed"
    return f"units {sorted(decision.start + decision.finish)[:5]} are ready and nothing runs them"
