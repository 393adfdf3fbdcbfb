"""The dashboard and the alarms: the metrics they watch are the ones the functions publish."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

RUNTIME = Path(__file__).resolve().parents[2] / "lambdas" / "baton"


def _props(resources: dict[str, Any], logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = resources[logical_id]["Properties"]
    return props


def _dashboard_body(resources: dict[str, Any], logical_id: str) -> str:
    """The dashboard JSON with references replaced by ``<logical id>``."""
    body = _props(resources, logical_id)["DashboardBody"]
    parts = body["Fn::Join"][1]
    return "".join(part if isinstance(part, str) else f"<{json.dumps(part)}>" for part in parts)


def published_metrics() -> set[str]:
    """Metric names the runtime publishes through Powertools."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in RUNTIME.rglob("*.py"))
    return set(re.findall(r"add_metric\(name=\"(\w+)\"", text))


def test_dashboard_is_named_after_the_prefix(resources: dict[str, Any], logical_ids: dict[str, str]) -> None:
    assert _props(resources, logical_ids["dashboard"])["DashboardName"] == "baton"


@pytest.mark.parametrize(
    "metric",
    ["ExecutionStarted", "ExecutionFinished", "ExecutionFailed", "StepDuration", "StepFailed", "CacheHit",
     "CacheMiss", "WorkerErrors", "DefinitionRejected", "ExecutionSucceeded", "ExecutionDuration", "AgentInputTokens",
     "AgentOutputTokens", "AgentCostUSD"],
)  # fmt: skip
def test_dashboard_shows_each_baton_metric_the_runtime_publishes(
    resources: dict[str, Any], logical_ids: dict[str, str], metric: str
) -> None:
    assert metric in published_metrics(), f"the runtime no longer publishes {metric}"
    body = _dashboard_body(resources, logical_ids["dashboard"])
    assert f'"Baton","{metric}","service","baton"' in body


def test_dashboard_shows_step_duration_percentiles_dlq_depth_and_worker_health(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    body = _dashboard_body(resources, logical_ids["dashboard"])
    assert '"stat":"p50"' in body
    assert '"stat":"p99"' in body
    assert '"AWS/SQS","ApproximateNumberOfMessagesVisible","QueueName"' in body
    assert logical_ids["dead_letter_queue"] in body
    for metric in ("Errors", "Throttles"):
        assert f'"AWS/Lambda","{metric}","FunctionName","<{{"Ref": "{logical_ids["worker"]}"}}>"' in body
    assert "100 * hits / (hits + misses)" in body


def test_dashboard_shows_the_figures_of_baton_stats(resources: dict[str, Any], logical_ids: dict[str, str]) -> None:
    body = _dashboard_body(resources, logical_ids["dashboard"])
    assert "100 * succeeded / finished" in body
    assert '"Baton","ExecutionDuration","service","baton",{"label":"execution p95","stat":"p95"}' in body
    assert '"Baton","StepDuration","service","baton",{"label":"step p95","stat":"p95"' in body
    for title in ("Success rate (%)", "Agent tokens and cost (USD)", "Cache hits and misses"):
        assert f'"title":"{title}"' in body


def test_dead_letter_alarm_fires_on_one_message(resources: dict[str, Any], logical_ids: dict[str, str]) -> None:
    alarm = _props(resources, logical_ids["DeadLettersAlarm"])
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [logical_ids["dead_letter_queue"], "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["TreatMissingData"] == "notBreaching"


def test_worker_errors_alarm_watches_the_worker(resources: dict[str, Any], logical_ids: dict[str, str]) -> None:
    alarm = _props(resources, logical_ids["WorkerErrorsAlarm"])
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": logical_ids["worker"]}}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_failure_rate_alarm_divides_failed_executions_by_finished_ones(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    alarm = _props(resources, logical_ids["FailureRateAlarm"])
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    assert set(queries) == {"expr_1", "failed", "finished"}
    assert queries["expr_1"]["Expression"] == "IF(finished > 0, 100 * failed / finished, 0)"
    for query_id, metric in (("failed", "ExecutionFailed"), ("finished", "ExecutionFinished")):
        stat = queries[query_id]["MetricStat"]
        assert stat["Metric"] == {"Namespace": "Baton", "MetricName": metric,
                                  "Dimensions": [{"Name": "service", "Value": "baton"}]}  # fmt: skip
        assert stat["Stat"] == "Sum"
        assert metric in published_metrics(), f"the runtime no longer publishes {metric}"
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (10, 3)
    assert alarm["TreatMissingData"] == "notBreaching"


ALARMS = ("DeadLettersAlarm", "FailureRateAlarm", "WorkerErrorsAlarm", "StarterErrorsAlarm", "RegistrarErrorsAlarm",
          "WorkerThrottlesAlarm", "StalledExecutionsAlarm", "FailedInvocationsAlarm")  # fmt: skip


@pytest.mark.parametrize("alarm", ALARMS)
def test_every_alarm_notifies_the_alarm_topic(
    resources: dict[str, Any], logical_ids: dict[str, str], alarm: str
) -> None:
    assert _props(resources, logical_ids[alarm])["AlarmActions"] == [{"Ref": logical_ids["alarm_topic"]}]


@pytest.mark.parametrize(
    ("alarm", "watches"),
    [
        ("StarterErrorsAlarm", ("AWS/Lambda", "Errors", "starter")),
        ("RegistrarErrorsAlarm", ("AWS/Lambda", "Errors", "registrar")),
        ("WorkerThrottlesAlarm", ("AWS/Lambda", "Throttles", "worker")),
        ("StalledExecutionsAlarm", ("AWS/SQS", "ApproximateAgeOfOldestMessage", "step_queue")),
        ("FailedInvocationsAlarm", ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "failed_invocations_queue")),
    ],
    ids=["starter-errors", "registrar-errors", "worker-throttles", "stalled", "given-up"],
)
def test_operations_alarms_watch_what_they_say(
    resources: dict[str, Any], logical_ids: dict[str, str], alarm: str, watches: tuple[str, str, str]
) -> None:
    namespace, metric, watched = watches
    props = _props(resources, logical_ids[alarm])
    assert (props["Namespace"], props["MetricName"]) == (namespace, metric)
    (dimension,) = props["Dimensions"]
    assert logical_ids[watched] in json.dumps(dimension["Value"])


def test_the_alarm_topic_is_named_and_tls_only(resources: dict[str, Any], logical_ids: dict[str, str]) -> None:
    assert _props(resources, logical_ids["alarm_topic"])["TopicName"] == "baton-alarms"
    policies = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SNS::TopicPolicy"]
    assert any(
        '"aws:SecureTransport": "false"' in json.dumps(p) or "SecureTransport" in json.dumps(p) for p in policies
    )


def test_the_worker_has_a_reserved_concurrency_by_default(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    assert _props(resources, logical_ids["worker"])["ReservedConcurrentExecutions"] == 50
