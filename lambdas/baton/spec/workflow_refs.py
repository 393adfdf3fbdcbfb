"""What a ``workflow:`` step names: a workflow, optionally pinned to a version or a digest.

::

    workflow: build                      the current definition of ``build``
    workflow: build@1.2                  the definition of ``build`` labelled ``version: "1.2"``
    workflow: build@sha256:3f2a9c0d1e4b  the definition with that digest (12 hex digits or more)
    workflow: ./ci/build.yaml            a file, relative to the file that names it (local only)

A step's own ``version:`` key is the same as ``@version``. Locally a name is looked up as
``NAME.yaml`` (or ``.yml``) beside the parent file, then in each folder of
``BATON_WORKFLOWS_PATH``; on AWS it is the registered name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
_DIGEST = re.compile(r"^sha256:([0-9a-f]{12,64})$")
DIGEST_PREFIX = "sha256:"
MIN_DIGEST_CHARS = 12


class WorkflowRefError(ValueError):
    """``workflow:`` is not a name, a pinned name or a file."""


@dataclass(frozen=True, slots=True)
class WorkflowRef:
    """A parsed ``workflow:`` value."""

    name: str | None = None
    """The workflow's name (None when the reference is a file)."""
    path: str | None = None
    """A file, as written (local only)."""
    version: str | None = None
    """The ``version:`` label pinned."""
    digest: str | None = None
    """The definition digest pinned (hex, possibly a unique prefix)."""

    def __str__(self) -> str:
        base = self.path if self.path is not None else str(self.name)
        if self.digest is not None:
            return f"{base}@{DIGEST_PREFIX}{self.digest}"
        return f"{base}@{self.version}" if self.version is not None else base

    @property
    def pinned(self) -> bool:
        """True when a version or a digest is named."""
        return self.version is not None or self.digest is not None


def is_path(text: str) -> bool:
    """True when ``text`` names a file rather than a workflow."""
    return "/" in text or text.endswith((".yaml", ".yml"))


def parse_reference(text: str, version: str | None = None) -> WorkflowRef:
    """Parse a ``workflow:`` value (and a step's ``version:``); ``WorkflowRefError`` says what is wrong."""
    text = text.strip()
    base, at, pin = text.partition("@")
    if at and version is not None:
        raise WorkflowRefError(f"{text!r} pins a version with '@' and the step sets version: too; keep one")
    if at and not pin:
        raise WorkflowRefError(f"{text!r}: nothing after '@' (expected NAME@VERSION or NAME@sha256:DIGEST)")
    pin = pin or version or ""
    digest = _DIGEST.match(pin)
    if pin.startswith(DIGEST_PREFIX) and digest is None:
        raise WorkflowRefError(
            f"{text!r}: a digest is written sha256: and at least {MIN_DIGEST_CHARS} lowercase hex digits"
        )
    pinned = {"digest": digest.group(1)} if digest else ({"version": pin} if pin else {})
    if is_path(base):
        return WorkflowRef(path=base, **pinned)
    if not _NAME.match(base):
        raise WorkflowRefError(
            f"{base!r} is not a workflow name ([a-z0-9][a-z0-9-_]{{0,79}}) nor a file (ending in .yaml or .yml)"
        )
    return WorkflowRef(name=base, **pinned)
