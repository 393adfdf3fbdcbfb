"""``InProcessStepQueue``: the step queue of a driver that runs everything in one process.

A unit sent here comes back to the same driver when it asks for work (it had no room when
it sent it), or when its time comes (a wake-up). Nothing leaves the process: on a laptop
there is no other worker to hand work to.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

_NOW = datetime.min.replace(tzinfo=UTC)
"""The due time of a unit sent without a delay: before every real time."""


class InProcessStepQueue:
    """Units due now or later, handed back earliest-due first, then in the order sent."""

    shared = False
    """What is sent comes back to this driver: no other worker takes it."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, str, str]] = []
        self._order = itertools.count()
        self._last_now = _NOW

    def send(self, execution_id: str, units: Sequence[str], delay_seconds: int = 0) -> None:
        """Queue ``units``, due after ``delay_seconds`` (counted from the last ``receive``)."""
        due = self._last_now + timedelta(seconds=delay_seconds) if delay_seconds else _NOW
        for unit in units:
            heapq.heappush(self._heap, (due, next(self._order), execution_id, unit))

    def send_at(self, execution_id: str, unit: str | None, when: datetime) -> None:
        """Queue ``unit`` to come back at ``when`` (the execution as a whole, ``unit`` None,
        needs no message here: its driver is the one waiting)."""
        if unit is None:
            return
        heapq.heappush(self._heap, (when, next(self._order), execution_id, unit))

    def receive(self, execution_id: str, now: datetime, limit: int) -> list[str]:
        """Up to ``limit`` units of ``execution_id`` due at ``now``."""
        self._last_now = now
        taken: list[str] = []
        others: list[tuple[datetime, int, str, str]] = []
        while self._heap and len(taken) < limit and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            if entry[2] == execution_id:
                taken.append(entry[3])
            else:
                others.append(entry)
        for entry in others:
            heapq.heappush(self._heap, entry)
        return taken
