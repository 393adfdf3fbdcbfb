"""Settings from the environment: each function refuses to start without what it needs, and
the Powertools names come from the variables the stack sets."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest
from tests.aws.harness import FakeLambdaContext

from baton import resource_names as names
from baton.adapters.aws.bootstrap import backend_from_environ
from baton.adapters.aws.clients import AwsClients
from baton.adapters.aws.settings import AwsSettings, SettingsError
from baton.handlers.observability import powertools_names

ENVIRONMENT = {
    **{name: f"value-of-{name.lower()}" for name in names.ENVIRONMENT_VARIABLES},
    names.ENV_STEP_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/baton-steps",
    names.ENV_STEP_QUEUE_ARN: "arn:aws:sqs:eu-west-1:123456789012:baton-steps",
    names.ENV_STARTER_FUNCTION_ARN: "arn:aws:lambda:eu-west-1:123456789012:function:baton-starter",
    names.ENV_SCHEDULER_ROLE_ARN: "arn:aws:iam::123456789012:role/baton-scheduler",
    names.ENV_SCHEDULE_GROUP: "baton",
}


def test_settings_carry_the_schedule_group() -> None:
    assert AwsSettings.from_environ(ENVIRONMENT).schedule_group == "baton"


@pytest.mark.parametrize("role", ["registrar", "worker"])
def test_a_function_that_creates_schedules_will_not_start_without_the_group(role: str) -> None:
    environ = {name: value for name, value in ENVIRONMENT.items() if name != names.ENV_SCHEDULE_GROUP}
    with pytest.raises(SettingsError, match=names.ENV_SCHEDULE_GROUP):
        backend_from_environ(environ, AwsClients(region="eu-west-1"), role=role)


@pytest.mark.parametrize("role", ["starter", "approver"])
def test_a_function_that_creates_no_schedules_needs_only_the_resource_names(role: str) -> None:
    environ = {name: ENVIRONMENT[name] for name in names.ENVIRONMENT_VARIABLES}
    backend = backend_from_environ(environ, AwsClients(region="eu-west-1"), role=role)
    assert backend.settings.schedule_group is None


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize("role", names.FUNCTION_ROLES)
def test_each_handler_refuses_to_start_without_the_variables_of_its_function(
    role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in {name for needed in names.FUNCTION_ENVIRONMENT_VARIABLES.values() for name in needed}:
        monkeypatch.delenv(name, raising=False)
    handler = importlib.import_module(f"baton.handlers.{role}").handler

    with pytest.raises(SettingsError) as raised:
        handler({}, FakeLambdaContext(f"baton-{role}"))

    assert str(raised.value).endswith(": " + ", ".join(names.FUNCTION_ENVIRONMENT_VARIABLES[role]))


def test_missing_variables_are_all_named() -> None:
    environ = {name: value for name, value in ENVIRONMENT.items() if name != names.ENV_EVENT_BUS}
    del environ[names.ENV_STARTER_FUNCTION_ARN]
    with pytest.raises(SettingsError) as raised:
        AwsSettings.from_environ(environ, required=names.FUNCTION_ENVIRONMENT_VARIABLES["registrar"])
    assert str(raised.value).endswith(f"{names.ENV_EVENT_BUS}, {names.ENV_STARTER_FUNCTION_ARN}")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ("baton", "Baton")),
        ({"POWERTOOLS_SERVICE_NAME": "", "POWERTOOLS_METRICS_NAMESPACE": ""}, ("baton", "Baton")),
        ({"POWERTOOLS_SERVICE_NAME": "orders", "POWERTOOLS_METRICS_NAMESPACE": "Shop"}, ("orders", "Shop")),
    ],
    ids=["unset", "empty", "set"],
)
def test_powertools_names_come_from_their_standard_variables(
    environ: dict[str, str], expected: tuple[str, str]
) -> None:
    assert powertools_names(environ) == expected


def test_the_handlers_log_and_publish_under_the_names_the_stack_sets() -> None:
    # A process of its own: the logger and metrics are made when the module is imported.
    code = (
        "from aws_lambda_powertools.metrics import MetricUnit\n"
        "from baton.handlers.observability import logger, metrics\n"
        "logger.info('hello')\n"
        "metrics.add_metric(name='Probe', unit=MetricUnit.Count, value=1)\n"
        "metrics.flush_metrics()\n"
    )
    env = {**os.environ, "POWERTOOLS_SERVICE_NAME": "orders", "POWERTOOLS_METRICS_NAMESPACE": "Shop"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)

    log, emf = (json.loads(line) for line in result.stdout.splitlines())
    assert (log["message"], log["service"]) == ("hello", "orders")
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Shop"
    assert emf["service"] == "orders"
