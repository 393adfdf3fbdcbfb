"""The step role: assumable by the worker alone, denied every Baton resource.

The template's policies are evaluated with moto's IAM policy engine after resolving the
``Fn::GetAtt``/``Ref``/``Fn::Join`` intrinsics to concrete ARNs, so the assertion is on
what IAM would decide, not on the shape of the JSON.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from infra.application import BatonApp

REGION, ACCOUNT = "eu-west-1", "123456789012"


def _step_role(resources: dict[str, Any], logical_ids: dict[str, str]) -> dict[str, Any]:
    role: dict[str, Any] = resources[logical_ids["step_role"]]["Properties"]
    return role


def _resolve(value: Any, resources: dict[str, Any]) -> Any:
    """Intrinsics -> strings: ``<LogicalId>`` stands for a resource's name or ARN."""
    if isinstance(value, list):
        return [_resolve(item, resources) for item in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        return {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}.get(
            value["Ref"], f"ref-{value['Ref']}"
        )
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        kind = resources[logical_id]["Type"]
        return {
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{logical_id}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{logical_id.lower()}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{logical_id}",
            "AWS::Events::EventBus": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{logical_id}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{logical_id}",
        }.get(kind, f"{logical_id}.{attribute}")
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(_resolve(part, resources)) for part in parts)
    return {key: _resolve(item, resources) for key, item in value.items()}


def _arn_of(logical_id: str, resources: dict[str, Any]) -> str:
    return str(_resolve({"Fn::GetAtt": [logical_id, "Arn"]}, resources))


@pytest.fixture(scope="module")
def step_policy(resources: dict[str, Any], logical_ids: dict[str, str]) -> IAMPolicy:
    documents = [p["PolicyDocument"] for p in _step_role(resources, logical_ids)["Policies"]]
    assert len(documents) == 1
    return IAMPolicy(json.dumps(_resolve(documents[0], resources)))


@pytest.mark.parametrize(
    ("action", "target"),
    [
        ("dynamodb:PutItem", "executions_table"),
        ("dynamodb:UpdateItem", "executions_table"),
        ("dynamodb:DeleteItem", "definitions_table"),
        ("dynamodb:PutItem", "idempotency_table"),
        ("s3:PutObject", "cache_bucket/*"),
        ("s3:GetObject", "artifacts_bucket/*"),
        ("s3:PutObject", "definitions_bucket/*"),
        ("sqs:SendMessage", "step_queue"),
        ("sqs:DeleteMessage", "dead_letter_queue"),
        ("events:PutEvents", "bus"),
        ("iam:PassRole", "scheduler_role"),
    ],
    ids=str,
)
def test_the_step_role_is_denied_every_baton_resource(
    step_policy: IAMPolicy, resources: dict[str, Any], logical_ids: dict[str, str], action: str, target: str
) -> None:
    name, _, rest = target.partition("/")
    arn = _arn_of(logical_ids[name], resources) + (f"/{rest}" if rest else "")
    assert step_policy.is_action_permitted(action, arn) == PermissionResult.DENIED


@pytest.mark.parametrize(
    ("action", "arn"),
    [
        ("scheduler:CreateSchedule", f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/baton/baton-schedule-x"),
        ("events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/baton-rule-x-0"),
        ("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:baton-starter"),
        ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:baton/other/key"),
        ("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/baton/other/key"),
    ],
    ids=["schedules", "rules", "functions", "secretsmanager", "ssm"],
)
def test_the_step_role_cannot_start_schedule_or_read_secrets(step_policy: IAMPolicy, action: str, arn: str) -> None:
    assert step_policy.is_action_permitted(action, arn) == PermissionResult.DENIED


def test_the_step_role_allows_nothing_by_default_and_may_act_elsewhere_when_granted(
    step_policy: IAMPolicy, resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    # Only denials: what a step may do is what the operator attaches (baton:step-policy-arns).
    role = _step_role(resources, logical_ids)
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert {s["Effect"] for s in statements} == {"Deny"}
    assert "ManagedPolicyArns" not in role
    other = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders"
    assert step_policy.is_action_permitted("dynamodb:PutItem", other) == PermissionResult.NEUTRAL


def test_only_the_worker_and_the_long_step_builds_may_assume_the_step_role_with_its_workflow_tag(
    resources: dict[str, Any], logical_ids: dict[str, str], policy_statements: dict[str, list[dict[str, Any]]]
) -> None:
    trust = _step_role(resources, logical_ids)["AssumeRolePolicyDocument"]["Statement"]
    assert len(trust) == 1
    assert sorted(trust[0]["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert trust[0]["Principal"] == {"AWS": [{"Fn::GetAtt": [logical_ids["worker_role"], "Arn"]},
                                             {"Fn::GetAtt": [logical_ids["long_step_role"], "Arn"]}]}  # fmt: skip
    assumers = [
        role
        for role, statements in policy_statements.items()
        for statement in statements
        if "sts:AssumeRole" in statement["Action"]
    ]
    assert sorted(assumers) == sorted([logical_ids["worker_role"], logical_ids["long_step_role"]])


def test_the_worker_is_told_the_step_role(
    baton: BatonApp, resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    variables = resources[logical_ids["worker"]]["Properties"]["Environment"]["Variables"]
    assert variables["BATON_STEP_ROLE_ARN"] == {"Fn::GetAtt": [logical_ids["step_role"], "Arn"]}
    others = [resources[logical_ids[role]]["Properties"]["Environment"]["Variables"] for role in
              ("registrar", "starter", "approver")]  # fmt: skip
    assert all("BATON_STEP_ROLE_ARN" not in v for v in others)
