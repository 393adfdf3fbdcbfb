"""Durations as the language writes them: ``90s``, ``10m``, ``1h30m``, ``7d`` or a number of seconds."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)"
_DURATION = re.compile(rf"^(?:{_PART})+$")
DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"


def parse_duration(value: Any) -> float:
    """Return a duration in seconds, or raise ``ValueError`` saying what was expected."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s, 10m, 1h or 7d, got a boolean")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 90s, 10m, 1h or 7d, got {value!r}")
    text = value.strip().lower()
    if not _DURATION.match(text):
        raise ValueError(
            f"invalid duration {value!r}: expected a number and a unit (ms, s, m, h, d, w), "
            "such as 90s, 10m, 1h30m or 7d"
        )
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in re.findall(_PART, text))


def format_duration(seconds: float) -> str:
    """Render seconds compactly (``3723`` -> ``1h2m3s``)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    remaining = int(seconds)
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        count, remaining = divmod(remaining, int(size))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "number", "minimum": 0},
            ],
            "description": "A duration: 90s, 10m, 1h30m, 7d, or a number of seconds.",
        }
    ),
]
"""Seconds, written in YAML as ``90s``/``10m``/``1h``/``7d`` or a plain number."""
