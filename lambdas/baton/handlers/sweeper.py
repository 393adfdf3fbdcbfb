"""Sweeper λ: on a schedule, restarts executions that are ``running`` with nothing moving
them (a lost message, a worker that died between its write and its send)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from baton.adapters.aws.bootstrap import AwsBackend, backend_from_environ
from baton.adapters.aws.sweeper import Sweeper
from baton.handlers.observability import LambdaHandler, lambda_entry_point, logger, metrics


class SweeperApp:
    """Sweeps one stack's executions."""

    def __init__(self, backend: AwsBackend) -> None:
        self.sweeper = Sweeper(backend.store, backend.queue, now=backend.clock.now)

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """One sweep (the event is EventBridge Scheduler's or a rule's; its content is unused)."""
        result = self.sweeper.sweep()
        metrics.add_metric(name="StalledExecutions", unit=MetricUnit.Count, value=len(result.restarted))
        for execution_id, reason in result.restarted.items():
            logger.warning("stalled execution restarted", extra={"execution_id": execution_id, "reason": reason})
        return {"looked_at": result.looked_at, "restarted": sorted(result.restarted)}


def make_handler(build: Callable[[], AwsBackend]) -> LambdaHandler:
    """The Lambda entry point over the backend ``build`` makes (on first use)."""
    return lambda_entry_point(lambda: SweeperApp(build()))


handler = make_handler(lambda: backend_from_environ(role="sweeper"))
