"""The CloudWatch dashboard and alarms of one Baton deployment.

The functions publish EMF metrics through Powertools (namespace ``Baton``, dimension
``service=baton``: the settings ``infra.functions`` gives them); Lambda and SQS publish
their own. Alarms: the dead-letter queue is not empty, too many executions fail, the
worker errs.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.functions import METRICS_NAMESPACE, SERVICE_NAME

PERIOD = Duration.minutes(5)
FAILURE_RATE_PERCENT = 10
"""Share of the executions finished in a period that may fail before the failure-rate alarm
fires. Executions, not steps: a step that fails and is retried, or is handled by
``on_failure``, is not an execution failure."""
FAILURE_RATE_PERIODS = 3
"""Consecutive periods above the threshold: one bad batch of executions is not an incident."""


def baton_metric(name: str, statistic: str = "Sum", label: str | None = None) -> cw.Metric:
    """A metric the functions publish through Powertools."""
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE_NAME},
        statistic=statistic,
        period=PERIOD,
        label=label or name,
    )


def failure_rate() -> cw.MathExpression:
    """Per cent of the executions finished that failed (0 when none finished)."""
    return cw.MathExpression(
        expression="IF(finished > 0, 100 * failed / finished, 0)",
        using_metrics={
            "failed": baton_metric("ExecutionFailed"),
            # Every execution that ends (succeeded, failed or cancelled) counts once here.
            "finished": baton_metric("ExecutionFinished"),
        },
        label="Execution failure rate (%)",
        period=PERIOD,
    )


def cache_hit_rate() -> cw.MathExpression:
    """Per cent of cacheable steps restored from the cache."""
    return cw.MathExpression(
        expression="IF(hits + misses > 0, 100 * hits / (hits + misses), 0)",
        using_metrics={"hits": baton_metric("CacheHit"), "misses": baton_metric("CacheMiss")},
        label="Cache hit rate (%)",
        period=PERIOD,
    )


def success_rate() -> cw.MathExpression:
    """Per cent of the executions finished that succeeded, as ``baton stats`` counts it."""
    return cw.MathExpression(
        expression="IF(finished > 0, 100 * succeeded / finished, 0)",
        using_metrics={"succeeded": baton_metric("ExecutionSucceeded"), "finished": baton_metric("ExecutionFinished")},
        label="Execution success rate (%)",
        period=PERIOD,
    )


class Observability(Construct):
    """A dashboard of executions, steps, cache, queue and worker health, and three alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        worker: lambda_.Function,
        dead_letter_queue: sqs.Queue,
    ) -> None:
        super().__init__(scope, construct_id)
        dlq_depth = dead_letter_queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")
        worker_errors = worker.metric_errors(period=PERIOD, statistic="Sum")
        self.dead_letters_alarm = dlq_depth.create_alarm(
            self,
            "DeadLettersAlarm",
            alarm_description="Step messages reached the dead-letter queue: a worker failed on them repeatedly",
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self.failure_rate_alarm = failure_rate().create_alarm(
            self,
            "FailureRateAlarm",
            alarm_description=f"More than {FAILURE_RATE_PERCENT}% of the executions that finished failed",
            threshold=FAILURE_RATE_PERCENT,
            evaluation_periods=FAILURE_RATE_PERIODS,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self.worker_errors_alarm = worker_errors.create_alarm(
            self,
            "WorkerErrorsAlarm",
            alarm_description="The worker function returned errors (crashes or timeouts, not failed steps)",
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        self._add_widgets(worker, dlq_depth, worker_errors)

    def _add_widgets(self, worker: lambda_.Function, dlq_depth: cw.IMetric, worker_errors: cw.IMetric) -> None:
        graph = cw.GraphWidget
        self.dashboard.add_widgets(
            graph(title="Executions", left=[baton_metric("ExecutionStarted", label="started"),
                                            baton_metric("ExecutionFinished", label="finished"),
                                            baton_metric("ExecutionFailed", label="failed")]),
            graph(title="Step duration (ms)", left=[baton_metric("StepDuration", "p50", "p50"),
                                                    baton_metric("StepDuration", "p99", "p99")]),
            graph(title="Failures", left=[baton_metric("StepFailed", label="failed steps"),
                                          baton_metric("DefinitionRejected", label="rejected definitions")],
                  right=[failure_rate()]),
        )  # fmt: skip
        self.dashboard.add_widgets(
            graph(title="Cache hit rate (%)", left=[cache_hit_rate()], left_y_axis=cw.YAxisProps(min=0, max=100)),
            graph(title="Dead-letter queue depth", left=[dlq_depth]),
            graph(title="Worker errors and throttles", left=[worker_errors,
                                                             worker.metric_throttles(period=PERIOD, statistic="Sum"),
                                                             baton_metric("WorkerErrors", label="failed messages")]),
            cw.AlarmStatusWidget(title="Alarms", alarms=[self.dead_letters_alarm, self.failure_rate_alarm,
                                                         self.worker_errors_alarm]),
        )  # fmt: skip
        self._add_stats_widgets()

    def _add_stats_widgets(self) -> None:
        """The figures of ``baton stats``: success rate, p50/p95, cache hit rate, agent usage."""
        graph = cw.GraphWidget
        self.dashboard.add_widgets(
            graph(title="Success rate (%)", left=[success_rate()], left_y_axis=cw.YAxisProps(min=0, max=100)),
            graph(title="Execution and step duration p50/p95 (ms)",
                  left=[baton_metric("ExecutionDuration", "p50", "execution p50"),
                        baton_metric("ExecutionDuration", "p95", "execution p95")],
                  right=[baton_metric("StepDuration", "p95", "step p95")]),
            graph(title="Cache hits and misses", left=[baton_metric("CacheHit", label="hits"),
                                                       baton_metric("CacheMiss", label="misses")],
                  right=[cache_hit_rate()]),
            graph(title="Agent tokens and cost (USD)", left=[baton_metric("AgentTokens", label="tokens")],
                  right=[baton_metric("AgentCostUsd", label="cost (USD)")]),
        )  # fmt: skip

    @property
    def alarms(self) -> list[cw.Alarm]:
        """Every alarm of the deployment."""
        return [self.dead_letters_alarm, self.failure_rate_alarm, self.worker_errors_alarm]
