"""The step queue with its DLQ, and the lifecycle event bus."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

QUEUES = ("step_queue", "dead_letter_queue", "failed_invocations_queue")


def _props(resources: dict[str, Any], logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = resources[logical_id]["Properties"]
    return props


def test_the_stack_has_exactly_its_queues(template: Template) -> None:
    template.resource_count_is("AWS::SQS::Queue", len(QUEUES))


def test_step_queue_redrives_to_the_dead_letter_queue(resources: dict[str, Any], logical_ids: dict[str, str]) -> None:
    props = _props(resources, logical_ids["step_queue"])
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [logical_ids["dead_letter_queue"], "Arn"]},
        "maxReceiveCount": 5,
    }


def test_step_queue_visibility_timeout_is_six_worker_timeouts(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    worker_timeout = _props(resources, logical_ids["worker"])["Timeout"]
    assert worker_timeout == 900
    assert _props(resources, logical_ids["step_queue"])["VisibilityTimeout"] == 6 * worker_timeout


def test_dead_letter_queue_outlives_the_step_queue(resources: dict[str, Any], logical_ids: dict[str, str]) -> None:
    step_retention = _props(resources, logical_ids["step_queue"]).get(
        "MessageRetentionPeriod",
        4 * 24 * 3600,  # the SQS default
    )
    dlq_retention = _props(resources, logical_ids["dead_letter_queue"])["MessageRetentionPeriod"]
    assert dlq_retention == 14 * 24 * 3600
    assert dlq_retention > step_retention


@pytest.mark.parametrize("queue", QUEUES)
def test_queue_is_encrypted_with_sqs_managed_keys(
    resources: dict[str, Any], logical_ids: dict[str, str], queue: str
) -> None:
    props = _props(resources, logical_ids[queue])
    assert props["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in props


@pytest.mark.parametrize("queue", QUEUES)
def test_queue_policy_denies_requests_without_tls(
    resources: dict[str, Any], logical_ids: dict[str, str], queue: str
) -> None:
    statements = [
        statement
        for resource in resources.values()
        if resource["Type"] == "AWS::SQS::QueuePolicy"
        and resource["Properties"]["Queues"] == [{"Ref": logical_ids[queue]}]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any(
        statement["Effect"] == "Deny"
        and statement["Action"] == "sqs:*"
        and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in statements
    ), statements


def test_event_bus_is_named_after_the_resource_prefix(resources: dict[str, Any], logical_ids: dict[str, str]) -> None:
    assert _props(resources, logical_ids["bus"]) == {"Name": "baton-bus"}


def test_registrar_and_starter_failures_go_to_the_failed_invocations_queue(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    failures = {"Fn::GetAtt": [logical_ids["failed_invocations_queue"], "Arn"]}
    configs = {
        config["Properties"]["FunctionName"]["Ref"]: config["Properties"]
        for config in resources.values()
        if config["Type"] == "AWS::Lambda::EventInvokeConfig"
    }
    assert set(configs) == {logical_ids["registrar"], logical_ids["starter"]}
    for config in configs.values():
        assert config["DestinationConfig"] == {"OnFailure": {"Destination": failures}}
        assert config["MaximumRetryAttempts"] == 2
    for rule in ("definition_changed_rule", "start_execution_rule"):
        (target,) = _props(resources, logical_ids[rule])["Targets"]
        assert target["DeadLetterConfig"] == {"Arn": failures}
