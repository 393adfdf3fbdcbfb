"""How expression results become text and plain data."""

from __future__ import annotations

import itertools
import json
from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from datetime import date, datetime
from typing import Any

from jinja2 import Undefined
from jinja2.exceptions import UndefinedError

from baton.expr.limits import MAX_TEXT_CHARS, check_size


def to_text(value: Any) -> str:
    """Render a value as ``{{ }}`` output does: none -> ``""``, booleans -> ``true``/``false``,
    lists and dicts -> compact JSON, anything else -> ``str()``.

    YAML and JSON users expect ``true`` and ``null``-as-empty, not Python's ``True``/``None``.
    """
    value = to_native(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return str(value)


def to_native(value: Any) -> Any:
    """Turn an expression result into plain data, failing on any undefined part.

    Generators (``items | map(...)``), ranges, tuples, sets and dict views become lists so the
    result can be stored as JSON; an undefined value anywhere raises its ``UndefinedError``.
    """
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises the error that says what was missing
        raise UndefinedError("an undefined value was used")
    if isinstance(value, str | bool | int | float) or value is None:
        return value
    if isinstance(value, dict):
        return {key: to_native(item) for key, item in value.items()}
    if isinstance(value, list | tuple | range | set | frozenset | KeysView | ValuesView | ItemsView):
        check_size(len(value), "the list")
        return [to_native(item) for item in value]
    if isinstance(value, Iterator):
        items = list(itertools.islice(value, MAX_TEXT_CHARS + 1))
        check_size(len(items), "the list")
        return [to_native(item) for item in items]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
