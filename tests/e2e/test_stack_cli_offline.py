"""``--stack`` without LocalStack: the command wiring, and ``DeployedStack`` on moto.

The journeys against a real deployment are in ``test_e2e_stack_commands``; these pin down
what can be checked in-process: which side of a command runs, how outputs become settings,
how an upload's registration and the functions' logs are read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, cast

import boto3
import pytest
import typer
from moto import mock_aws
from typer.testing import CliRunner

from baton.adapters.aws.clients import AwsClients
from baton.cli import runs, stack_commands
from baton.cli.deployed_stack import FUNCTION_OUTPUTS, SETTINGS_OUTPUTS, DeployedStack, StackError

REGION = "us-east-1"
OUTPUTS = {
    **{output: f"value-of-{field}" for field, output in SETTINGS_OUTPUTS.items()},
    **{output: f"bt-{role}" for role, output in FUNCTION_OUTPUTS.items()},
    "DefinitionsBucketName": "bt-definitions",
    "ResourcePrefix": "bt",
}


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
    runs.register(app)
    stack_commands.register(app)
    return app


def test_register_adds_the_stack_only_commands_and_keeps_the_local_ones() -> None:
    names = [str(info.name) for info in _app().registered_commands]
    assert sorted(set(names)) == ["approve", "cancel", "list", "logs", "push", "resume", "run", "start", "status"]
    assert len(names) == len(set(names)), "a command was registered twice"


@pytest.mark.parametrize("command", ["push", "start"])
def test_stack_only_commands_need_a_stack(command: str) -> None:
    result = CliRunner().invoke(_app(), [command, "x"])
    assert result.exit_code == 2
    assert "--stack" in result.output


def test_local_command_still_runs_without_a_stack(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["status", "no-such-execution", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no-such-execution" in result.output
    assert "stack" not in result.output


def test_a_stack_option_is_refused_without_a_stack(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["approve", "e1", "review", "--wait", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--wait needs --stack" in result.output


def test_help_shows_the_options_of_both_sides() -> None:
    result = CliRunner().invoke(_app(), ["approve", "--help"])
    assert result.exit_code == 0
    for option in ("--state-dir", "--reject", "--stack", "--wait", "--timeout"):
        assert option in result.output


def test_resume_has_a_stack_side() -> None:
    result = CliRunner().invoke(_app(), ["resume", "--help"])
    assert result.exit_code == 0
    for option in ("--from", "--input", "--state-dir", "--stack", "--wait", "--timeout"):
        assert option in result.output


def test_either_routes_on_the_stack_option() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def local(execution_id: str, state_dir: str | None = None, stack: str | None = None) -> None:
        calls.append(("local", {"execution_id": execution_id, "state_dir": state_dir, "stack": stack}))

    def remote(execution_id: str, stack: str, wait: Annotated[bool, typer.Option("--wait")] = False) -> None:
        calls.append(("remote", {"execution_id": execution_id, "stack": stack, "wait": wait}))

    command = stack_commands.either(local, remote)
    command(execution_id="e1", state_dir="d", stack=None, wait=False)
    command(execution_id="e2", state_dir=None, stack="S", wait=True)
    assert calls == [
        ("local", {"execution_id": "e1", "state_dir": "d", "stack": None}),
        ("remote", {"execution_id": "e2", "stack": "S", "wait": True}),
    ]


# -- DeployedStack on moto ---------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClients]:
    """In-process moto; an endpoint left over from an e2e session must not redirect it."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield AwsClients(region=REGION)


