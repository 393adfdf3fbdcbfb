"""Least privilege: no wildcard actions, ``*`` resources only for X-Ray, each function only its
calls, and every AWS call the runtime makes granted to some function."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

ROLES = ("registrar", "starter", "worker", "approver")
RUNTIME = Path(__file__).resolve().parents[2] / "lambdas" / "baton"
# The services the runtime calls, as boto3 names them and as IAM prefixes their actions.
SERVICES = {"s3": "s3", "dynamodb": "dynamodb", "sqs": "sqs", "events": "events", "scheduler": "scheduler",
            "ssm": "ssm", "secretsmanager": "secretsmanager"}  # fmt: skip
# Calls whose IAM action is not named after the operation.
ACTION_OF = {
    "s3:HeadObject": ["s3:GetObject"],
    "s3:ListObjectsV2": ["s3:ListBucket"],
    "dynamodb:TransactWriteItems": ["dynamodb:PutItem", "dynamodb:ConditionCheckItem"],
    "sqs:SendMessageBatch": ["sqs:SendMessage"],
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(policy_statements: dict[str, list[dict[str, Any]]], role_id: str) -> list[dict[str, Any]]:
    return policy_statements.get(role_id, [])


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {action for statement in statements for action in _as_list(statement["Action"])}


def _resources_of(statements: list[dict[str, Any]], action: str) -> list[Any]:
    return [
        resource
        for statement in statements
        if action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    ]


def test_no_statement_uses_a_wildcard_action(policy_statements: dict[str, list[dict[str, Any]]]) -> None:
    wildcard = [action for statements in policy_statements.values() for action in _actions(statements) if "*" in action]
    assert policy_statements, "found no policies: the fixture is broken"
    assert wildcard == []


def test_only_x_ray_gets_the_star_resource(policy_statements: dict[str, list[dict[str, Any]]]) -> None:
    star = {
        action
        for statements in policy_statements.values()
        for statement in statements
        if "*" in _as_list(statement["Resource"])
        for action in _as_list(statement["Action"])
    }
    assert star == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_lambda_roles_carry_no_managed_policies(resources: dict[str, Any]) -> None:
    roles = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::IAM::Role"]
    # The function roles, the scheduler's, the steps' and the long-step builds'; API Gateway's
    # account-wide logging role is the one that carries (its documented) managed policy.
    lambda_roles = [role for role in roles if "apigateway" not in json.dumps(role["AssumeRolePolicyDocument"])]
    assert len(lambda_roles) == 9  # six functions, the scheduler, the steps, the long-step builds
    assert [role.get("ManagedPolicyArns") for role in lambda_roles] == [None] * 9
    assert len(roles) == 10


@pytest.mark.parametrize(
    ("role", "granted", "denied"),
    [
        ("registrar", {"events:PutRule", "scheduler:CreateSchedule", "s3:PutObjectTagging"},
         {"ssm:GetParameter", "dynamodb:Scan"}),
        ("starter", {"sqs:SendMessage", "dynamodb:PutItem"},
         {"events:PutRule", "scheduler:CreateSchedule", "iam:PassRole", "secretsmanager:GetSecretValue",
          "bedrock:InvokeModel"}),
        ("worker", {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage", "scheduler:CreateSchedule",
                    "iam:PassRole", "ssm:GetParameter", "secretsmanager:GetSecretValue", "bedrock:InvokeModel"},
         {"events:PutRule", "scheduler:DeleteSchedule", "s3:PutObjectTagging"}),
        ("approver", {"sqs:SendMessage", "dynamodb:UpdateItem"},
         {"sqs:ReceiveMessage", "iam:PassRole", "scheduler:CreateSchedule", "ssm:GetParameter"}),
    ],
    ids=list(ROLES),
)  # fmt: skip
def test_each_function_gets_its_calls_and_not_the_others(
    policy_statements: dict[str, list[dict[str, Any]]],
    logical_ids: dict[str, str],
    role: str,
    granted: set[str],
    denied: set[str],
) -> None:
    actions = _actions(_statements(policy_statements, logical_ids[f"{role}_role"]))
    assert granted <= actions
    assert not denied & actions


def test_only_the_starter_touches_the_idempotency_table(
    policy_statements: dict[str, list[dict[str, Any]]], logical_ids: dict[str, str]
) -> None:
    table = {"Fn::GetAtt": [logical_ids["idempotency_table"], "Arn"]}
    holders = [
        role for role in ROLES
        if any(table in _as_list(s["Resource"]) for s in _statements(policy_statements, logical_ids[f"{role}_role"]))
    ]  # fmt: skip
    assert holders == ["starter"]


def _joined(value: Any) -> str:
    """An ``Fn::Join`` ARN as text, pseudo parameters as ``<Name>``."""
    parts = value["Fn::Join"][1]
    return "".join(part if isinstance(part, str) else f"<{part.get('Ref')}>" for part in parts)


def test_the_registrar_sends_only_its_failed_invocations(
    policy_statements: dict[str, list[dict[str, Any]]], logical_ids: dict[str, str]
) -> None:
    statements = _statements(policy_statements, logical_ids["registrar_role"])
    failures = {"Fn::GetAtt": [logical_ids["failed_invocations_queue"], "Arn"]}
    assert _resources_of(statements, "sqs:SendMessage") == [failures]


def test_trigger_rules_and_schedules_are_scoped_to_the_name_prefix_and_group(
    policy_statements: dict[str, list[dict[str, Any]]], logical_ids: dict[str, str]
) -> None:
    registrar = _statements(policy_statements, logical_ids["registrar_role"])
    rules = {_joined(r) for r in _resources_of(registrar, "events:PutRule")}
    assert rules == {"arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/baton-rule-*"}
    for role in ("registrar", "worker"):
        statements = _statements(policy_statements, logical_ids[f"{role}_role"])
        schedules = {_joined(r).rsplit(":", 1)[1] for s in statements
                     if any(action.startswith("scheduler:") for action in _as_list(s["Action"]))
                     for r in _as_list(s["Resource"])}  # fmt: skip
        assert schedules == {"schedule/baton/baton-schedule-*"}, "only in Baton's group, never in 'default'"


@pytest.mark.parametrize("role", ["registrar", "worker"])
def test_pass_role_only_hands_the_scheduler_role_to_scheduler(
    policy_statements: dict[str, list[dict[str, Any]]], logical_ids: dict[str, str], role: str
) -> None:
    (statement,) = [
        s for s in _statements(policy_statements, logical_ids[f"{role}_role"]) if s["Action"] == "iam:PassRole"
    ]
    assert statement["Resource"] == {"Fn::GetAtt": [logical_ids["scheduler_role"], "Arn"]}
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}


def test_secrets_are_limited_to_the_prefix(
    policy_statements: dict[str, list[dict[str, Any]]], logical_ids: dict[str, str]
) -> None:
    worker = _statements(policy_statements, logical_ids["worker_role"])
    assert [_joined(r).rsplit(":", 1)[1] for r in _resources_of(worker, "ssm:GetParameter")] == ["parameter/baton/*"]
    assert [_joined(r).rsplit(":", 2)[1:] for r in _resources_of(worker, "secretsmanager:GetSecretValue")] == [
        ["secret", "baton/*"]
    ]


def test_scheduler_role_is_for_this_account_and_only_starts_or_wakes(
    resources: dict[str, Any], policy_statements: dict[str, list[dict[str, Any]]], logical_ids: dict[str, str]
) -> None:
    trust = resources[logical_ids["scheduler_role"]]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
        }
    ]
    statements = _statements(policy_statements, logical_ids["scheduler_role"])
    assert sorted((s["Action"], str(s["Resource"])) for s in statements) == [
        ("lambda:InvokeFunction", str({"Fn::GetAtt": [logical_ids["starter"], "Arn"]})),
        ("sqs:SendMessage", str([{"Fn::GetAtt": [logical_ids[queue], "Arn"]}
                                 for queue in ("failed_invocations_queue", "step_queue")])),
    ]  # fmt: skip


def test_trigger_rules_may_invoke_the_starter(resources: dict[str, Any], logical_ids: dict[str, str]) -> None:
    (permission,) = [
        r["Properties"] for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission" and "Fn::Join" in r["Properties"].get("SourceArn", {})
        and r["Properties"]["Principal"] == "events.amazonaws.com"
    ]  # fmt: skip
    assert permission["FunctionName"] == {"Fn::GetAtt": [logical_ids["starter"], "Arn"]}
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert _joined(permission["SourceArn"]).endswith(":rule/baton-rule-*")


def runtime_calls() -> set[str]:
    """``service:Operation`` of every AWS call in the runtime's source (handlers and AWS adapters)."""
    session = botocore.session.get_session()
    operations: dict[str, str] = {}
    for service, prefix in SERVICES.items():
        for operation in session.get_service_model(service).operation_names:
            operations.setdefault(xform_name(operation), f"{prefix}:{operation}")
    sources = [*(RUNTIME / "adapters" / "aws").glob("*.py"), *(RUNTIME / "handlers").glob("*.py")]
    text = "\n".join(path.read_text(encoding="utf-8") for path in sources)
    called = set(re.findall(r"\.(\w+)\(", text)) | set(re.findall(r"get_paginator\(\"(\w+)\"\)", text))
    return {operations[name] for name in called if name in operations}


def test_every_call_the_runtime_makes_is_granted_to_a_function(
    policy_statements: dict[str, list[dict[str, Any]]], logical_ids: dict[str, str]
) -> None:
    calls = runtime_calls()
    assert {"dynamodb:PutItem", "s3:GetObject", "sqs:SendMessage", "events:PutEvents"} <= calls, calls
    granted = set().union(*(_actions(_statements(policy_statements, logical_ids[f"{r}_role"])) for r in ROLES))
    needed = {action for call in calls for action in ACTION_OF.get(call, [call])}
    assert needed - granted == set()
