"""The JSON Schema of the workflow language, generated from the models."""

from __future__ import annotations

import json
from typing import Any

from baton import __version__
from baton.spec.models import Workflow

SCHEMA_ID = "https://baton.dev/schema/workflow.json"


def workflow_schema() -> dict[str, Any]:
    """The schema of a workflow file (validation mode: what a YAML file may contain)."""
    schema = Workflow.model_json_schema(mode="validation", by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Baton workflow",
        "description": f"A Baton workflow file (baton {__version__}).",
        **{key: value for key, value in schema.items() if key not in ("title", "description")},
    }


def schema_json() -> str:
    """The schema as stable, indented JSON text with a trailing newline."""
    return json.dumps(workflow_schema(), indent=2, sort_keys=True) + "\n"
