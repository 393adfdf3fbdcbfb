"""The workspace as the agent leaves it: which files changed, and whether anything next to it
changed (the check after every run that nothing outside the workspace was written)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SKIPPED_DIRECTORIES = frozenset(
    {".baton", ".git", ".venv", "node_modules", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
)
"""Directories whose contents never count as changed by the agent (state, caches, tooling)."""

Stamp = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Size and modification time of every file under a root, and of the entries beside it."""

    files: dict[str, Stamp]
    neighbours: dict[str, Stamp]

    @classmethod
    def take(cls, workspace: Path, skip: frozenset[str] = frozenset()) -> Snapshot:
        """Walk the workspace (skipping tooling directories) and list its parent's entries."""
        return cls(_files(workspace, SKIPPED_DIRECTORIES | skip), _neighbours(workspace))

    def changed_files(self, after: Snapshot) -> list[str]:
        """Files created or modified since this snapshot, sorted (deleted ones are not listed)."""
        return sorted(path for path, stamp in after.files.items() if self.files.get(path) != stamp)

    def changed_outside(self, after: Snapshot) -> list[str]:
        """Files beside the workspace that appeared, vanished or changed."""
        names = set(self.neighbours) | set(after.neighbours)
        return sorted(f"../{name}" for name in names if self.neighbours.get(name) != after.neighbours.get(name))


def _files(root: Path, skip: frozenset[str]) -> dict[str, Stamp]:
    found: dict[str, Stamp] = {}
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if d not in skip]
        for name in names:
            path = os.path.join(directory, name)
            try:
                info = os.stat(path, follow_symlinks=False)
            except OSError:
                continue
            found[os.path.relpath(path, root).replace(os.sep, "/")] = (info.st_size, info.st_mtime_ns)
    return found


def _neighbours(workspace: Path) -> dict[str, Stamp]:
    parent = workspace.resolve().parent
    if parent == workspace.resolve():
        return {}
    found: dict[str, Stamp] = {}
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return {}
    for entry in entries:
        if entry.name == workspace.resolve().name:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        # Only files count: other programs and runs create and remove directories beside it
        # (temporary folders, checkouts), which would make the check cry wolf.
        if not entry.is_dir(follow_symlinks=False):
            found[entry.name] = (info.st_size, info.st_mtime_ns)
    return found


def inside(workspace: Path, relative: str) -> Path | None:
    """``relative`` resolved in the workspace, or None when it points outside (``..``, absolute, links)."""
    root = workspace.resolve()
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        return None
    return candidate
