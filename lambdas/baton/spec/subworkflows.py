"""Finding the files ``workflow:`` steps name on a laptop, and refusing static recursion.

A name is looked up as ``NAME.yaml`` (then ``NAME.yml``) beside the file that names it, then
in each folder of ``BATON_WORKFLOWS_PATH`` (separated like ``PATH``); a file is relative to
the file that names it. A name pinned to a version or a digest may also be found among the
definitions already run here, so a missing file is not an error for it at validation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from baton.errors import DefinitionError, Diagnostic
from baton.spec.workflow_refs import WorkflowRef, WorkflowRefError, parse_reference

WORKFLOWS_PATH_ENV = "BATON_WORKFLOWS_PATH"
_LISTS = ("steps", "on_failure", "finally")


def search_path(environ: Mapping[str, str]) -> list[Path]:
    """The folders of ``BATON_WORKFLOWS_PATH``, in order."""
    return [Path(part) for part in environ.get(WORKFLOWS_PATH_ENV, "").split(os.pathsep) if part]


def candidates(ref: WorkflowRef, beside: Path, search: Sequence[Path]) -> list[Path]:
    """Where a reference's file may be, in the order they are tried."""
    if ref.path is not None:
        path = Path(ref.path)
        return [path if path.is_absolute() else beside / path]
    return [folder / f"{ref.name}{suffix}" for folder in (beside, *search) for suffix in (".yaml", ".yml")]


def find_file(ref: WorkflowRef, beside: Path, search: Sequence[Path]) -> Path | None:
    """The first file a reference names that exists, or None."""
    return next((path for path in candidates(ref, beside, search) if path.is_file()), None)


def not_found_message(ref: WorkflowRef, beside: Path, search: Sequence[Path]) -> str:
    """Why a reference found nothing, naming every place looked at."""
    looked = ", ".join(str(path) for path in candidates(ref, beside, search)[:6])
    where = "" if ref.path is not None else f" (set {WORKFLOWS_PATH_ENV} to look in more folders)"
    return f"no workflow {str(ref)!r}: looked for {looked}{where}"


def check_children(path: Path, search: Sequence[Path]) -> None:
    """Raise ``DefinitionError`` when a ``workflow:`` step of ``path`` (or of a workflow it
    calls, transitively) names no file, an invalid file, or a workflow already on the chain."""
    diagnostics = _check(path.resolve(), search, (path.resolve(),), str(path))
    if diagnostics:
        raise DefinitionError(sorted(set(diagnostics)))


def _check(path: Path, search: Sequence[Path], chain: tuple[Path, ...], shown: str) -> list[Diagnostic]:
    # The YAML reader and the step models load only to check a file; finding one (a run of
    # a stored definition, a child started by name, the history commands) needs neither.
    from baton.spec.diagnose import format_path
    from baton.spec.source import read_yaml

    try:
        document = read_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return []  # the loader reports an unreadable file
    found: list[Diagnostic] = []
    for key, step in _workflow_steps(document.data):
        position = document.position_of(key)
        try:
            version = step.get("version")
            ref = parse_reference(step["workflow"], version if isinstance(version, str) else None)
        except WorkflowRefError:
            continue  # the semantic checks report it
        if "{{" in step["workflow"]:
            continue
        target = find_file(ref, path.parent, search)
        problem = None
        if target is None:
            problem = None if ref.pinned else not_found_message(ref, path.parent, search)
        elif target.resolve() in chain:
            names = " -> ".join(p.name for p in (*chain[chain.index(target.resolve()) :], target.resolve()))
            problem = f"workflow {str(ref)!r} calls itself ({names}); a workflow may not call one that calls it"
        else:
            problem = _child_problem(target, search, (*chain, target.resolve()))
        if problem is not None:
            found.append(Diagnostic(shown, position.line, position.column, problem, format_path(key)))
    return found


def _child_problem(target: Path, search: Sequence[Path], chain: tuple[Path, ...]) -> str | None:
    from baton.spec.loader import load_workflow

    try:
        load_workflow(target)
    except DefinitionError as exc:
        first = exc.diagnostics[0] if exc.diagnostics else None
        return f"the workflow in {target} is invalid: {first}"
    nested = _check(target, search, chain, str(target))
    return f"in {target}: {nested[0].message}" if nested else None


def _workflow_steps(data: Any) -> list[tuple[tuple[str | int, ...], dict[str, Any]]]:
    from baton.spec.steps import step_type_of

    if not isinstance(data, dict):
        return []
    found: list[tuple[tuple[str | int, ...], dict[str, Any]]] = []
    for list_name in _LISTS:
        listed = data.get(list_name)
        for index, step in enumerate(listed if isinstance(listed, list) else []):
            if isinstance(step, dict) and step_type_of(step) == "workflow" and isinstance(step.get("workflow"), str):
                found.append(((list_name, index, "workflow"), step))
    return found
