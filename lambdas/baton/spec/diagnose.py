"""Turns pydantic validation errors into located, human messages.

Pydantic reports a location like ``('steps', 3, 'shell', 'retry', 'max_attempts')``: data keys
mixed with union tags. We walk that location through the data to find the YAML path, look up
where it is written, and say what was expected in the words of the language, not of pydantic.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from baton.spec.source import PathKey, Position, SourceDocument
from baton.spec.steps import (
    _INFERRED_BY_KEY,
    COMMON_STEP_KEYS,
    STEP_ERROR_TYPE,
    STEP_TYPES,
    TYPE_ALIASES,
    step_type_of,
)

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "a boolean (true or false)",
    "bool_parsing": "a boolean (true or false)",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "literal_error": None,
}


def format_path(path: PathKey) -> str:
    """``('steps', 3, 'retry')`` -> ``steps[3].retry``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.replace("_", "").replace("-", "").isalnum():
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]'
    return text


def data_path(loc: tuple[int | str, ...], data: Any) -> PathKey:
    """The part of a pydantic location that names real keys and indexes of ``data``."""
    path: list[str | int] = []
    current = data
    for part in loc:
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            path.append(part)
            current = current[part]
    return tuple(path)


def value_at(data: Any, path: PathKey) -> Any:
    """The value at ``path`` in ``data``."""
    for part in path:
        data = data[part]
    return data


def model_at(root: type[BaseModel], data: Any, path: PathKey) -> type[BaseModel] | None:
    """The language model that validates the mapping at ``path``, if one does."""
    annotation: Any = root
    current = data
    for part in path:
        model = _as_model(annotation, current)
        if model is not None and isinstance(part, str):
            field = _field_named(model, part)
            if field is None:
                return None
            annotation = field.annotation
        else:
            annotation = _item_annotation(annotation, current)
            if annotation is None:
                return None
        current = value_at(current, (part,)) if isinstance(current, dict | list) else None
    return _as_model(annotation, current)


