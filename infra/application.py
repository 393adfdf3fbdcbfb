"""Build the CDK app: context from ``cdk.json``, the Baton stack, the cdk-nag checks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from aws_cdk import App

from infra.config import props_from_context
from infra.nag import add_nag_checks
from infra.stack import BatonStack

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = PROJECT_ROOT / "cdk.json"


class BatonApp(NamedTuple):
    """A built app and its one stack."""

    app: App
    stack: BatonStack


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """Return the ``context`` block of ``cdk.json`` (feature flags and ``baton:*`` keys).

    The CDK CLI passes this block to the app itself; ``python app.py`` and the tests do
    not go through the CLI, so they read it here and synthesize the same template.
    """
    context = json.loads(path.read_text(encoding="utf-8")).get("context", {})
    if not isinstance(context, dict):
        raise ValueError(f"{path}: 'context' must be an object, got {type(context).__name__}")
    return context


def build_app(
    *,
    outdir: str | None = None,
    context: Mapping[str, Any] | None = None,
    with_nag: bool = True,
) -> BatonApp:
    """Create the app and the Baton stack, with cdk-nag checks unless ``with_nag`` is false.

    ``context`` overrides ``cdk.json``; context given on the CDK command line (``-c``)
    overrides both.
    """
    app = App(outdir=outdir, context={**cdk_json_context(), **(context or {})})
    stack = BatonStack(app, props_from_context(app.node))
    if with_nag:
        add_nag_checks(app)
    return BatonApp(app=app, stack=stack)
