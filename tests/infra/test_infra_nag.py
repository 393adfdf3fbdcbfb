"""cdk-nag AwsSolutions: no unacknowledged findings, every acknowledgement explained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Validations
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct
from tests.infra.conftest import NO_BUNDLING

from infra.api import PUSH_LOGS_POLICY
from infra.application import BatonApp, build_app


def _acknowledgements(root: IConstruct) -> dict[str, dict[str, str]]:
    """Acknowledged rule ids and reasons, keyed by construct path."""
    found: dict[str, dict[str, str]] = {}
    for construct in root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                found.setdefault(construct.node.path, {}).update(entry.data)
    return found


def test_awssolutions_reports_no_unacknowledged_findings(baton: BatonApp) -> None:
    result = AwsSolutionsChecks(verbose=True).validate_scope(baton.app)
    findings = [
        f"{violation.severity} {violation.rule_name} at "
        f"{[resource.construct_path for resource in violation.violating_resources]}: "
        f"{violation.description}"
        for violation in result.violations
    ]
    assert findings == []
    assert result.success


ARN = "Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:{}:<AWS::Region>:<AWS::AccountId>:{}]"
SCHEDULES = [ARN.format("scheduler", "schedule/baton/baton-schedule-*")]


def _objects(bucket_logical_id: str) -> str:
    return f"Annotation::AwsSolutions-IAM5[Resource::<{bucket_logical_id}.Arn>/*]"


def test_acknowledgements_are_the_expected_ones_each_with_a_reason(
    baton: BatonApp, logical_ids: dict[str, str]
) -> None:
    acknowledgements = _acknowledgements(baton.app)
    xray = "Annotation::AwsSolutions-IAM5[Resource::*]"
    artifacts = _objects(logical_ids["artifacts_bucket"])
    expected = {
        "Baton/Storage/AccessLogsBucket": ["Annotation::AwsSolutions-S1"],
        "Baton/Queueing/FailedInvocationsQueue": ["Annotation::AwsSolutions-SQS3"],
        **{f"Baton/Functions/{name}": ["Annotation::AwsSolutions-L1"] for name in FUNCTIONS},
        "Baton/Functions/RegistrarRole/DefaultPolicy": sorted(
            [xray, artifacts, _objects(logical_ids["definitions_bucket"]), ARN.format("events", "rule/baton-rule-*"),
             *SCHEDULES]
        ),
        "Baton/Functions/StarterRole/DefaultPolicy": sorted([xray, artifacts]),
        "Baton/Functions/ApproverRole/DefaultPolicy": sorted([xray, artifacts]),
        "Baton/Functions/SweeperRole/DefaultPolicy": sorted([xray, artifacts]),
        "Baton/Api/Function": ["Annotation::AwsSolutions-L1"],
        "Baton/Api/FunctionRole/DefaultPolicy": sorted([xray, artifacts]),
        "Baton/Api/RestApi": sorted(f"Annotation::AwsSolutions-{rule}" for rule in ("APIG2", "APIG3", "COG4")),
        "Baton/Api/RestApi/CloudWatchRole": [f"Annotation::AwsSolutions-IAM4[Policy::{PUSH_LOGS_POLICY}]"],
        "Baton/Functions/WorkerRole/DefaultPolicy": sorted(
            [xray, artifacts, _objects(logical_ids["cache_bucket"]), *SCHEDULES,
             ARN.format("ssm", "parameter/baton/*"), ARN.format("secretsmanager", "secret:baton/*"),
             "Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/*]",
             ARN.format("bedrock", "inference-profile/*")]
        ),
        "Baton/LongSteps/Project": ["Annotation::AwsSolutions-CB4"],
        "Baton/LongSteps/Role/DefaultPolicy": sorted(
            [artifacts, _objects(logical_ids["cache_bucket"]), *SCHEDULES,
             ARN.format("ssm", "parameter/baton/*"), ARN.format("secretsmanager", "secret:baton/*"),
             "Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/*]",
             ARN.format("bedrock", "inference-profile/*"),
             ARN.format("logs", f"log-group:/aws/codebuild/<{logical_ids['long_step_project']}>:*")]
        ),
    }  # fmt: skip
    assert {path: sorted(rules) for path, rules in acknowledgements.items()} == expected
    reasons = [reason for rules in acknowledgements.values() for reason in rules.values()]
    assert all(len(reason) >= 40 for reason in reasons), reasons


FUNCTIONS = ("Registrar", "Starter", "Worker", "Approver", "Sweeper")


def test_a_finding_fails_synthesis(tmp_path: Path) -> None:
    # GIVEN the app as app.py builds it, cdk-nag included, plus a bucket nag rejects
    built = build_app(outdir=str(tmp_path), context=NO_BUNDLING)
    s3.Bucket(built.stack, "UnloggedBucket", enforce_ssl=True)
    # WHEN it synthesizes THEN synthesis fails and the report names the rule and bucket
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        built.app.synth()
    report: dict[str, Any] = json.loads((tmp_path / "validation-report.json").read_text())
    violations = [
        (violation["ruleName"], resource["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for resource in violation["violatingConstructs"]
    ]
    assert violations == [("AwsSolutions-S1", "Baton/UnloggedBucket/Resource")]