def _create_stack(name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_find_rebuilds_the_functions_settings_from_the_outputs(aws: AwsClients) -> None:
    _create_stack("Bt", OUTPUTS)
    stack = DeployedStack.find("Bt", aws)
    assert stack.settings.executions_table == "value-of-executions_table"
    assert stack.settings.definitions_bucket == "bt-definitions"
    assert stack.function_name("approver") == "bt-approver"


def test_find_names_a_missing_stack_and_missing_outputs(aws: AwsClients) -> None:
    with pytest.raises(StackError, match="no stack 'Nope' in us-east-1"):
        DeployedStack.find("Nope", aws)
    _create_stack("Old", {key: value for key, value in OUTPUTS.items() if key != "StarterFunctionName"})
    with pytest.raises(StackError, match="lacks the outputs StarterFunctionName"):
        DeployedStack.find("Old", aws)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"baton-status": "registered", "baton-workflow": "hello"}, ("registered", "hello", None)),
        ({"baton-status": "rejected", "baton-error": "x.yaml:3:1: bad"}, ("rejected", None, "x.yaml:3:1: bad")),
        ({}, ("uploaded", None, None)),
    ],
    ids=["registered", "rejected", "not-yet"],
)
def test_registration_is_read_from_the_tags_of_the_uploaded_version(
    aws: AwsClients, tags: dict[str, str], expected: tuple[str, str | None, str | None]
) -> None:
    s3 = aws("s3")
    s3.create_bucket(Bucket="bt-definitions")
    s3.put_bucket_versioning(Bucket="bt-definitions", VersioningConfiguration={"Status": "Enabled"})
    stack = DeployedStack("Bt", OUTPUTS, aws)
    version = stack.push(b"name: hello\n", "hello.yaml")
    if tags:  # what the registrar does
        tag_set = [{"Key": key, "Value": value} for key, value in tags.items()]
        s3.put_object_tagging(Bucket="bt-definitions", Key="hello.yaml", VersionId=version, Tagging={"TagSet": tag_set})
    result = stack.registration("hello.yaml", version, timeout_seconds=0)
    assert (result.status, result.workflow, result.error) == expected
    assert result.version_id == version


def test_logs_are_the_lines_naming_the_execution_oldest_first(aws: AwsClients) -> None:
    logs = aws("logs")
    now = int(time.time() * 1000)  # CloudWatch refuses events older than 14 days
    lines = {
        "starter": [(now + 1, {"message": "start request handled", "execution_id": "e1"})],
        "worker": [
            (now + 3, {"message": "step ended", "execution_id": "e1", "step_id": "build"}),
            (now + 2, {"message": "step ended", "execution_id": "e1", "step_id": "each[2]"}),
            (now + 2, {"message": "step ended", "execution_id": "e2", "step_id": "build"}),
        ],
    }
    for role, entries in lines.items():
        group = f"/aws/lambda/bt-{role}"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        events = [{"timestamp": at, "message": json.dumps(body)} for at, body in sorted(entries, key=lambda e: e[0])]
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)
    stack = DeployedStack("Bt", OUTPUTS, aws)

    every = stack.logs("e1")
    assert [(event.timestamp_ms - now, event.function) for event in every] == [
        (1, "starter"), (2, "worker"), (3, "worker")
    ]  # fmt: skip
    assert [json.loads(event.message)["step_id"] for event in stack.logs("e1", step="each")] == ["each[2]"]
    assert stack.logs("e3") == []


class _PatternBlindLogs:
    """A logs client that, like LocalStack, returns every event whatever the filter pattern."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages

    def get_paginator(self, operation: str) -> _PatternBlindLogs:
        assert operation == "filter_log_events"
        return self

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return [{"events": [{"timestamp": i, "message": m} for i, m in enumerate(self.messages)]}]


def test_logs_keep_only_lines_naming_the_execution_when_the_service_ignores_the_pattern() -> None:
    fake = _PatternBlindLogs(["START RequestId: r1", '{"execution_id": "e1"}', '{"execution_id": "e2"}'])
    stack = DeployedStack("Bt", OUTPUTS, cast(AwsClients, lambda service: fake))
    assert [event.message for event in stack.logs("e1")] == ['{"execution_id": "e1"}'] * 4  # one per function


def test_versions_lists_a_stacks_registrations_with_the_stack_option(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from baton.cli import versions
    from baton.ports import DefinitionVersion

    kept = [DefinitionVersion("greet", "ab" * 32, "1.0", datetime(2026, 1, 2, tzinfo=UTC), "s3://b/greet.yaml", True)]
    monkeypatch.setattr(versions, "_registered", lambda stack, name: kept if (stack, name) == ("Bt", "greet") else [])
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
    versions.register(app)

    result = CliRunner().invoke(app, ["greet", "--stack", "Bt"])

    assert result.exit_code == 0, result.output
    assert "1.0 *" in result.output
    assert "sha256:abababababab" in result.output
