"""Loading a workflow file: safe YAML, the schema, then semantic checks; every error located."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError

from baton.errors import DefinitionError, Diagnostic
from baton.spec.checks import check_document
from baton.spec.diagnose import ErrorTranslator, format_path
from baton.spec.models import Workflow
from baton.spec.source import MAX_FILE_BYTES, SourceDocument, YamlReadError, read_yaml


def load_workflow(path: str | Path) -> Workflow:
    """Read and validate a workflow file; ``DefinitionError`` lists every problem in it."""
    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DefinitionError(
                [
                    Diagnostic(
                        name,
                        1,
                        1,
                        f"file is {size} bytes; at most {MAX_FILE_BYTES} (1 MiB) are read",
                    )
                ]
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise DefinitionError([Diagnostic(name, 1, 1, f"cannot read the file: {exc.strerror or exc}")]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DefinitionError([Diagnostic(name, line, column, "the file is not UTF-8 text")]) from exc
    return load_workflow_text(text, name)


def load_workflow_text(text: str, filename: str = "<string>") -> Workflow:
    """Validate workflow ``text``; ``filename`` is only used in error messages."""
    try:
        document = read_yaml(text.removeprefix("\ufeff"))
    except YamlReadError as exc:
        raise DefinitionError([Diagnostic(filename, exc.position.line, exc.position.column, exc.message)]) from exc
    diagnostics = [
        Diagnostic(filename, p.position.line, p.position.column, p.message, format_path(p.path))
        for p in document.problems
    ]
    if not isinstance(document.data, dict):
        diagnostics.append(
            Diagnostic(filename, 1, 1, "expected a mapping with 'name' and 'steps' at the top of the file")
        )
        raise DefinitionError(diagnostics)
    workflow = None
    try:
        workflow = Workflow.model_validate(document.data)
    except ValidationError as exc:
        for position, path, message in ErrorTranslator(Workflow, document).translate(exc):
            diagnostics.append(Diagnostic(filename, position.line, position.column, message, format_path(path)))
    diagnostics += _semantic_diagnostics(document, filename)
    if diagnostics or workflow is None:
        raise DefinitionError(_deduplicated(diagnostics))
    return workflow


_BLOCK_LINE = re.compile(r"line (\d+): ")


def _semantic_diagnostics(document: SourceDocument, filename: str) -> list[Diagnostic]:
    found = []
    for path, message in check_document(document.data):
        # A problem inside a `command: |` block names its line there: point at that line.
        inner = _BLOCK_LINE.match(message)
        position = (inner and document.position_in_block(path, int(inner.group(1)))) or document.position_of(path)
        found.append(Diagnostic(filename, position.line, position.column, message, format_path(path)))
    return found


def _deduplicated(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(set(diagnostics))
