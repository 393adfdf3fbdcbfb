"""What every step type provides, and what the engine hands it for one attempt.

A step type has two functions: ``prepare`` renders its fields against the expression
context (the result is what the cache key covers), and ``run`` performs one attempt. Types
that hold no compute while waiting (``wait``, ``approval``) give ``suspend`` instead: the
engine records the unit as ``waiting`` until the returned time or an answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from baton.engine.expressions import Expressions
    from baton.engine.masking import Masker
    from baton.ports import Clock

Mode = Literal["process", "inline", "suspend"]

WATCH_SECONDS = 0.1
"""The longest a watched attempt waits between calls of ``Invocation.watch``."""


@dataclass(frozen=True, slots=True)
class StepResult:
    """The end of one attempt.

    ``error`` None means success. ``kind`` is what ``retry.on`` matches (``error`` or
    ``timeout``); ``retryable`` False means another attempt cannot help. ``stop`` ends the
    execution early as succeeded (``assert`` with ``on_false: stop``).
    """

    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    kind: str = "error"
    retryable: bool = True
    stop: bool = False
    files: tuple[str, ...] = ()
    """Workspace-relative files the attempt changed; stored as artifacts (and restored from the
    cache) like declared outputs."""

    @property
    def ok(self) -> bool:
        """True when the attempt succeeded."""
        return self.error is None

    @classmethod
    def failure(cls, message: str, *, kind: str = "error", retryable: bool = True) -> StepResult:
        """A failed attempt."""
        return cls(error=message, kind=kind, retryable=retryable)


class Started(Protocol):
    """An attempt's process started by ``StepType.start``, before its ``run``."""

    def stop(self) -> None:
        """Stop the process and let go of what it holds: the attempt is not run after all."""


@dataclass(frozen=True, slots=True)
class Invocation:
    """Everything one attempt may use besides its prepared fields."""

    execution_id: str
    step_key: str
    attempt: int
    workspace: Path
    env: Mapping[str, str]
    """The full environment of a child process (machine, workflow, step, ``BATON_*``)."""
    stdout_path: Path
    stderr_path: Path
    output_path: Path
    """The ``$BATON_OUTPUT`` file."""
    masker: Masker
    clock: Clock
    timeout_seconds: float | None = None
    cancelled: threading.Event | None = None
    """Set to stop the attempt early (an agent's loop looks at it between turns)."""
    watch: Callable[[], None] | None = None
    """Set when the attempt runs on the driver's own thread (a step of a ``watched`` type
    that is all its execution does just now): call it at least every ``WATCH_SECONDS`` while
    waiting, so the driver goes on renewing leases and noticing a cancel meanwhile."""
    started: Callable[[], None] | None = None
    """Set with ``watch``: call it once the attempt's process has started, before waiting
    for it. The driver does then what need not come before the start (telling the progress
    view of the step before and of this one), while the process runs."""
    exited: Callable[[], None] | None = None
    """Set with ``watch``: called as soon as the attempt's process has ended in a way that
    makes the attempt succeed (exit status 0 in time, nothing written to ``$BATON_OUTPUT``),
    before its results are read. The driver then starts the next step's process at once."""
    begun: Started | None = None
    """What the type's ``start`` returned when the attempt's process was started before
    ``run`` was called: ``run`` then waits for that process instead of starting one."""


@dataclass(frozen=True, slots=True)
class StepType:
    """One step type: how it renders, and how it runs or waits."""

    name: str
    mode: Mode
    prepare: Callable[[dict[str, Any], dict[str, Any], Expressions], dict[str, Any]]
    run: Callable[[dict[str, Any], Invocation], StepResult] | None = None
    suspend: Callable[[dict[str, Any], datetime, float | None], datetime | None] | None = None
    """``(prepared, now, timeout_seconds) -> wake time`` (None: until answered)."""
    wake: Callable[[dict[str, Any]], StepResult] | None = None
    """The result once the wake time has come, from the body's fields as written."""
    watched: bool = False
    """``run`` calls ``Invocation.watch`` while it waits, when one is given: the driver then
    runs the attempt on its own thread instead of handing it to a worker thread."""
    settle: Callable[[], None] | None = None
    """Called when a driver stops: puts away what the type keeps from one attempt to the
    next (the shell's empty logs, held open)."""
    start: Callable[[dict[str, Any], Invocation], Started] | None = None
    """Starts an attempt's process and returns it, for ``run`` to be given as
    ``Invocation.begun`` (or stopped, when the attempt is not run after all); None when the
    type cannot."""
    takes_output: bool = False
    """``run`` reads the ``$BATON_OUTPUT`` file and removes it; of any other ``process``
    type, the engine removes the file if something the attempt started wrote one."""
