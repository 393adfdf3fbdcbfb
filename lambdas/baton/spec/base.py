"""Shared base model and small value types of the workflow language."""

from __future__ import annotations

import sys
import types
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema


def _no_pydantic_plugins() -> None:
    """Give pydantic a plugin loader that finds none, unless its own is loaded already.

    The language's models use no pydantic plugins, and pydantic looks for them when it
    builds the first validator by reading the metadata of every installed package
    (``importlib.metadata``: about 15 ms of every first run of a file, a twentieth of it).
    pydantic imports one name from that module, ``get_plugins``; a test checks it still does.
    """
    name = "pydantic.plugin._loader"
    if name in sys.modules:
        return
    loader = types.ModuleType(name, "Baton's stand-in: no pydantic plugins.")
    loader.get_plugins = lambda: ()  # type: ignore[attr-defined]
    sys.modules[name] = loader


_no_pydantic_plugins()

STEP_ID_PATTERN = r"^[a-z0-9_][a-z0-9_-]*$"
WORKFLOW_NAME_PATTERN = r"^[a-z0-9][a-z0-9\-_]{0,79}$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class SpecModel(BaseModel):
    """Base of every language model: unknown keys are errors, docstrings document fields.

    The validators are built when a document is first validated (``defer_build``), not one
    per model at import: the ``Workflow``'s, and each step type's the first time a step of
    that type is met (``baton.spec.steps.ByType``). Field docstrings are read
    only for the JSON Schema (``baton.spec.schema``): parsing the source of every class
    would cost each first run of a file tens of milliseconds. A model used as a default is
    made with ``model_construct()`` (the same value), which needs no validator of its own.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        frozen=True,
        defer_build=True,
    )


def _scalar_to_str(value: Any) -> Any:
    """YAML turns ``1.0`` or ``true`` into numbers and booleans; where a string is meant, keep the text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


ScalarString = Annotated[
    str,
    BeforeValidator(_scalar_to_str),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]
"""A string that may be written as a bare YAML number or boolean (``version: 1.0``)."""

StepId = Annotated[str, Field(pattern=STEP_ID_PATTERN, max_length=80)]
EnvName = Annotated[str, Field(pattern=ENV_NAME_PATTERN)]
EnvMap = dict[EnvName, ScalarString]
Template = str
"""Text that may contain ``{{ expression }}`` parts, rendered at run time."""
Expression = Annotated[
    str | bool,
    WithJsonSchema({"type": ["string", "boolean"]}),
]
"""A bare expression (``steps.test.outputs.exit_code == 0``), which may contain ``{{ }}`` parts."""
