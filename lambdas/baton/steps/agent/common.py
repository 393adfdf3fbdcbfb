"""What every agent provider gets (:class:`AgentRequest`) and keeps up to date (:class:`Progress`):
turns, tokens, cost, refusals and the limits that stop a run."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from baton.errors import StepFailedError
from baton.steps.agent.pricing import cost_usd
from baton.steps.agent.profiles import Profile


class LogSink(Protocol):
    """Where a run's log lines go (the step's stdout log, secrets masked)."""

    def write(self, text: str, /) -> int:
        """Append text."""
        ...

    def flush(self) -> None:
        """Make what was written visible."""
        ...


class AgentLimitError(StepFailedError):
    """The agent reached ``max_turns``, ``max_tokens``, its budget or its timeout."""

    def __init__(self, message: str, *, kind: str = "error") -> None:
        super().__init__(message, kind=kind, retryable=kind == "timeout")


class ModelServiceError(StepFailedError):
    """The model service refused or failed a call; throttling and server errors are retryable."""


class SecurityViolationError(StepFailedError):
    """The agent changed something its profile does not allow."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True, slots=True)
class Limits:
    """When a run stops: turns, output tokens per call, dollars, and a monotonic deadline."""

    max_turns: int | None = None
    max_tokens: int | None = None
    budget_usd: float | None = None
    timeout_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class AgentRequest:
    """One agent run, whatever the provider."""

    prompt: str
    input_files: tuple[str, ...]
    model: str
    profile: Profile
    workspace: Path
    env: Mapping[str, str]
    limits: Limits
    command: tuple[str, ...] = ()
    cancelled: threading.Event = field(default_factory=threading.Event)


class Progress:
    """Turns, tokens and cost so far; raises :class:`AgentLimitError` when a limit is passed.

    Everything is written to the step's log as it happens, so a run stopped by a limit keeps
    what it had done.
    """

    def __init__(self, request: AgentRequest, log: LogSink) -> None:
        self.request = request
        self.log = log
        self.turns = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = 0.0
        self.denied: list[str] = []
        self.model_seen: str | None = None
        """The model the service says answered (when the step named none)."""
        self.started = time.monotonic()

    def before_turn(self) -> None:
        """Check the limits that stop a run before another model call."""
        limits = self.request.limits
        if self.request.cancelled.is_set():
            raise AgentLimitError("cancelled", kind="timeout")
        if limits.max_turns is not None and self.turns >= limits.max_turns:
            raise AgentLimitError(f"max_turns: the agent did not finish within {limits.max_turns} turns")
        self.check_time()

    def check_time(self) -> None:
        """Raise if the timeout has passed."""
        timeout = self.request.limits.timeout_seconds
        if timeout is not None and time.monotonic() - self.started > timeout:
            raise AgentLimitError(f"timed out after {timeout:g}s (turn {self.turns})", kind="timeout")

    def remaining_seconds(self) -> float | None:
        """Seconds left before the timeout (None: no timeout)."""
        timeout = self.request.limits.timeout_seconds
        return None if timeout is None else max(0.1, timeout - (time.monotonic() - self.started))

    def add_turn(self, input_tokens: int, output_tokens: int, model: str | None = None) -> None:
        """Count one model call and its tokens; raise once the budget is spent."""
        self.turns += 1
        self.model_seen = model or self.model_seen
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cost_usd = round(
            self.cost_usd + cost_usd(model or self.request.model or self.model_seen or "", input_tokens, output_tokens),
            6,
        )
        self.note(
            "turn", turn=self.turns, input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=self.cost_usd
        )
        budget = self.request.limits.budget_usd
        if budget is not None and self.cost_usd > budget:
            raise AgentLimitError(f"budget: spent ${self.cost_usd:.4f} of ${budget:g} after {self.turns} turns")

    def deny(self, what: str) -> None:
        """Record an action the profile refused."""
        self.denied.append(what)
        self.note("denied", what=what)

    def note(self, event: str, **data: Any) -> None:
        """One line of the step's log: ``event {json}``."""
        self.log.write(f"{event} {json.dumps(data, default=str)}\n")
        self.log.flush()

    def outputs(self) -> dict[str, Any]:
        """The step outputs that describe the run."""
        return {
            "turns": self.turns,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens},
            "cost_usd": self.cost_usd,
            "denied": list(self.denied),
        }


def full_prompt(request: AgentRequest) -> str:
    """The prompt with the input files named (the agent reads them with its tools)."""
    if not request.input_files:
        return request.prompt
    listed = "\n".join(f"- {path}" for path in request.input_files)
    return f"{request.prompt.rstrip()}\n\nInput files (paths relative to the working directory):\n{listed}\n"
