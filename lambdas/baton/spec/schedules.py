"""EventBridge Scheduler expressions: ``cron(...)``, ``rate(...)`` and ``at(...)``.

AWS cron has six fields (minutes hours day-of-month month day-of-week year), ``?`` in one of
the two day fields, and ``L``, ``W`` and ``#``; it is checked by a parser made for it, not a
Unix cron library. ``rate(1 minute)`` is singular and ``rate(5 minutes)`` plural, as AWS
requires.
"""

from __future__ import annotations

import re
from datetime import datetime

_CRON = re.compile(r"^cron\((?P<body>.*)\)$", re.DOTALL)
_RATE = re.compile(r"^rate\((?P<value>\d+)\s+(?P<unit>minutes?|hours?|days?)\)$")
_AT = re.compile(r"^at\((?P<moment>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")
_EXPECTED = "expected cron(min hour day month weekday year), rate(N minutes|hours|days) or at(yyyy-mm-ddThh:mm:ss)"


def schedule_problem(expression: str) -> str | None:
    """Why ``expression`` is not a valid EventBridge schedule, or None."""
    if cron := _CRON.match(expression):
        return _cron_problem(cron.group("body"))
    if rate := _RATE.match(expression):
        return _rate_problem(int(rate.group("value")), rate.group("unit"))
    if at := _AT.match(expression):
        try:
            datetime.fromisoformat(at.group("moment"))
        except ValueError as exc:
            return f"at(): {exc}"
        return None
    return _EXPECTED


def _cron_problem(body: str) -> str | None:
    fields = body.split()
    if len(fields) != 6:
        return f"cron() takes 6 fields (min hour day month weekday year), got {len(fields)}"
    # Loaded (and its patterns compiled) only for a file with a cron schedule.
    from aws_cron_expression_validator.validator import AWSCronExpressionValidator  # type: ignore[import-untyped]

    try:
        AWSCronExpressionValidator.validate(" ".join(fields))
    except ValueError as exc:
        return f"cron(): {str(exc).replace('.One', '. One')}"
    return None


def _rate_problem(value: int, unit: str) -> str | None:
    if value < 1:
        return "rate() needs a value of at least 1"
    singular = unit.rstrip("s")
    if value == 1 and unit != singular:
        return f"rate(1 {unit}) must be rate(1 {singular})"
    if value > 1 and unit == singular:
        return f"rate({value} {unit}) must be rate({value} {singular}s)"
    return None
