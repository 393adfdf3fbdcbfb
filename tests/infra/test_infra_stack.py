"""The composed stack: outputs, the functions' environment, no construct warnings."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match, Template

from baton import resource_names as names
from infra.application import BatonApp

OUTPUTS = {
    "DefinitionsBucketName": "definitions_bucket",
    "ArtifactsBucketName": "artifacts_bucket",
    "CacheBucketName": "cache_bucket",
    "AccessLogsBucketName": "access_logs_bucket",
    "ExecutionsTableName": "executions_table",
    "DefinitionsTableName": "definitions_table",
    "IdempotencyTableName": "idempotency_table",
    "StepQueueUrl": "step_queue",
    "StepDeadLetterQueueUrl": "dead_letter_queue",
    "RegistrarFunctionName": "registrar",
    "StarterFunctionName": "starter",
    "WorkerFunctionName": "worker",
    "ApproverFunctionName": "approver",
}


@pytest.mark.parametrize(("output_id", "resource"), OUTPUTS.items(), ids=list(OUTPUTS))
def test_output_refers_to_its_resource(
    template: Template, logical_ids: dict[str, str], output_id: str, resource: str
) -> None:
    # Ref is the name of a bucket or table and the URL of a queue.
    template.has_output(output_id, {"Value": {"Ref": logical_ids[resource]}})


def test_output_names_the_event_bus(template: Template, logical_ids: dict[str, str]) -> None:
    template.has_output("EventBusName", {"Value": {"Ref": logical_ids["bus"]}})


@pytest.mark.parametrize(
    ("output_id", "role"),
    [("WorkerRoleArn", "worker_role"), ("SchedulerRoleArn", "scheduler_role")],
    ids=["worker-role", "scheduler-role"],
)
def test_output_gives_a_role_arn(template: Template, logical_ids: dict[str, str], output_id: str, role: str) -> None:
    template.has_output(output_id, {"Value": {"Fn::GetAtt": [logical_ids[role], "Arn"]}})


@pytest.mark.parametrize(
    ("output_id", "value"),
    [("ResourcePrefix", "baton"), ("ScheduleGroupName", "baton"), ("DashboardName", "baton")],
    ids=["prefix", "schedule-group", "dashboard"],
)
def test_output_gives_a_name_built_from_the_prefix(template: Template, output_id: str, value: str) -> None:
    template.has_output(output_id, {"Value": value})


def test_outputs_cover_every_variable_the_runtime_reads(template: Template) -> None:
    # `baton ... --stack` rebuilds the functions' settings from the outputs alone.
    outputs = template.to_json()["Outputs"]
    needed = {"ExecutionsTableName", "DefinitionsTableName", "IdempotencyTableName", "DefinitionsBucketName",
              "ArtifactsBucketName", "CacheBucketName", "StepQueueUrl", "EventBusName", "ResourcePrefix"}  # fmt: skip
    assert needed <= set(outputs)


def test_function_environment_sets_every_variable_the_runtime_reads(baton: BatonApp) -> None:
    environment = baton.stack.function_environment
    assert sorted(environment) == sorted(names.ENVIRONMENT_VARIABLES)
    assert environment[names.ENV_RESOURCE_PREFIX] == "baton"


def test_function_environment_resolves_to_the_stack_resources(baton: BatonApp, logical_ids: dict[str, str]) -> None:
    resolved: dict[str, Any] = baton.stack.resolve(baton.stack.function_environment)
    assert resolved[names.ENV_EXECUTIONS_TABLE] == {"Ref": logical_ids["executions_table"]}
    assert resolved[names.ENV_STEP_QUEUE_URL] == {"Ref": logical_ids["step_queue"]}
    assert resolved[names.ENV_EVENT_BUS] == {"Ref": logical_ids["bus"]}


def test_stack_name_comes_from_context_default(baton: BatonApp) -> None:
    assert baton.stack.stack_name == "Baton"


@pytest.mark.parametrize("level", ["error", "warning"])
def test_stack_has_no_construct_annotations(baton: BatonApp, level: str) -> None:
    # cdk-nag 3 reports through the validation plugin, not annotations (see test_infra_nag);
    # this catches CDK's own warnings, e.g. a deprecated property or a feature-flag hint.
    annotations = Annotations.from_stack(baton.stack)
    find = annotations.find_error if level == "error" else annotations.find_warning
    assert find("*", Match.any_value()) == []
