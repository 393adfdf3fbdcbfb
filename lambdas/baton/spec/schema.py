"""The JSON Schema of the workflow language, generated from the models."""

from __future__ import annotations

import ast
import inspect
import json
import sys
from functools import cache
from typing import Any

from baton import __version__
from baton.spec.base import SpecModel
from baton.spec.models import Workflow
from baton.spec.steps import whole_unions

SCHEMA_ID = "https://baton.dev/schema/workflow.json"


def workflow_schema() -> dict[str, Any]:
    """The schema of a workflow file (validation mode: what a YAML file may contain)."""
    with whole_unions(Workflow):
        schema = Workflow.model_json_schema(mode="validation", by_alias=True)
    definitions = schema.get("$defs", {})
    _describe_fields(schema, "Workflow", definitions)
    for name, fragment in definitions.items():
        _describe_fields(fragment, name, definitions)
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


def _describe_fields(fragment: dict[str, Any], model_name: str, definitions: dict[str, Any]) -> None:
    """Give each property of a model the docstring written under its field, as pydantic's
    ``use_attribute_docstrings`` would: it replaces the description of the field's type, and
    is left out where it repeats the description of the model the property refers to."""
    model = _models().get(model_name)
    properties = fragment.get("properties")
    if model is None or not isinstance(properties, dict):
        return
    for name, field in model.model_fields.items():
        text = _field_doc(model, name)
        prop = properties.get(field.alias or name)
        if text is None or not isinstance(prop, dict):
            continue
        referred = str(prop.get("$ref", "")).removeprefix("#/$defs/")
        if referred and definitions.get(referred, {}).get("description") == text:
            continue
        prop["description"] = text


def _models() -> dict[str, type[SpecModel]]:
    """Every language model by class name (the names of the schema's ``$defs``)."""
    found: dict[str, type[SpecModel]] = {}
    pending: list[type[SpecModel]] = [SpecModel]
    while pending:
        model = pending.pop()
        for sub in model.__subclasses__():
            found.setdefault(sub.__name__, sub)
            pending.append(sub)
    return found


def _field_doc(model: type[Any], name: str) -> str | None:
    """The docstring under ``name`` in the class of the MRO that declares it (as pydantic's
    ``use_attribute_docstrings`` reads them)."""
    for klass in model.__mro__:
        if name in inspect.get_annotations(klass):
            return _class_docs(sys.modules[klass.__module__].__file__ or "", klass.__qualname__).get(name)
    return None


@cache
def _class_docs(filename: str, qualname: str) -> dict[str, str]:
    """Attribute docstrings of the top-level class ``qualname`` in a source file."""
    tree = _module_tree(filename)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == qualname:
            docs: dict[str, str] = {}
            for before, after in zip(node.body, node.body[1:], strict=False):
                if (
                    isinstance(before, ast.AnnAssign)
                    and isinstance(before.target, ast.Name)
                    and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                ):
                    docs[before.target.id] = inspect.cleandoc(after.value.value)
            return docs
    return {}


@cache
def _module_tree(filename: str) -> ast.Module:
    with open(filename, encoding="utf-8") as source:
        return ast.parse(source.read())
