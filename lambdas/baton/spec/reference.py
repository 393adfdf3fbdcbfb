"""Generates docs/yaml-reference.md from the JSON Schema of the models.

Run ``python -m baton.spec.reference > docs/yaml-reference.md`` (``make docs``); a test
checks that the committed file is current.
"""

from __future__ import annotations

import json
from typing import Any

from baton.spec.schema import workflow_schema
from baton.spec.steps import COMMON_STEP_KEYS

_SECTIONS = [
    ("Workflow", ["__root__"]),
    (
        "Inputs, outputs and secrets",
        ["InputSpec", "WorkflowOutput", "SsmSecret", "SecretsManagerSecret", "EnvSecret"],
    ),
    (
        "Defaults, concurrency and cache",
        ["Defaults", "Concurrency", "WorkflowCache", "RetryPolicy", "Backoff", "CachePolicy"],
    ),
    (
        "Steps",
        [
            "ShellStep",
            "AssertStep",
            "AgentStep",
            "HttpStep",
            "AwsStep",
            "WaitStep",
            "ApprovalStep",
            "WorkflowStep",
        ],
    ),
    ("Triggers", ["ScheduleTrigger", "EventTrigger", "EventPattern", "S3Trigger", "S3Location"]),
]


def _type_of(fragment: dict[str, Any]) -> str:
    if "$ref" in fragment:
        return f"[{fragment['$ref'].rsplit('/', 1)[-1]}](#{fragment['$ref'].rsplit('/', 1)[-1].lower()})"
    if "const" in fragment:
        return f"`{fragment['const']}`"
    if "enum" in fragment:
        return " \\| ".join(f"`{value}`" for value in fragment["enum"])
    for key in ("anyOf", "oneOf"):
        if key in fragment:
            parts = [_type_of(part) for part in fragment[key] if part.get("type") != "null"]
            return " \\| ".join(dict.fromkeys(parts))
    kind = fragment.get("type")
    if kind == "array":
        return f"list of {_type_of(fragment.get('items', {}))}"
    if kind == "object":
        values = fragment.get("additionalProperties") or next(
            iter(fragment.get("patternProperties", {}).values()), None
        )
        return f"map of {_type_of(values)}" if isinstance(values, dict) and values else "mapping"
    if isinstance(kind, list):
        return " \\| ".join(kind)
    if kind == "string" and fragment.get("pattern"):
        return "duration" if "ms|s|m|h|d|w" in fragment["pattern"] else "string"
    return str(kind or "any")


def _type_keys(step_schema: dict[str, Any]) -> tuple[str, ...]:
    return tuple(key for key in step_schema["properties"] if key not in COMMON_STEP_KEYS)


def _default(fragment: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" not in fragment or fragment["default"] in (None, [], {}):
        return ""
    return f"`{json.dumps(fragment['default'])}`"


def _table(schema: dict[str, Any], definitions: dict[str, Any], skip: tuple[str, ...] = ()) -> list[str]:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    required = set(schema.get("required", []))
    for key, fragment in schema.get("properties", {}).items():
        if key in skip:
            continue
        text = fragment.get("description") or definitions.get(fragment.get("$ref", "").rsplit("/", 1)[-1], {}).get(
            "description", ""
        )
        description = " ".join(text.replace("``", "`").split()).replace("|", "\\|")
        rows.append(f"| `{key}` | {_type_of(fragment)} | {_default(fragment, key in required)} | {description} |")
    return rows


def render_reference() -> str:
    """The YAML reference as Markdown."""
    schema = workflow_schema()
    definitions = schema["$defs"]
    lines = [
        "# YAML reference",
        "",
        "Generated from the language models by `make docs`; do not edit by hand.",
        "This page lists every key the validator accepts; expressions are described in expressions.md.",
        "Durations are written `90s`, `10m`, `1h30m`, `7d` or as a number of seconds.",
        "",
    ]
    for title, names in _SECTIONS:
        lines += [f"## {title}", ""]
        if title == "Steps":
            lines += [
                "### Keys of every step", "",
                *_table(definitions["ShellStep"], definitions, skip=_type_keys(definitions["ShellStep"])),
                "",
                "A compensation body (`compensate:`) takes the keys of its type plus "
                "`name`, `timeout`, `retry` and `env`.",
                "",
            ]  # fmt: skip
        for name in names:
            part = schema if name == "__root__" else definitions[name]
            heading = "workflow file" if name == "__root__" else name
            lines += [f"### {heading}", ""]
            doc = " ".join(part.get("description", "").replace("``", "`").split())
            if doc:
                lines += [doc, ""]
            skip = COMMON_STEP_KEYS if title == "Steps" else ()
            lines += [*_table(part, definitions, skip=skip), ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render_reference(), end="")
