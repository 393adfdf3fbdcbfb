"""The functions: runtime, tracing, the environment their handlers read, Powertools settings,
log groups, the worker's event source."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template
from tests.infra.conftest import NO_BUNDLING

from baton import resource_names as names
from baton.adapters.aws.bootstrap import LEASE_SECONDS_ENV, WORKSPACE_ROOT_ENV
from infra.application import BatonApp, build_app

ROLES = ("registrar", "starter", "worker", "approver", "sweeper")
LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


def _props(resources: dict[str, Any], logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = resources[logical_id]["Properties"]
    return props


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The template of a deployment that sets every worker and runtime option."""
    context: dict[str, Any] = {
        **NO_BUNDLING,
        "baton:stack-name": "BatonTuned",
        "baton:worker-timeout-seconds": "300",
        "baton:worker-batch-size": "5",
        "baton:worker-reserved-concurrency": "20",
        "baton:worker-max-concurrency": "10",
        "baton:powertools-layer-version": "7",
        "baton:log-retention-days": "90",
        "baton:log-level": "debug",
    }
    built: BatonApp = build_app(outdir=str(tmp_path_factory.mktemp("tuned")), context=context, with_nag=False)
    return dict(Template.from_stack(built.stack).to_json())


def _function(template: dict[str, Any], role: str) -> dict[str, Any]:
    matches = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"]["Handler"].endswith(f".{role}.handler")
    ]
    assert len(matches) == 1, role
    props: dict[str, Any] = matches[0]
    return props


@pytest.mark.parametrize("role", ROLES)
def test_function_runs_its_handler_on_python_312_with_active_tracing(
    resources: dict[str, Any], logical_ids: dict[str, str], role: str
) -> None:
    props = _props(resources, logical_ids[role])
    assert props["Handler"] == f"baton.handlers.{role}.handler"
    assert (LAMBDAS / "baton" / "handlers" / f"{role}.py").is_file(), "the handler module must exist"
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]  # Graviton: 20% less per GB-second
    assert props["MemorySize"] == (1024 if role == "worker" else 256)
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["FunctionName"] == f"baton-{role}"
    assert props["Role"] == {"Fn::GetAtt": [logical_ids[f"{role}_role"], "Arn"]}


