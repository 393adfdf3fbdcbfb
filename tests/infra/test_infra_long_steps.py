"""The long-step runner's CodeBuild project: what its builds run, with which settings and
grants, and that the worker may start its builds and nothing else of CodeBuild."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks
from tests.infra.conftest import NO_BUNDLING
from tests.infra.test_infra_access import _actions, _as_list

from baton import resource_names as names
from infra.application import build_app


def _project(resources: dict[str, Any], logical_ids: dict[str, str]) -> dict[str, Any]:
    props: dict[str, Any] = resources[logical_ids["long_step_project"]]["Properties"]
    return props


def test_the_project_runs_the_entry_point_on_an_aws_image_for_up_to_eight_hours(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    project = _project(resources, logical_ids)
    assert project["Name"] == "baton-long-steps"
    assert project["TimeoutInMinutes"] == 480
    assert project["QueuedTimeoutInMinutes"] == names.LONG_QUEUED_MINUTES
    assert project["Source"]["Type"] == "NO_SOURCE"
    assert project["Artifacts"] == {"Type": "NO_ARTIFACTS"}
    assert project["Environment"]["Image"] == "aws/codebuild/amazonlinux-aarch64-standard:3.0"  # arm64, as the asset
    assert project["Environment"]["Type"] == "ARM_CONTAINER"
    assert project["Environment"].get("PrivilegedMode") in (None, False)
    assert "VpcConfig" not in project
    spec = yaml.safe_load(project["Source"]["BuildSpec"])
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.12"}
    assert spec["phases"]["build"]["commands"] == ["PYTHONPATH=/tmp/baton-code python -m baton.handlers.long_step"]
    assert project["LogsConfig"]["CloudWatchLogs"]["GroupName"] == {"Ref": logical_ids["long_step_logs"]}


def test_a_build_gets_what_the_entry_point_reads_and_never_a_runner_of_its_own(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    variables = {v["Name"]: v["Value"] for v in _project(resources, logical_ids)["Environment"]["EnvironmentVariables"]}
    needed = {*names.FUNCTION_ENVIRONMENT_VARIABLES["long_step"], *names.STACK_SETTING_VARIABLES}
    assert needed - set(variables) == set()
    assert variables[names.ENV_STEP_ROLE_ARN] == {"Fn::GetAtt": [logical_ids["step_role"], "Arn"]}
    assert names.ENV_LONG_STEP_PROJECT not in variables
    assert set(names.LONG_STEP_JOB_VARIABLES) & set(variables) == set()  # each build's own, set by the worker


def test_the_worker_may_start_builds_of_the_project_only_and_the_registrar_knows_it(
    resources: dict[str, Any], logical_ids: dict[str, str], policy_statements: dict[str, list[dict[str, Any]]]
) -> None:
    codebuild = {
        role: [s for s in statements if any(a.startswith("codebuild:") for a in _as_list(s["Action"]))]
        for role, statements in policy_statements.items()
    }
    assert {role for role, found in codebuild.items() if found} == {logical_ids["worker_role"]}
    (statement,) = codebuild[logical_ids["worker_role"]]
    assert statement["Action"] == "codebuild:StartBuild"
    assert statement["Resource"] == {"Fn::GetAtt": [logical_ids["long_step_project"], "Arn"]}
    for role in ("worker", "registrar"):
        variables = resources[logical_ids[role]]["Properties"]["Environment"]["Variables"]
        assert variables[names.ENV_LONG_STEP_PROJECT] == {"Ref": logical_ids["long_step_project"]}


def test_a_build_has_the_workers_grants_and_its_own_logs_and_code(
    logical_ids: dict[str, str], policy_statements: dict[str, list[dict[str, Any]]]
) -> None:
    worker = _actions(policy_statements[logical_ids["worker_role"]])
    build = _actions(policy_statements[logical_ids["long_step_role"]])
    tracing = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    # A build is handed its unit: it receives no step messages (the worker's event source).
    event_source = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}  # fmt: skip
    assert worker - build == tracing | event_source | {"codebuild:StartBuild"}
    assert build - worker == {"logs:CreateLogGroup"}  # CodeBuild's own logging statement
    assert {"logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject", "sts:AssumeRole"} <= build


def test_on_an_emulator_without_codebuild_the_worker_runs_long_steps_as_a_process(tmp_path: Path) -> None:
    # GIVEN a deployment for LocalStack's community edition (no CodeBuild)
    built = build_app(outdir=str(tmp_path), context={**NO_BUNDLING, "baton:long-runner": "process"}, with_nag=False)
    resources = Template.from_stack(built.stack).to_json()["Resources"]
    # THEN there is no project, and the worker and the registrar are told to use a process
    assert [r for r in resources.values() if r["Type"] == "AWS::CodeBuild::Project"] == []
    functions = {r["Properties"]["Handler"]: r["Properties"]["Environment"]["Variables"]
                 for r in resources.values() if r["Type"] == "AWS::Lambda::Function"}  # fmt: skip
    for role in ("worker", "registrar"):
        variables = functions[f"baton.handlers.{role}.handler"]
        assert variables[names.ENV_LONG_RUNNER] == "process"
        assert names.ENV_LONG_STEP_PROJECT not in variables
    # AND cdk-nag still finds nothing to report
    assert AwsSolutionsChecks(verbose=True).validate_scope(built.app).violations == []


def test_an_unknown_long_step_runner_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"long-step runner 'fargate' \(baton:long-runner\) must be one of"):
        build_app(outdir=str(tmp_path), context={**NO_BUNDLING, "baton:long-runner": "fargate"}, with_nag=False)


@pytest.mark.parametrize("url", ["https://vpce-0a1b.bedrock-runtime.us-east-1.vpce.amazonaws.com",
                                 "http://127.0.0.1:8123"])  # fmt: skip
def test_a_bedrock_endpoint_reaches_the_worker_and_the_builds(tmp_path: Path, url: str) -> None:
    built = build_app(outdir=str(tmp_path), context={**NO_BUNDLING, "baton:bedrock-endpoint-url": url},
                      with_nag=False)  # fmt: skip
    resources = Template.from_stack(built.stack).to_json()["Resources"]
    functions = {r["Properties"]["Handler"]: r["Properties"]["Environment"]["Variables"]
                 for r in resources.values() if r["Type"] == "AWS::Lambda::Function"}  # fmt: skip
    assert functions["baton.handlers.worker.handler"][names.ENV_BEDROCK_ENDPOINT_URL] == url
    assert names.ENV_BEDROCK_ENDPOINT_URL not in functions["baton.handlers.starter.handler"]
    (project,) = [r for r in resources.values() if r["Type"] == "AWS::CodeBuild::Project"]
    variables = {v["Name"]: v["Value"] for v in project["Properties"]["Environment"]["EnvironmentVariables"]}
    assert variables[names.ENV_BEDROCK_ENDPOINT_URL] == url
