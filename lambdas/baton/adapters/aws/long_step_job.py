"""``LongStepJob``: what a long-step runner's process is told, through its environment.

The worker starts the process (a CodeBuild build, or a host process standing in for one)
with these variables; the entry point (``baton.handlers.long_step``) reads them back. The
budget is the step's timeout, the driver's margin and some slack, so the driver in the
process finds the time its unit needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from baton import resource_names as names
from baton.adapters.aws.long_steps import LONG_SETUP_SECONDS, LONG_SLACK_SECONDS, WORKER_MARGIN_SECONDS
from baton.errors import BatonError
from baton.resource_names import LONG_RUNNER_MAX_SECONDS

ENV_EXECUTION_ID = names.ENV_LONG_EXECUTION_ID
ENV_UNIT = names.ENV_LONG_UNIT
ENV_OWNER = names.ENV_LONG_OWNER
ENV_BUDGET = names.ENV_LONG_BUDGET
JOB_VARIABLES = names.LONG_STEP_JOB_VARIABLES


class LongStepJobError(BatonError):
    """The runner's process was started without a job (or with a malformed one)."""


@dataclass(frozen=True, slots=True)
class LongStepJob:
    """One unit of one execution, claimed in ``owner``'s name, to run within ``budget_seconds``."""

    execution_id: str
    unit: str
    owner: str
    budget_seconds: float

    @classmethod
    def for_step(cls, execution_id: str, unit: str, owner: str, step_seconds: float) -> LongStepJob:
        """The job of a step that may run for ``step_seconds``."""
        return cls(execution_id, unit, owner, step_seconds + WORKER_MARGIN_SECONDS + LONG_SLACK_SECONDS)

    @property
    def timeout_minutes(self) -> int:
        """The build's timeout: the budget and the set-up time, within CodeBuild's 5-480 minutes."""
        minutes = math.ceil((self.budget_seconds + LONG_SETUP_SECONDS) / 60)
        return max(5, min(LONG_RUNNER_MAX_SECONDS // 60, minutes))

    def environment(self) -> dict[str, str]:
        """The variables the process is started with."""
        return {ENV_EXECUTION_ID: self.execution_id, ENV_UNIT: self.unit, ENV_OWNER: self.owner,
                ENV_BUDGET: f"{self.budget_seconds:g}"}  # fmt: skip

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> LongStepJob:
        """Read the job back; ``LongStepJobError`` names what is missing."""
        missing = [name for name in JOB_VARIABLES if not environ.get(name)]
        if missing:
            raise LongStepJobError(
                f"this is the long-step runner's entry point, started by a worker; it needs {', '.join(missing)}"
            )
        try:
            budget = float(environ[ENV_BUDGET])
        except ValueError:
            raise LongStepJobError(f"{ENV_BUDGET}={environ[ENV_BUDGET]!r}: expected seconds") from None
        return cls(environ[ENV_EXECUTION_ID], environ[ENV_UNIT], environ[ENV_OWNER], budget)
