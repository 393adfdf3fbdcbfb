"""``ProcessRunner``: a host process standing in for a CodeBuild build.

LocalStack's community edition has no CodeBuild, so on it (``BATON_LONG_RUNNER=process``)
the worker starts ``python -m baton.handlers.long_step`` as a process of its own, detached
from the invocation, with the worker's environment and the same job variables a build gets.
It runs the same entry point and the same driver; what it does not give is a build's
isolation and its own role (it acts with the worker's credentials), and it dies with the
host. For emulators and tests only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from baton import resource_names as names
from baton.adapters.aws.long_step_job import LongStepJob
from baton.adapters.aws.long_steps import LONG_HOLD_SECONDS, WORKER_MARGIN_SECONDS, long_limit_seconds
from baton.errors import LongRunnerError


class ProcessRunner:
    """Starts one detached process per attempt (the ``LongRunner`` port)."""

    most_seconds = long_limit_seconds() + WORKER_MARGIN_SECONDS
    hold_seconds = LONG_HOLD_SECONDS

    def __init__(self, environ: Mapping[str, str], log_dir: Path) -> None:
        self.environ = dict(environ)
        self.log_dir = log_dir

    def start(self, execution_id: str, unit_key: str, *, owner: str, seconds: float) -> str:
        """Start the process; its pid. ``LongRunnerError`` when it cannot be started."""
        job = LongStepJob.for_step(execution_id, unit_key, owner, seconds)
        # The same modules as this process (a Lambda runtime may load the code from its own path).
        path = os.pathsep.join(entry for entry in sys.path if entry and Path(entry).is_dir())
        env = {**self.environ, **job.environment(), "PYTHONPATH": path}
        env.pop(names.ENV_LONG_RUNNER, None)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"long-step-{execution_id}-{os.getpid()}-{len(os.listdir(self.log_dir))}.log"
        try:
            with log.open("ab") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", names.LONG_STEP_ENTRY_POINT], env=env, stdout=out,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip
        except OSError as exc:
            raise LongRunnerError(f"the long-step process could not be started: {exc}") from exc
        return f"process:{process.pid}"
