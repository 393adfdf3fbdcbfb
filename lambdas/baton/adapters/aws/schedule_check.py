"""Whether EventBridge Scheduler will accept a ``schedule:`` trigger, checked by the registrar
before any trigger is created: the expression by the language's own check (an AWS-cron
parser for ``cron(...)``, and ``rate(...)``/``at(...)`` as Scheduler writes them), and the
time zone, which only a machine with a time zone database can check.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from baton.spec.schedules import schedule_problem as expression_problem


def schedule_problem(expression: str, timezone: str | None = None) -> str | None:
    """What is wrong with ``expression`` (in ``timezone``) for EventBridge Scheduler, or None."""
    if timezone is not None and _have_time_zones():
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return f"unknown time zone {timezone!r} (expected an IANA name such as Europe/Paris)"
    text = expression.strip()
    problem = expression_problem(text)
    return f"{text}: {problem}" if problem else None


def _have_time_zones() -> bool:
    # Without a time zone database here, leave the name to Scheduler rather than refuse all.
    try:
        ZoneInfo("Europe/Paris")
    except ZoneInfoNotFoundError:
        return False
    return True
