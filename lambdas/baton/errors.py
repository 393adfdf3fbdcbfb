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


class StateConflictError(BatonError):
    """A conditional write lost: the record changed (or exists) since it was read.

    Another worker claimed or finished the step first; the caller re-reads and moves on.
    """

    retryable = True


class ExecutionNotFoundError(BatonError):
    """No execution with that id is in the state store."""


class StepFailedError(BatonError):
    """One attempt of a step failed.

    ``kind`` is ``error`` or ``timeout`` (what ``retry.on`` matches); ``retryable`` is False
    when trying again cannot help (a template that does not render, an unsupported type).
    """

    def __init__(self, message: str, *, kind: str = "error", retryable: bool = True) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable


class SecretError(BatonError):
    """A secret could not be resolved from its source."""

    retryable = False


class ResumeError(BatonError):
    """An execution cannot be resumed, approved or cancelled in its current state."""


class UnsupportedStepTypeError(BatonError):
    """A workflow uses a step type the chosen backend cannot run (yet); nothing was run."""


class StateStoreError(BatonError):
    """The state store cannot be read or written (a damaged or empty file, a full disk).

    The message names the file and what to do; nothing already recorded is changed.
    """

    retryable = False


class LongRunnerError(BatonError):
    """The long-step runner could not start the process that runs a ``runner: long`` step."""
