"""Registration is all or nothing: triggers first, then ``CURRENT``; a refusal keeps the last
good version; schedules and secrets are checked before anything is created; a renamed
workflow takes its old name's triggers away."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.aws.harness import AwsHarness
from tests.aws.moto_stack import MotoServer, Stack

from baton.adapters.aws.triggers import TriggerManager
from baton.handlers.observability import lambda_entry_point
from baton.handlers.registrar import RegistrarApp
from baton.spec.loader import load_workflow_text

NIGHTLY = """
name: nightly
triggers:
  - schedule: "cron(0 3 * * ? *)"
steps:
  - id: run
    command: echo run
"""
CHANGED = NIGHTLY.replace("cron(0 3 * * ? *)", "cron(0 4 * * ? *)").replace(
    "triggers:\n", "triggers:\n  - event: {source: [my.app]}\n"
)


class RefusingScheduler:
    """The real Scheduler client, except that it refuses one expression, as AWS refuses some."""

    REFUSED = "cron(0 4 * * ? *)"

    def __init__(self, real: Any) -> None:
        self._real = real

    def create_schedule(self, **request: Any) -> Any:
        self._check(request)
        return self._real.create_schedule(**request)

    def update_schedule(self, **request: Any) -> Any:
        self._check(request)
        return self._real.update_schedule(**request)

    def _check(self, request: dict[str, Any]) -> None:
        if request["ScheduleExpression"] == self.REFUSED:
            error = {"Error": {"Code": "ValidationException", "Message": "Invalid Schedule Expression"}}
            raise ClientError(error, "CreateSchedule")  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def refuse_schedules(harness: AwsHarness) -> None:
    """From now on the registrar's schedules with ``RefusingScheduler.REFUSED`` are refused."""
    app = RegistrarApp(harness.backend)
    real = app.registrar.triggers
    app.registrar.triggers = TriggerManager(
        lambda: harness.backend.clients("events"),
        lambda: RefusingScheduler(harness.backend.clients("scheduler")),
        resource_prefix=real.resource_prefix,
        starter_arn=real.starter_arn,
        scheduler_role_arn=real.scheduler_role_arn,
        schedule_group=harness.settings.schedule_group,
    )
    harness.registrar = lambda_entry_point(lambda: app)


def schedule_expressions(harness: AwsHarness) -> dict[str, str]:
    scheduler = harness.plumbing("scheduler")
    group = harness.settings.schedule_group
    listed = scheduler.list_schedules(GroupName=group)["Schedules"]
    return {s["Name"]: scheduler.get_schedule(Name=s["Name"], GroupName=group)["ScheduleExpression"] for s in listed}


def rule_names(harness: AwsHarness) -> list[str]:
    prefix = f"{harness.settings.resource_prefix}-rule-"
    return sorted(rule["Name"] for rule in harness.plumbing("events").list_rules(NamePrefix=prefix)["Rules"])


def tags(harness: AwsHarness, key: str) -> dict[str, str]:
    tag_set = harness.plumbing("s3").get_object_tagging(Bucket=harness.settings.definitions_bucket, Key=key)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tag_set}


def test_a_refused_trigger_leaves_the_last_good_version_current_with_its_triggers(harness: AwsHarness) -> None:
    good = harness.upload("nightly.yaml", NIGHTLY)
    assert good["status"] == "registered"
    before = schedule_expressions(harness)
    assert list(before.values()) == ["cron(0 3 * * ? *)"]

    refuse_schedules(harness)
    refused = harness.upload("nightly.yaml", CHANGED)

    assert refused["status"] == "rejected"
    assert "triggers refused" in refused["errors"][0]
    assert "Invalid Schedule Expression" in refused["errors"][0]
    assert harness.backend.registry.current("nightly").digest == good["digest"]  # type: ignore[union-attr]
    assert schedule_expressions(harness) == before
    assert rule_names(harness) == []  # the new version's event rule was taken back
    assert tags(harness, "nightly.yaml")["baton-status"] == "rejected"


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("cron(61 3 * * ? *)", "Invalid minute value '61'"),
        ("cron(0 3 * * * *)", "One must be a question mark (?)"),
        ("rate(1 minutes)", "must be rate(1 minute)"),
    ],
    ids=["minute-out-of-range", "two-day-fields", "plural-of-one"],
)
def test_a_schedule_aws_would_refuse_is_rejected_before_any_trigger_exists(
    harness: AwsHarness, schedule: str, message: str
) -> None:
    text = CHANGED.replace("cron(0 4 * * ? *)", schedule)
    result = harness.upload("nightly.yaml", text)
    assert result["status"] == "rejected"
    assert message in result["errors"][0]
    assert harness.backend.registry.current("nightly") is None
    assert schedule_expressions(harness) == {}
    assert rule_names(harness) == []