@pytest.mark.parametrize("role", ROLES)
def test_function_gets_the_stack_names_and_powertools_settings(
    resources: dict[str, Any], logical_ids: dict[str, str], role: str
) -> None:
    variables = _props(resources, logical_ids[role])["Environment"]["Variables"]
    assert set(names.ENVIRONMENT_VARIABLES) <= set(variables)
    assert variables["POWERTOOLS_SERVICE_NAME"] == "baton"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "Baton"
    assert variables["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert variables["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
    assert variables[names.ENV_RETENTION_DAYS] == "90"


@pytest.mark.parametrize(
    ("role", "extra"),
    [
        ("registrar", {names.ENV_STARTER_FUNCTION_ARN, names.ENV_SCHEDULER_ROLE_ARN, names.ENV_SCHEDULE_GROUP}),
        ("worker", {names.ENV_STEP_QUEUE_ARN, names.ENV_SCHEDULER_ROLE_ARN, names.ENV_SCHEDULE_GROUP}),
        ("starter", set()),
        ("approver", set()),
        ("sweeper", set()),
    ],
    ids=["registrar", "worker", "starter", "approver", "sweeper"],
)
def test_only_the_functions_that_create_schedules_get_their_settings(
    resources: dict[str, Any], logical_ids: dict[str, str], role: str, extra: set[str]
) -> None:
    variables = _props(resources, logical_ids[role])["Environment"]["Variables"]
    trigger_settings = {names.ENV_STARTER_FUNCTION_ARN, names.ENV_SCHEDULER_ROLE_ARN, names.ENV_SCHEDULE_GROUP,
                        names.ENV_STEP_QUEUE_ARN}  # fmt: skip
    assert trigger_settings & set(variables) == extra


def test_trigger_settings_point_at_the_starter_queue_and_scheduler_role(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    registrar = _props(resources, logical_ids["registrar"])["Environment"]["Variables"]
    worker = _props(resources, logical_ids["worker"])["Environment"]["Variables"]
    scheduler_role = {"Fn::GetAtt": [logical_ids["scheduler_role"], "Arn"]}
    assert registrar[names.ENV_STARTER_FUNCTION_ARN] == {"Fn::GetAtt": [logical_ids["starter"], "Arn"]}
    assert registrar[names.ENV_SCHEDULER_ROLE_ARN] == worker[names.ENV_SCHEDULER_ROLE_ARN] == scheduler_role
    assert worker[names.ENV_STEP_QUEUE_ARN] == {"Fn::GetAtt": [logical_ids["step_queue"], "Arn"]}
    assert registrar[names.ENV_SCHEDULE_GROUP] == worker[names.ENV_SCHEDULE_GROUP] == "baton"


LEFT_AT_DEFAULT = {WORKSPACE_ROOT_ENV, LEASE_SECONDS_ENV, names.ENV_STEP_EVENTS, names.ENV_LONG_RUNNER}
"""Tunables the runtime reads with a default that the stack does not change."""
PER_BUILD = set(names.LONG_STEP_JOB_VARIABLES)
"""Set by the worker on each long-step build it starts, not by the stack."""


def _variables(value: object) -> set[str]:
    """The environment variable names in a ``baton.resource_names`` constant."""
    if isinstance(value, str):
        return {value} if value.startswith(("BATON_", "POWERTOOLS_")) else set()
    if isinstance(value, Mapping):
        value = tuple(value.values())
    if isinstance(value, tuple):
        return {name for item in value for name in _variables(item)}
    return set()


def runtime_variables() -> set[str]:
    """Variables the handlers and AWS adapters read: the ``names.*`` constants they use that
    name variables, and ``"BATON_..."`` / ``"POWERTOOLS_..."`` literals in their source."""
    runtime = LAMBDAS / "baton"
    sources = [*(runtime / "adapters" / "aws").glob("*.py"), *(runtime / "handlers").glob("*.py")]
    text = "\n".join(path.read_text(encoding="utf-8") for path in sources)
    used = {name for constant in re.findall(r"\bnames\.(\w+)", text) for name in _variables(getattr(names, constant))}
    return used | set(re.findall(r"\"((?:BATON|POWERTOOLS)_[A-Z_]+)\"", text))


def test_every_variable_the_runtime_reads_is_one_a_function_gets_or_a_tunable() -> None:
    read = runtime_variables()
    assert {names.ENV_EVENT_BUS, names.ENV_SCHEDULE_GROUP, names.ENV_POWERTOOLS_SERVICE_NAME} <= read, read
    declared = {*_variables(names.FUNCTION_ENVIRONMENT_VARIABLES), *names.STACK_SETTING_VARIABLES,
                *names.OPTIONAL_FUNCTION_VARIABLES, *PER_BUILD}  # fmt: skip
    assert read - declared - LEFT_AT_DEFAULT == set(), "declare it in baton.resource_names and set it in infra/"


@pytest.mark.parametrize("role", ROLES)
def test_function_environment_covers_what_its_handler_reads(
    resources: dict[str, Any], logical_ids: dict[str, str], role: str
) -> None:
    # GIVEN what the role's handler refuses to start without, and the settings it reads
    needed = {*names.FUNCTION_ENVIRONMENT_VARIABLES[role], *names.STACK_SETTING_VARIABLES}
    # THEN the synthesized function sets each of them, to something
    variables = _props(resources, logical_ids[role])["Environment"]["Variables"]
    assert needed - set(variables) == set()
    assert [name for name in needed if variables[name] in ("", None)] == []


def test_the_stack_sets_every_variable_the_runtime_reads_but_the_tunables(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    set_somewhere = {
        name for role in ROLES for name in _props(resources, logical_ids[role])["Environment"]["Variables"]
    }
    assert runtime_variables() - set_somewhere - PER_BUILD == LEFT_AT_DEFAULT


@pytest.mark.parametrize("role", ROLES)
def test_function_logs_to_its_own_group_with_the_retention(
    resources: dict[str, Any], logical_ids: dict[str, str], role: str
) -> None:
    group = _props(resources, logical_ids[f"{role}_logs"])
    assert group == {"LogGroupName": f"/aws/lambda/baton-{role}", "RetentionInDays": 30}
    assert _props(resources, logical_ids[role])["LoggingConfig"] == {"LogGroup": {"Ref": logical_ids[f"{role}_logs"]}}
    assert resources[logical_ids[f"{role}_logs"]]["DeletionPolicy"] == "Retain"


def test_worker_reads_the_step_queue_reporting_partial_batch_failures(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    mappings = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert mappings == [
        {
            "BatchSize": 1,
            "EventSourceArn": {"Fn::GetAtt": [logical_ids["step_queue"], "Arn"]},
            "FunctionName": {"Ref": logical_ids["worker"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        }
    ]


def test_defaults_reserve_worker_concurrency_only_and_bundle_powertools(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    for role in ROLES:
        props = _props(resources, logical_ids[role])
        assert props.get("ReservedConcurrentExecutions") == (50 if role == "worker" else None)
        assert "Layers" not in props


def test_worker_settings_from_context_reach_the_function_and_its_event_source(tuned: dict[str, Any]) -> None:
    worker = _function(tuned, "worker")
    assert worker["Timeout"] == 300
    assert worker["ReservedConcurrentExecutions"] == 20
    (mapping,) = [
        r["Properties"] for r in tuned["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    assert mapping["BatchSize"] == 5
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 10}
    (queue,) = [
        r["Properties"] for r in tuned["Resources"].values()
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]
    ]  # fmt: skip
    assert queue["VisibilityTimeout"] == 6 * 300


def test_log_settings_from_context_reach_functions_and_groups(tuned: dict[str, Any]) -> None:
    assert _function(tuned, "starter")["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    groups = [r["Properties"] for r in tuned["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"]
    named = sorted(group["LogGroupName"] for group in groups if "LogGroupName" in group)
    expected = [f"/aws/lambda/batontuned-{r}" for r in (*ROLES, "api")] + ["/aws/codebuild/batontuned-long-steps"]
    assert named == sorted(expected)
    assert len(groups) == len(named) + 1  # the API's access logs
    assert {group["RetentionInDays"] for group in groups} == {90}


@pytest.mark.parametrize("role", [*ROLES, "api"])
def test_powertools_layer_version_adds_the_managed_layer(tuned: dict[str, Any], role: str) -> None:
    (layer,) = _function(tuned, role)["Layers"]
    assert layer == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":lambda:", {"Ref": "AWS::Region"},
             ":017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:7"],
        ]
    }  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
def test_function_waits_for_its_policy_but_not_redundantly_for_its_role(
    resources: dict[str, Any], logical_ids: dict[str, str], role: str
) -> None:
    # The policy must exist before the function (and the worker's event source mapping, which
    # Lambda validates against the role); the role is already a GetAtt dependency (cfn-lint W3005).
    (policy,) = [
        logical_id for logical_id, r in resources.items()
        if r["Type"] == "AWS::IAM::Policy" and r["Properties"]["Roles"] == [{"Ref": logical_ids[f"{role}_role"]}]
    ]  # fmt: skip
    assert resources[logical_ids[role]]["DependsOn"] == [policy]
