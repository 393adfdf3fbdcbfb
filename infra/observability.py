"""The CloudWatch dashboard and alarms of one Baton deployment.

The functions publish EMF metrics through Powertools (namespace ``Baton``, dimension
``service=baton``: the settings ``infra.functions`` gives them); Lambda and SQS publish
their own. Alarms: the dead-letter queue is not empty, too many executions fail, a
function errs (worker, starter, registrar), the worker is throttled, step messages wait
too long (executions stalled), a start or registration was given up on. Every alarm
notifies the ``<prefix>-alarms`` SNS topic; subscribe to it (``baton:alarm-email`` or
any subscription of your own).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
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
STALLED_AFTER = Duration.minutes(15)
"""A step message older than this has waited a whole worker timeout: executions are stalled
(no worker is taking messages, or every one is throttled)."""


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
    """A dashboard of executions, steps, cache, queue and worker health; alarms to a topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        functions: Mapping[str, lambda_.Function],
        step_queue: sqs.Queue,
        dead_letter_queue: sqs.Queue,
        failed_invocations_queue: sqs.Queue,
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        worker = functions["worker"]
        self.topic = sns.Topic(self, "AlarmTopic", topic_name=f"{dashboard_name}-alarms",
                               display_name="Baton alarms", enforce_ssl=True)  # fmt: skip
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        dlq_depth = dead_letter_queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")
        worker_errors = worker.metric_errors(period=PERIOD, statistic="Sum")
        self.dead_letters_alarm = self._any(
            "DeadLettersAlarm", dlq_depth,
            "Step messages reached the dead-letter queue: a worker failed on them repeatedly")  # fmt: skip
        self.failure_rate_alarm = failure_rate().create_alarm(
            self,
            "FailureRateAlarm",
            alarm_description=f"More than {FAILURE_RATE_PERCENT}% of the executions that finished failed",
            threshold=FAILURE_RATE_PERCENT,
            evaluation_periods=FAILURE_RATE_PERIODS,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self.worker_errors_alarm = self._any(
            "WorkerErrorsAlarm", worker_errors,
            "The worker function returned errors (crashes or timeouts, not failed steps)")  # fmt: skip
        self.starter_errors_alarm = self._any(
            "StarterErrorsAlarm", functions["starter"].metric_errors(period=PERIOD, statistic="Sum"),
            "The starter function returned errors: start requests are being retried or given up")  # fmt: skip
        self.registrar_errors_alarm = self._any(
            "RegistrarErrorsAlarm", functions["registrar"].metric_errors(period=PERIOD, statistic="Sum"),
            "The registrar function returned errors: uploads are not being registered")  # fmt: skip
        self.worker_throttles_alarm = self._any(
            "WorkerThrottlesAlarm", worker.metric_throttles(period=PERIOD, statistic="Sum"),
            "The worker was throttled: its reserved concurrency or the account limit is reached")  # fmt: skip
        self.stalled_alarm = step_queue.metric_approximate_age_of_oldest_message(
            period=PERIOD, statistic="Maximum"
        ).create_alarm(
            self,
            "StalledExecutionsAlarm",
            alarm_description=f"A step message waited over {STALLED_AFTER.to_minutes()} minutes: executions stalled",
            threshold=STALLED_AFTER.to_seconds(),
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self.given_up_alarm = self._any(
            "FailedInvocationsAlarm",
            failed_invocations_queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            "A start request or an upload event was given up on after retries (in the failed-invocations queue)",
        )
        for alarm in self.alarms:
            alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        self._add_widgets(worker, dlq_depth, worker_errors)

    def _any(self, construct_id: str, metric: cw.Metric, description: str) -> cw.Alarm:
        """An alarm on any occurrence in one period."""
        return metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

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
            cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms),
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
            graph(title="Agent tokens and cost (USD)",
                  left=[baton_metric("AgentInputTokens", label="input tokens"),
                        baton_metric("AgentOutputTokens", label="output tokens")],
                  right=[baton_metric("AgentCostUSD", label="cost (USD)")]),
        )  # fmt: skip

    @property
    def alarms(self) -> list[cw.Alarm]:
        """Every alarm of the deployment."""
        return [
            self.dead_letters_alarm,
            self.failure_rate_alarm,
            self.worker_errors_alarm,
            self.starter_errors_alarm,
            self.registrar_errors_alarm,
            self.worker_throttles_alarm,
            self.stalled_alarm,
            self.given_up_alarm,
        ]
