"""Steps that do not fit in a worker: refused at registration, capped when passed on, or
run by the long-step runner.

A worker runs a step inline only if the step's timeout, plus the driver's margin, fits in
what is left of its invocation; otherwise the step is passed on to the next invocation.
A step whose timeout exceeds what any invocation can give would be passed on forever, so
the registrar refuses it unless it names another runner (``runner: long``) and the
deployment has one (a CodeBuild project, whose builds run up to eight hours), and the
engine's driver fails a unit that can never fit instead of passing it on
(``Driver.most_seconds``; see docs/adr/0007-long-steps.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from baton.engine.units import DEFAULT_STEP_SECONDS, SUSPENDING_TYPES
from baton.resource_names import LONG_RUNNER_MAX_SECONDS

WORKER_MARGIN_SECONDS = 15.0
"""What a worker's driver keeps back from an invocation for the writes after a step (the
registrar's limit and the worker's budget use this one figure)."""
MAX_PASSES = 3
"""Hand-offs of one unit to a fresh invocation before it fails: a fresh invocation has its
whole timeout, so a unit that fits runs at the first; more means it cannot."""
LONG_RUNNER = "long"
LONG_SETUP_SECONDS = 300.0
"""What a runner's process keeps back for itself before the step: fetching the code, starting."""
LONG_HOLD_SECONDS = 900.0
"""How long a unit stays claimed for the runner before its process takes the lease over: the
builds' queue timeout (``resource_names.LONG_QUEUED_MINUTES``) and their start, with room to
spare."""
LONG_SLACK_SECONDS = 60.0
"""Time a runner's process is given beyond the step's timeout and the margin (imports, reads)."""


@dataclass(frozen=True, slots=True)
class StepNeed:
    """What one step (or compensation body) asks of a worker."""

    key: str
    step_type: str
    timeout_seconds: float | None
    runner: str = "worker"


def worker_limit_seconds(worker_timeout_seconds: float) -> float:
    """The longest step timeout a worker can run inline."""
    return worker_timeout_seconds - WORKER_MARGIN_SECONDS


def long_limit_seconds() -> float:
    """The longest step timeout the long-step runner can run."""
    return LONG_RUNNER_MAX_SECONDS - LONG_SETUP_SECONDS - LONG_SLACK_SECONDS - WORKER_MARGIN_SECONDS


def needed_seconds(step_type: str, timeout_seconds: float | None) -> float:
    """Seconds a unit may hold a worker (none for a wait or an approval)."""
    if step_type in SUSPENDING_TYPES:
        return 0.0
    return timeout_seconds or DEFAULT_STEP_SECONDS


def registration_problems(
    needs: Iterable[StepNeed], worker_timeout_seconds: float, *, long_runner_available: bool
) -> list[str]:
    """One message per step that cannot run where it says it runs."""
    limit = worker_limit_seconds(worker_timeout_seconds)
    problems = []
    for need in needs:
        seconds = needed_seconds(need.step_type, need.timeout_seconds)
        if need.runner == LONG_RUNNER and not long_runner_available:
            problems.append(f"step {need.key}: runner: long, but this deployment has no long-step runner")
        elif need.runner == LONG_RUNNER and seconds > long_limit_seconds():
            problems.append(
                f"step {need.key}: timeout {seconds:g}s exceeds the {long_limit_seconds():g}s the long-step "
                f"runner can give (a build runs for at most {LONG_RUNNER_MAX_SECONDS // 3600} h, less "
                f"{LONG_SETUP_SECONDS + LONG_SLACK_SECONDS + WORKER_MARGIN_SECONDS:g}s to start and record it); "
                "shorten it or split the step"
            )
        elif need.runner != LONG_RUNNER and seconds > limit:
            problems.append(
                f"step {need.key}: timeout {seconds:g}s exceeds the {limit:g}s a worker can give "
                f"(worker timeout {worker_timeout_seconds:g}s less {WORKER_MARGIN_SECONDS:g}s); "
                "shorten it or add 'runner: long'"
            )
    return problems


def pass_on_refusal(key: str, needed: float, worker_timeout_seconds: float, passes: int) -> str | None:
    """Why the unit ``key`` must fail instead of being passed on once more, or None.

    ``passes`` counts the hand-offs so far (a message would carry it).
    """
    limit = worker_limit_seconds(worker_timeout_seconds)
    if needed > limit:
        return (f"step {key} needs {needed:g}s but a worker gives at most {limit:g}s: it can never run "
                "here; give it a shorter timeout or 'runner: long'")  # fmt: skip
    if passes >= MAX_PASSES:
        return f"step {key} was passed on {passes} times without finding {needed:g}s in a worker invocation"
    return None
