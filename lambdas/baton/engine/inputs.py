"""Workflow inputs: parsing ``--input k=v``, checking them against the ``inputs`` section, and
converting output values to their declared type. All problems are ``InputError``s, raised
before anything runs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from baton.errors import InputError

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``."""
    values = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise InputError(f"--input {pair!r}: expected NAME=VALUE")
        values[name.strip()] = value
    return values


def read_inputs_file(path: Path) -> dict[str, Any]:
    """Inputs from a JSON or YAML mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--inputs-file {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except ValueError:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InputError(f"--inputs-file {path}: neither JSON nor YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"--inputs-file {path}: expected a mapping of input names to values")
    return data


def _matches(value: Any, kind: str) -> bool:
    if isinstance(value, bool):
        return kind == "boolean"
    checks: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "artifact": str,
        "number": (int, float),
        "integer": int,
        "boolean": bool,
        "object": dict,
        "array": list,
    }
    return isinstance(value, checks[kind])


def _from_text(label: str, text: str, kind: str) -> Any:
    """Convert a command-line string to the input's type."""
    try:
        if kind in ("string", "artifact"):
            return text
        if kind == "integer":
            return int(text)
        if kind == "number":
            number = float(text)
            return int(number) if number.is_integer() and "." not in text else number
        if kind == "boolean":
            if text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            raise ValueError(text)
        return json.loads(text)
    except ValueError as exc:
        raise InputError(f"{label}: {text!r} is not a valid {kind}") from exc


def resolve_inputs(
    specs: Mapping[str, Mapping[str, Any]],
    given: Mapping[str, Any],
    *,
    from_text: frozenset[str] = frozenset(),
    workspace: Path | None = None,
) -> dict[str, Any]:
    """Check ``given`` against the input specs, apply defaults, convert command-line text.

    ``from_text`` names the values that came from ``--input`` (strings to convert).
    """
    unknown = sorted(set(given) - set(specs))
    if unknown:
        declared = ", ".join(specs) or "none"
        raise InputError(f"unknown input {', '.join(unknown)} (declared: {declared})")
    resolved: dict[str, Any] = {}
    for name, spec in specs.items():
        kind = spec.get("type", "string")
        if name not in given:
            if spec.get("required"):
                raise InputError(f"input {name} is required ({kind}); pass --input {name}=VALUE")
            if spec.get("default") is not None:
                resolved[name] = spec["default"]
            continue
        value = given[name]
        if name in from_text and isinstance(value, str):
            value = _from_text(f"input {name}", value, kind)
        if not _matches(value, kind):
            raise InputError(f"input {name}: expected {kind}, got {type(value).__name__} {value!r}")
        if spec.get("enum") is not None and value not in spec["enum"]:
            raise InputError(f"input {name}: {value!r} is not one of {spec['enum']}")
        if kind == "artifact" and workspace is not None and not (workspace / value).is_file():
            raise InputError(f"input {name}: no file at {value}")
        resolved[name] = value
    return resolved


def convert_output(name: str, value: Any, kind: str | None) -> Any:
    """A rendered workflow output converted to its declared ``type``."""
    if kind is None or kind == "artifact":
        return value
    if isinstance(value, str) and kind != "string":
        return _from_text(f"output {name}", value.strip(), kind)
    if kind == "string" and not isinstance(value, str):
        return json.dumps(value) if isinstance(value, dict | list) else str(value)
    return value