def _field_named(model: type[BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _arms(annotation: Any) -> list[Any]:
    """The plain alternatives of an annotation, unwrapping Annotated and unions."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _arms(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [arm for option in typing.get_args(annotation) for arm in _arms(option)]
    return [annotation]


def _as_model(annotation: Any, value: Any) -> type[BaseModel] | None:
    models = [arm for arm in _arms(annotation) if isinstance(arm, type) and issubclass(arm, BaseModel)]
    if len(models) == 1:
        return models[0]
    kind = step_type_of(value) if isinstance(value, dict) else None
    for model in models:
        type_field = model.model_fields.get("type")
        if kind and type_field is not None and kind in typing.get_args(type_field.annotation):
            return model
    return None


def _item_annotation(annotation: Any, value: Any) -> Any:
    for arm in _arms(annotation):
        origin = typing.get_origin(arm)
        if origin is list and isinstance(value, list):
            return typing.get_args(arm)[0]
        if origin is dict and isinstance(value, dict):
            return typing.get_args(arm)[1]
    return None


def allowed_keys(model: type[BaseModel]) -> list[str]:
    """The keys a model accepts, as written in YAML."""
    return [field.alias or name for name, field in model.model_fields.items()]


class ErrorTranslator:
    """Translates one document's validation errors into ``(position, path, message)`` triples."""

    def __init__(self, root: type[BaseModel], document: SourceDocument) -> None:
        self._root = root
        self._doc = document

    def translate(self, error: ValidationError) -> list[tuple[Position, PathKey, str]]:
        grouped: dict[PathKey, list[ErrorDetails]] = defaultdict(list)
        for detail in error.errors(include_url=False):
            grouped[data_path(detail["loc"], self._doc.data)].append(detail)
        results = []
        for path, details in grouped.items():
            for key_based, message in self._messages(path, details):
                where = path
                if any(d["type"] == STEP_ERROR_TYPE for d in details) and (*path, "type") in self._doc.values:
                    where = (*path, "type")
                results.append((self._doc.position_of(where, key=key_based), where, message))
        return results

    def _messages(self, path: PathKey, details: list[ErrorDetails]) -> list[tuple[bool, str]]:
        if any(d["type"] == STEP_ERROR_TYPE for d in details):
            return [self._step_type_message(path)]
        typed = [d for d in details if d["type"] in _TYPE_WORDS and _TYPE_WORDS[d["type"]]]
        if len(typed) > 1 and len(typed) == len(details):
            words = sorted({_TYPE_WORDS[d["type"]] or "" for d in typed})
            got = _show(details[0].get("input"))
            return [(False, f"expected {' or '.join(words)}, got {got}")]
        return [self._message(path, detail) for detail in _unique(details)]

    def _message(self, path: PathKey, detail: ErrorDetails) -> tuple[bool, str]:
        kind = detail["type"]
        loc = detail["loc"]
        got = _show(detail.get("input"))
        if kind == "missing":
            return False, f"missing required key '{loc[-1]}'"
        if kind == "extra_forbidden":
            return True, self._unknown_key_message(path)
        if _TYPE_WORDS.get(kind):
            return False, f"expected {_TYPE_WORDS[kind]}, got {got}"
        if kind == "literal_error":
            expected = detail.get("ctx", {}).get("expected", "")
            return False, f"expected one of {expected}, got {got}"
        if kind == "string_pattern_mismatch":
            pattern = detail.get("ctx", {}).get("pattern", "")
            return False, f"{got} does not match {pattern} (lowercase letters, digits, '_' and '-')"
        message = detail["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if kind in _BOUND_ERRORS:
            message = message.replace("Input should be", "must be").replace("List should have", "must have")
            message = f"{message.split(' after validation')[0]}, got {got}"
        return False, message

    def _unknown_key_message(self, path: PathKey) -> str:
        key = str(path[-1])
        model = model_at(self._root, self._doc.data, path[:-1])
        if model is None:
            return f"unknown key '{key}'"
        allowed = allowed_keys(model)
        habit = HABITS.get(key)
        hint = [habit] if habit in allowed else difflib.get_close_matches(key, allowed, n=1)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
        return f"unknown key '{key}'{suggestion} (expected one of: {', '.join(allowed)})"

    def _step_type_message(self, path: PathKey) -> tuple[bool, str]:
        step = value_at(self._doc.data, path)
        valid = ", ".join((*STEP_TYPES, *TYPE_ALIASES))
        if not isinstance(step, dict):
            return False, f"expected a step mapping (with 'id' and 'type'), got {_show(step)}"
        kind = step.get("type")
        if kind is None:
            inferred = sorted({_INFERRED_BY_KEY[k] for k in step if k in _INFERRED_BY_KEY})
            if len(inferred) > 1:
                return (
                    False,
                    f"cannot tell the step type: keys of {', '.join(inferred)} steps; add 'type'",
                )
            unknown = [k for k in step if isinstance(k, str) and k not in (*COMMON_STEP_KEYS, "type")]
            hints = [(k, _meant_key(k)) for k in unknown]
            hint = "".join(f"; unknown key '{k}', did you mean '{close[0]}'?" for k, close in hints if close)
            return False, f"missing key 'type' (expected one of: {valid}){hint}"
        close = difflib.get_close_matches(str(kind), [*STEP_TYPES, *TYPE_ALIASES], n=1)
        meant = _MEANT_TYPES.get(str(kind).lower(), close[0] if close else None)
        hint = f"; did you mean '{meant}'?" if meant else ""
        return False, f"unknown step type {_show(kind)}{hint} (expected one of: {valid})"


#: Keys users bring from GitHub Actions and other CI tools, mapped to Baton's.
HABITS = {"run": "command", "if": "when", "depends_on": "needs", "depends-on": "needs", "shell": "command"}


def _meant_key(key: str) -> list[str]:
    habit = HABITS.get(key)
    return [habit] if habit else difflib.get_close_matches(key, list(_INFERRED_BY_KEY), n=1)


# Names users bring from other tools, mapped to the step type that does the same.
_MEANT_TYPES = {
    "bash": "shell", "sh": "shell", "run": "shell", "script": "shell", "command": "shell",
    "llm": "agent", "claude": "agent", "ai": "agent", "request": "http", "webhook": "http",
    "sleep": "wait", "delay": "wait", "approve": "approval", "manual": "approval", "gate": "approval",
    "subworkflow": "workflow", "call": "workflow", "check": "assert", "test": "assert",
}  # fmt: skip
_BOUND_ERRORS = ("greater_than_equal", "less_than_equal", "greater_than", "less_than", "too_short", "too_long")


def _unique(details: list[ErrorDetails]) -> list[ErrorDetails]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for detail in details:
        marker = (detail["type"], detail["msg"])
        if marker not in seen:
            seen.add(marker)
            unique.append(detail)
    return unique


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
