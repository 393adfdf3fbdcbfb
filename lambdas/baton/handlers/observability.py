"""Powertools for every handler: a JSON logger with execution and step ids, EMF metrics,
and X-Ray tracing with a subsegment per step.

The ``Tracer`` is created on first use: the X-Ray SDK builds a boto3 client when it is
imported (~0.3 s), which would otherwise land in every module's import time.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from baton import resource_names as names
from baton.engine.driver import DriverHooks
from baton.engine.records import CACHED, FAILED, SUCCEEDED, ExecutionRecord, StepRecord
from baton.engine.usage import usage_of


def powertools_names(environ: Mapping[str, str]) -> tuple[str, str]:
    """The service name and metrics namespace: Powertools' standard variables (which the
    stack sets), else ``baton`` and ``Baton``."""
    service = environ.get(names.ENV_POWERTOOLS_SERVICE_NAME) or names.DEFAULT_SERVICE_NAME
    namespace = environ.get(names.ENV_POWERTOOLS_METRICS_NAMESPACE) or names.DEFAULT_METRICS_NAMESPACE
    return service, namespace


SERVICE, NAMESPACE = powertools_names(os.environ)

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

Handler = TypeVar("Handler", bound=Callable[..., Any])
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
"""A Lambda entry point: ``(event, context) -> response``."""


@functools.cache
def tracer() -> Tracer:
    """The process's tracer (made on first use)."""
    return Tracer(service=SERVICE)


def traced(handler: Handler) -> Handler:
    """``handler`` with a traced invocation segment (cold start, response, exception)."""
    return cast(Handler, tracer().capture_lambda_handler(handler))


class PowertoolsHooks(DriverHooks):
    """The worker's observability: a subsegment per unit (annotated workflow, step,
    status, cache_hit), log correlation by step, and metrics when units and runs end."""

    def __init__(self, provider: Any = None) -> None:
        self._provider = provider
        self._open: dict[str, tuple[ExitStack, Any, str | None]] = {}

    @property
    def provider(self) -> Any:
        """The X-Ray provider subsegments are opened on."""
        return self._provider if self._provider is not None else tracer().provider

    def unit_started(self, execution: ExecutionRecord, key: str) -> None:
        """Open the unit's subsegment; the logger carries its key meanwhile."""
        outer = logger.get_current_keys().get("step_id")
        logger.append_keys(step_id=key)
        stack = ExitStack()
        subsegment = stack.enter_context(self.provider.in_subsegment(f"## step {key}"))
        subsegment.put_annotation("workflow", execution.workflow)
        subsegment.put_annotation("execution_id", execution.execution_id)
        self._open[key] = (stack, subsegment, outer)

    def unit_ended(self, execution: ExecutionRecord, record: StepRecord | None) -> None:
        """Annotate and close the unit's subsegment; put back the logger's step."""
        if record is None or record.key not in self._open:
            return
        stack, subsegment, outer = self._open.pop(record.key)
        subsegment.put_annotation("step", record.step_id)
        subsegment.put_annotation("status", record.status)
        subsegment.put_annotation("cache_hit", record.cache_hit)
        stack.close()
        # Put back the step of the message being handled: the worker's own lines after
        # this unit belong to it.
        if outer is None:
            logger.remove_keys(["step_id"])
        else:
            logger.append_keys(step_id=outer)

    def step_ended(self, execution: ExecutionRecord, record: StepRecord) -> None:
        """StepDuration, StepFailed, CacheHit, CacheMiss, and agent tokens and dollars (spent or saved)."""
        if record.started_at is not None and record.finished_at is not None and not record.cache_hit:
            milliseconds = (record.finished_at - record.started_at).total_seconds() * 1000
            metrics.add_metric(name="StepDuration", unit=MetricUnit.Milliseconds, value=milliseconds)
        if record.status == FAILED:
            metrics.add_metric(name="StepFailed", unit=MetricUnit.Count, value=1)
        usage = usage_of(record.outputs)
        if usage is not None:
            if record.status == CACHED or record.cache_hit:  # what the cache saved
                metrics.add_metric(name="AgentSavedInputTokens", unit=MetricUnit.Count, value=usage.input_tokens)
                metrics.add_metric(name="AgentSavedOutputTokens", unit=MetricUnit.Count, value=usage.output_tokens)
                metrics.add_metric(name="AgentSavedCostUSD", unit=MetricUnit.NoUnit, value=usage.cost_usd)
            else:
                metrics.add_metric(name="AgentInputTokens", unit=MetricUnit.Count, value=usage.input_tokens)
                metrics.add_metric(name="AgentOutputTokens", unit=MetricUnit.Count, value=usage.output_tokens)
                metrics.add_metric(name="AgentCostUSD", unit=MetricUnit.NoUnit, value=usage.cost_usd)
        if record.status == CACHED or record.cache_hit:
            metrics.add_metric(name="CacheHit", unit=MetricUnit.Count, value=1)
        elif record.cache_key is not None and record.status == SUCCEEDED:
            metrics.add_metric(name="CacheMiss", unit=MetricUnit.Count, value=1)
        logger.info("step ended", extra={"step_id": record.key, "status": record.status, "error": record.error})

    def execution_ended(self, execution: ExecutionRecord) -> None:
        """ExecutionFinished, ExecutionSucceeded or ExecutionFailed, ExecutionDuration (and
        the end, in the log)."""
        metrics.add_metric(name="ExecutionFinished", unit=MetricUnit.Count, value=1)
        if execution.status == SUCCEEDED:
            metrics.add_metric(name="ExecutionSucceeded", unit=MetricUnit.Count, value=1)
        if execution.started_at is not None and execution.finished_at is not None:
            milliseconds = (execution.finished_at - execution.started_at).total_seconds() * 1000
            metrics.add_metric(name="ExecutionDuration", unit=MetricUnit.Milliseconds, value=milliseconds)
        if execution.status == FAILED:
            metrics.add_metric(name="ExecutionFailed", unit=MetricUnit.Count, value=1)
        logger.info("execution ended", extra={"status": execution.status, "error": execution.error})


def lambda_entry_point(make_app: Callable[[], Any]) -> LambdaHandler:
    """The Lambda entry point of an application made on the first invocation: Powertools'
    logging context, metrics flushed per invocation (with the cold-start metric), and a
    traced call of the application's ``handle(event, context)``."""
    app = LazyApp(make_app)

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        result: dict[str, Any] = traced(app().handle)(event, context)
        return result

    return cast(LambdaHandler, handler)


class LazyApp:
    """Builds a handler's application on the first invocation and keeps it (warm starts)."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._app: Any = None

    def __call__(self) -> Any:
        """The application, built once."""
        if self._app is None:
            self._app = self._build()
        return self._app
