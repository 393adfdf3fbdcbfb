"""Whether EventBridge Scheduler will accept a ``schedule:`` expression, checked before any
trigger is created: ``cron(...)`` field by field as AWS defines it, ``rate(...)`` and
``at(...)``, and the time zone.

The language checks the outline of an expression; this is the one place the registrar asks
whether AWS would take it (``schedule_problem``), so a fuller parser can replace the body.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (name, lowest, highest, names allowed, extra tokens allowed)
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...], tuple[str, ...]], ...] = (
    ("minutes", 0, 59, (), ()),
    ("hours", 0, 23, (), ()),
    ("day-of-month", 1, 31, (), ("?", "L", "W")),
    ("month", 1, 12, _MONTHS, ()),
    ("day-of-week", 1, 7, _DAYS, ("?", "L", "#")),
    ("year", 1970, 2199, (), ()),
)
_RATE = re.compile(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)")
_AT = re.compile(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)")
_CRON = re.compile(r"cron\((.*)\)")


def schedule_problem(expression: str, timezone: str | None = None) -> str | None:
    """What is wrong with ``expression`` for EventBridge Scheduler, or None."""
    if timezone is not None and _have_time_zones():
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return f"unknown time zone {timezone!r} (expected an IANA name such as Europe/Paris)"
    text = expression.strip()
    if rate := _RATE.fullmatch(text):
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            return f"{text}: a rate must be at least 1"
        if (value == 1) != (not unit.endswith("s")):
            return f"{text}: write '1 {unit.rstrip('s')}' or 'N {unit.rstrip('s')}s'"
        return None
    if at := _AT.fullmatch(text):
        try:
            datetime.fromisoformat(at.group(1))
        except ValueError:
            return f"{text}: not a real date and time"
        return None
    if cron := _CRON.fullmatch(text):
        return _cron_problem(text, cron.group(1).split())
    return f"{text}: expected cron(...), rate(...) or at(...)"


def _have_time_zones() -> bool:
    # Without a time zone database here, leave the name to Scheduler rather than refuse all.
    try:
        ZoneInfo("Europe/Paris")
    except ZoneInfoNotFoundError:
        return False
    return True


def _cron_problem(text: str, fields: list[str]) -> str | None:
    if len(fields) != len(_FIELDS):
        return f"{text}: a cron expression has 6 fields (minutes hours day-of-month month day-of-week year)"
    for value, (name, low, high, names, extra) in zip(fields, _FIELDS, strict=True):
        problem = _field_problem(value, low, high, names, extra)
        if problem:
            return f"{text}: {name} {value!r}: {problem}"
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return f"{text}: exactly one of day-of-month and day-of-week must be '?'"
    return None


def _field_problem(value: str, low: int, high: int, names: tuple[str, ...], extra: tuple[str, ...]) -> str | None:
    if value == "?" and "?" in extra:
        return None
    for part in value.split(","):
        problem = _part_problem(part.upper(), low, high, names, extra)
        if problem:
            return problem
    return None


def _part_problem(part: str, low: int, high: int, names: tuple[str, ...], extra: tuple[str, ...]) -> str | None:
    if "#" in part and "#" in extra:
        day, _, nth = part.partition("#")
        return _value_problem(day, low, high, names) or (None if nth in "12345" and nth else "#N takes 1-5")
    if part == "L" and "L" in extra:
        return None
    if part.endswith(("L", "W")) and part[-1] in extra and part[:-1]:
        return _value_problem(part[:-1], low, high, names)
    base, slash, step = part.partition("/")
    if slash and (not step.isdigit() or int(step) < 1):
        return f"step {step!r} must be a whole number >= 1"
    if base == "*":
        return None
    start, dash, end = base.partition("-")
    return _value_problem(start, low, high, names) or (_value_problem(end, low, high, names) if dash else None)


def _value_problem(value: str, low: int, high: int, names: tuple[str, ...]) -> str | None:
    if value in names:
        return None
    if not value.isdigit():
        return f"expected {low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
    if not low <= int(value) <= high:
        return f"{value} is outside {low}-{high}"
    return None
