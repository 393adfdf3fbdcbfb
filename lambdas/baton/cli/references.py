"""What ``baton run`` runs: a file, or a definition kept from an earlier run (``NAME``,
``NAME@VERSION``, ``NAME@sha256:DIGEST``), found the way a ``workflow:`` step finds one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from baton.engine.definition import Definition
    from baton.engine.service import Engine


def definition_to_run(engine: Engine, file: Path) -> tuple[Definition, str, str | None]:
    """What ``baton run`` runs: a file, or a reference to a kept definition (``NAME@1.2``,
    ``NAME@sha256:...``, or a name found here or on ``BATON_WORKFLOWS_PATH``)."""
    from baton.adapters.local.children import LocalChildWorkflows
    from baton.engine.definition import Definition

    children = engine.ports.children
    if file.is_file() or not isinstance(children, LocalChildWorkflows) or not is_reference(str(file)):
        definition, digest = engine.load(file)
        return definition, digest, str(file.resolve())
    found = children.find(str(file), Path.cwd())
    return Definition.from_data(found.data), found.digest, found.file


def is_reference(text: str) -> bool:
    """True when ``text`` names a workflow (maybe pinned) rather than a file."""
    from baton.spec.workflow_refs import WorkflowRefError, parse_reference

    try:
        return parse_reference(text).path is None  # a file that is not there is reported as such
    except WorkflowRefError:
        return False
