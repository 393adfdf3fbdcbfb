"""The full cache key of a step.

A SHA-256 over: the workflow and step names, the rendered step body (its type's fields,
environment and declared output paths), the rendered ``cache_key``, the content digests of
the artifacts the step can see (workflow inputs of type ``artifact`` and files stored by the
steps it runs after), the workflow's ``cache.version`` and the engine's cache format.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

CACHE_FORMAT_VERSION = "1"
"""Bumped when what a cache entry holds changes, so old entries become misses."""


def full_cache_key(
    *,
    workflow: str,
    step_id: str,
    step_type: str,
    body: Any,
    env: Mapping[str, str],
    output_paths: Mapping[str, str],
    rendered_key: str | None,
    input_digests: Mapping[str, str],
    cache_version: str,
) -> str:
    """The hex SHA-256 cache key of one step (or ``for_each`` item) run."""
    material = {
        "format": CACHE_FORMAT_VERSION,
        "cache_version": cache_version,
        "workflow": workflow,
        "step": step_id,
        "type": step_type,
        "body": body,
        "env": dict(env),
        "outputs": dict(output_paths),
        "key": rendered_key,
        "inputs": dict(input_digests),
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
