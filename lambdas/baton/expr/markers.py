"""Whether a value holds a template at all: the cheap test made before any rendering (it
needs no Jinja2, so modules that only ask it stay light to import)."""

from __future__ import annotations

from typing import Any


def has_template(value: Any) -> bool:
    """True when a string anywhere in ``value`` contains a template part."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(has_template(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_template(v) for v in value)
    return False
