"""``CodeBuildRunner``: the long-step runner on AWS, one CodeBuild build per attempt.

The stack's project fetches the functions' code asset and runs
``python -m baton.handlers.long_step``; the worker starts a build of it with the job
(execution id, unit key, lease owner, budget) as environment overrides and a timeout fitted
to the step. CodeBuild stops a build that is still queued after ``LONG_QUEUED_MINUTES``, so
a build never starts after the unit's claim for it ran out. See docs/adr/0007-long-steps.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from baton.adapters.aws.long_step_job import LongStepJob
from baton.adapters.aws.long_steps import LONG_HOLD_SECONDS, WORKER_MARGIN_SECONDS, long_limit_seconds
from baton.errors import LongRunnerError
from baton.resource_names import LONG_QUEUED_MINUTES


class CodeBuildRunner:
    """Starts builds of one project (the ``LongRunner`` port)."""

    most_seconds = long_limit_seconds() + WORKER_MARGIN_SECONDS
    hold_seconds = LONG_HOLD_SECONDS

    def __init__(self, codebuild: Callable[[], Any], project: str) -> None:
        self._codebuild = codebuild
        self.project = project

    def start(self, execution_id: str, unit_key: str, *, owner: str, seconds: float) -> str:
        """Start a build for the unit; its id. ``LongRunnerError`` when CodeBuild refuses."""
        job = LongStepJob.for_step(execution_id, unit_key, owner, seconds)
        overrides = [{"name": name, "value": value, "type": "PLAINTEXT"} for name, value in job.environment().items()]
        try:
            response = self._codebuild().start_build(
                projectName=self.project,
                environmentVariablesOverride=overrides,
                timeoutInMinutesOverride=job.timeout_minutes,
                queuedTimeoutInMinutesOverride=LONG_QUEUED_MINUTES,
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise LongRunnerError(
                f"CodeBuild did not start a build of {self.project!r} for this step: "
                f"{error.get('Code', 'error')}: {error.get('Message', exc)}"
            ) from exc
        except BotoCoreError as exc:
            message = f"CodeBuild could not be reached to start a build of {self.project!r}: {exc}"
            raise LongRunnerError(message) from exc
        return str(response["build"]["id"])
