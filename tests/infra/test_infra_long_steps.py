"""The long-step runner's CodeBuild project: what its builds run, with which settings and
grants, and that the worker may start its builds and nothing else of CodeBuild."""

from __future__ import annotations

from typing import Any

import yaml
from tests.infra.test_infra_access import _actions, _as_list

from baton import resource_names as names


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
