"""Paths a workflow names inside the workspace: declared ``outputs`` and the files a cache
hit restores. Every such path must resolve inside the workspace - after templating and with
symlinks followed - or Baton would copy a file from elsewhere into the artifact store, or
overwrite one elsewhere with a cached copy.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from baton.errors import BatonError

_TEMPLATE_MARKERS = ("{{", "{%")


class OutsideWorkspaceError(BatonError):
    """A declared output path resolves outside the workspace."""

    retryable = False


def inside_workspace(workspace: Path, path: str, what: str) -> Path:
    """``path`` (relative to ``workspace``, or absolute within it) resolved, symlinks followed.

    Raises ``OutsideWorkspaceError`` naming ``what`` when it resolves anywhere else.
    """
    root = workspace.resolve()
    if not path or "\0" in path:
        raise OutsideWorkspaceError(f"{what}: {path!r} is not a file path")
    resolved = (root / path).resolve()
    if resolved == root or not resolved.is_relative_to(root):
        raise OutsideWorkspaceError(
            f"{what}: {path} resolves to {resolved}, outside the workspace {root}; declare a path inside the workspace"
        )
    return resolved


def relative_to_workspace(workspace: Path, path: str, what: str) -> str:
    """The workspace-relative POSIX form of a path accepted by :func:`inside_workspace`."""
    return inside_workspace(workspace, path, what).relative_to(workspace.resolve()).as_posix()


def static_path_problem(path: str) -> str | None:
    """Why an output path with no template in it can never be inside a workspace, or None.

    Used at validation; templated paths (and symlinks) are checked when the step runs.
    """
    if any(marker in path for marker in _TEMPLATE_MARKERS):
        return None
    pure = PurePosixPath(path)
    if not path.strip():
        return "an output path cannot be empty"
    if pure.is_absolute():
        return f"{path} is an absolute path; declare the output relative to the workspace"
    depth = 0
    for part in pure.parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            return f"{path} leaves the workspace through '..'; declare a path inside the workspace"
    if depth == 0:
        return f"{path} is the workspace itself, not a file in it"
    return None
