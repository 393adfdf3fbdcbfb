"""The error hierarchy: every error Baton raises on purpose derives from ``BatonError``."""

from __future__ import annotations

from dataclasses import dataclass


class BatonError(Exception):
    """Root of every error Baton raises deliberately."""


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem in a definition, located in its source file.

    ``line`` and ``column`` are 1-based, as editors show them. ``path`` is the YAML path
    (``steps[3].retry.max_attempts``), empty for problems of the whole document.
    """

    file: str
    line: int
    column: int
    message: str
    path: str = ""

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"


class DefinitionError(BatonError):
    """A workflow definition is invalid; carries every problem found, not only the first."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class ExpressionError(BatonError):
    """An expression or template failed to parse, broke the sandbox, or failed to evaluate."""


class InputError(BatonError):
    """Inputs given to an execution do not match the workflow's ``inputs`` section."""