def test_renaming_a_workflow_in_the_same_file_removes_the_old_names_triggers(harness: AwsHarness) -> None:
    harness.upload("nightly.yaml", NIGHTLY)
    assert len(schedule_expressions(harness)) == 1

    renamed = harness.upload("nightly.yaml", NIGHTLY.replace("name: nightly", "name: daily"))

    assert renamed["status"] == "registered"
    assert harness.backend.registry.current("nightly") is None
    assert harness.backend.registry.name_of(harness.settings.definitions_bucket, "nightly.yaml") == "daily"
    prefix = harness.settings.resource_prefix
    assert list(schedule_expressions(harness)) == [f"{prefix}-schedule-daily-0"]


@pytest.mark.parametrize(
    ("source", "accepted"),
    [
        ("{ssm: /PREFIX/nightly/token}", True),
        ("{secretsmanager: PREFIX/shared/token}", True),
        ("{ssm: /PREFIX/other/token}", False),
        ("{secretsmanager: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:PREFIX/other/token-AbCdEf'}", False),
        ("{ssm: /ci/github-token}", False),
    ],
    ids=["own-ssm", "shared-secret", "other-workflow", "other-workflow-arn", "outside-prefix"],
)
def test_a_workflow_may_name_only_its_own_and_shared_secrets(harness: AwsHarness, source: str, accepted: bool) -> None:
    prefix = harness.settings.resource_prefix
    text = NIGHTLY.replace("steps:", f"secrets:\n  TOKEN: {source.replace('PREFIX', prefix)}\nsteps:")
    result = harness.upload("nightly.yaml", text)
    assert (result["status"] == "registered") is accepted, result
    if not accepted:
        assert f"/{prefix}/nightly/... or" in result["errors"][0] or f"{prefix}/nightly/... or" in result["errors"][0]


LONG = """
name: long
steps:
  - id: build
    command: sleep 1
    timeout: {timeout}
{runner}"""


@pytest.mark.parametrize(
    ("timeout", "runner", "error"),
    [
        ("14m", "", None),
        ("885s", "", None),
        ("886s", "", "timeout 886s exceeds the 885s a worker can give"),
        ("2h", "", "shorten it or add 'runner: long'"),
        ("2h", "    runner: long\n", "runner: long, but this deployment has no long-step runner"),
    ],
    ids=["fits", "just-fits", "just-over", "two-hours", "long-runner-missing"],
)
def test_a_step_longer_than_a_worker_can_give_is_refused(
    harness: AwsHarness, timeout: str, runner: str, error: str | None
) -> None:
    result = harness.upload("long.yaml", LONG.format(timeout=timeout, runner=runner))
    if error is None:
        assert result["status"] == "registered", result
    else:
        assert result["status"] == "rejected"
        assert error in result["errors"][0]


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        ("2h", None),
        ("28425s", None),
        ("28426s", "timeout 28426s exceeds the 28425s the long-step runner can give (a build runs for at most 8 h"),
        ("9h", "shorten it or split the step"),
    ],
    ids=["two-hours", "just-fits", "just-over", "nine-hours"],
)
def test_a_long_step_is_accepted_where_a_runner_is_configured_up_to_its_limit(
    moto: MotoServer, stack: Stack, tmp_path: Path, timeout: str, error: str | None
) -> None:
    settings = dataclasses.replace(stack.settings, long_step_project=f"{stack.settings.resource_prefix}-long-steps",
                                   long_runner="codebuild")  # fmt: skip
    harness = AwsHarness(moto, settings, tmp_path)
    result = harness.upload("long.yaml", LONG.format(timeout=timeout, runner="    runner: long\n"))
    if error is None:
        assert result["status"] == "registered", result
    else:
        assert result["status"] == "rejected"
        assert error in result["errors"][0], result


def test_a_schedule_keeps_the_firings_it_cannot_deliver(harness: AwsHarness) -> None:
    settings = harness.settings
    dead_letters = f"arn:aws:sqs:us-east-1:123456789012:{settings.resource_prefix}-failed"
    triggers = TriggerManager(
        lambda: harness.plumbing("events"),
        lambda: harness.plumbing("scheduler"),
        resource_prefix=settings.resource_prefix,
        starter_arn=settings.starter_function_arn,
        scheduler_role_arn=settings.scheduler_role_arn,
        schedule_group=settings.schedule_group,
        dead_letter_arn=dead_letters,
    )
    app = RegistrarApp(harness.backend)
    (spec,) = app.registrar.trigger_specs(load_workflow_text(NIGHTLY, "nightly.yaml"))

    triggers.put("nightly", [spec])

    target = harness.plumbing("scheduler").get_schedule(Name=spec.name, GroupName=settings.schedule_group)["Target"]
    assert target["DeadLetterConfig"] == {"Arn": dead_letters}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 8
