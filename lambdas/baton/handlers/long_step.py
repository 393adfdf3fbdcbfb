"""The long-step runner's entry point: ``python -m baton.handlers.long_step``.

A CodeBuild build (or, on an emulator, a host process standing in for one) runs this for
one ``runner: long`` unit that a worker claimed in the build's name. It builds the same
``StepMessageHandler`` and ``Driver`` a worker does, from the same environment, with the
job's budget instead of an invocation's: the driver takes the claimed unit's lease over,
renews it while the step runs (with the step role's credentials), commits the result and
hands the execution back to the workers (the next units go to the step queue, or the
execution ends), exactly as a worker would. See docs/adr/0007-long-steps.md.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping

from baton.adapters.aws.bootstrap import AwsBackend, backend_from_environ
from baton.adapters.aws.codebuild_runner import CodeBuildRunner
from baton.adapters.aws.long_step_job import LongStepJob
from baton.adapters.aws.sqs_step_queue import StepMessage
from baton.adapters.aws.step_messages import Delivery, StepMessageHandler
from baton.adapters.aws.workspaces import WorkspaceSeeds
from baton.engine.driver import DriveResult
from baton.engine.records import RUNNING
from baton.errors import BatonError
from baton.handlers.observability import logger


def run(backend: AwsBackend, job: LongStepJob, *, monotonic: Callable[[], float] = time.monotonic) -> DriveResult:
    """Run the job's unit, and whatever a worker would do after it, on ``backend``."""
    started = monotonic()
    execution = backend.store.get_execution(job.execution_id)
    record = backend.store.get_steps(job.execution_id).get(job.unit)
    if record is None or record.status != RUNNING or record.lease_owner != job.owner:
        status = record.status if record is not None else "absent"
        return DriveResult(execution, note=f"unit {job.unit} is no longer held for this runner ({status}): "
                                           "another worker moved it on; nothing to do")  # fmt: skip
    messages = StepMessageHandler(
        backend.engine(job.owner, owner=job.owner),
        backend.store,
        backend.queue,
        backend.publisher,
        remaining_seconds=lambda: job.budget_seconds - (monotonic() - started),
        workspace_root=backend.workspace_root,
        most_seconds=CodeBuildRunner.most_seconds,
        recheck_seconds=backend.recheck_seconds,
        seeds=WorkspaceSeeds(backend.artifacts),
    )
    return messages.handle(Delivery(StepMessage(job.execution_id, job.unit), held=True))


def main(environ: Mapping[str, str] | None = None, backend: AwsBackend | None = None) -> int:
    """Run the job the environment names; 0 once its result is recorded, 2 on a bad set-up,
    1 on an unexpected failure (the unit's lease then runs out and a worker records it)."""
    environ = os.environ if environ is None else environ
    try:
        job = LongStepJob.from_environ(environ)
        logger.append_keys(execution_id=job.execution_id, step_id=job.unit)
        result = run(backend or backend_from_environ(environ, role="long_step"), job)
    except BatonError as exc:
        logger.error("long step not run", extra={"reason": str(exc)})
        print(f"baton long step: {exc}", file=sys.stderr)
        return 2
    except Exception:  # the build's log is where an unexpected failure is told
        logger.exception("long step failed; its lease runs out and the attempt is recorded as failed")
        return 1
    logger.info("long step handled", extra={"ran": result.ran, "sent": result.sent,
                                            "status": result.execution.status, "note": result.note})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
