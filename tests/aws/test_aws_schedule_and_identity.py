"""What the registrar asks before creating schedules, and how step credentials are reused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from baton.adapters.aws.long_steps import pass_on_refusal
from baton.adapters.aws.schedule_check import schedule_problem
from baton.adapters.aws.secret_scope import out_of_scope
from baton.adapters.aws.step_identity import AssumedStepRole, session_name


@pytest.mark.parametrize(
    "expression",
    ["cron(0 3 * * ? *)", "cron(0/15 8-17 ? * MON-FRI *)", "cron(0 10 ? * 6L 2026)", "cron(0 10 ? * 2#1 *)",
     "cron(0 12 L * ? *)", "cron(0 12 15W * ? *)", "cron(5,35 * ? JAN-MAR SUN *)", "rate(1 minute)",
     "rate(12 hours)", "at(2026-01-01T00:00:00)"],
)  # fmt: skip
def test_expressions_scheduler_accepts_pass(expression: str) -> None:
    assert schedule_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("cron(61 3 * * ? *)", "Invalid minute value '61'"),
        ("cron(0 24 * * ? *)", "Invalid hour value '24'"),
        ("cron(0 3 32 * ? *)", "Invalid day-of-month value '32'"),
        ("cron(0 3 * 13 ? *)", "Invalid month value '13'"),
        ("cron(0 3 ? * 8 *)", "Invalid day-of-week value '8'"),
        ("cron(0 3 * * ? 1969)", "Invalid year value '1969'"),
        ("cron(0 3 * * * *)", "One must be a question mark"),
        ("cron(0 3 ? * ? *)", "One must be a question mark"),
        ("cron(0 3 * * ?)", "takes 6 fields"),
        ("cron(0/0 3 * * ? *)", "Invalid minute value '0/0'"),
        ("cron(0 3 ? * MON#6 *)", "Invalid day-of-week value 'MON#6'"),
        ("rate(0 minutes)", "at least 1"),
        ("rate(1 hours)", "must be rate(1 hour)"),
        ("rate(5 minute)", "must be rate(5 minutes)"),
        ("at(2026-02-30T00:00:00)", "day is out of range"),
        ("every(5 minutes)", "expected cron(min hour day month weekday year), rate("),
    ],
    ids=["minute", "hour", "day", "month", "weekday", "year", "two-days", "no-day", "five-fields", "zero-step",
         "sixth-monday", "rate-zero", "plural-one", "singular-many", "february-30", "unknown"],
)  # fmt: skip
def test_expressions_scheduler_refuses_say_why(expression: str, problem: str) -> None:
    assert problem in (schedule_problem(expression) or "")


def test_an_unknown_time_zone_is_refused() -> None:
    assert "unknown time zone 'Mars/Olympus'" in (schedule_problem("rate(5 minutes)", "Mars/Olympus") or "")
    assert schedule_problem("cron(0 3 * * ? *)", "Europe/Paris") is None


def test_secret_scopes_accept_own_and_shared_names_only() -> None:
    secrets = {
        "A": {"ssm": "/team/nightly/a"},
        "B": {"secretsmanager": "team/shared/b"},
        "C": {"ssm": "arn:aws:ssm:eu-west-1:123456789012:parameter/team/nightly/c"},
        "D": {"ssm": "/team/daily/d"},
        "E": {"secretsmanager": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/nightlyx/e-AbCdEf"},
        "F": {"env": "HOME"},
    }
    problems = out_of_scope("nightly", secrets, "team")
    assert [problem.split(":")[0] for problem in problems] == ["secret D", "secret E"]


class FakeSts:
    """Answers ``assume_role`` with numbered credentials that expire an hour after ``now``."""

    def __init__(self, clock: list[datetime]) -> None:
        self.clock = clock
        self.calls: list[dict[str, Any]] = []

    def assume_role(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        n = len(self.calls)
        return {"Credentials": {"AccessKeyId": f"ASIA{n}", "SecretAccessKey": f"secret{n}", "SessionToken": f"t{n}",
                                "Expiration": self.clock[0] + timedelta(hours=1)}}  # fmt: skip


def test_credentials_are_assumed_per_workflow_with_its_tag_and_renewed_before_they_expire() -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    sts = FakeSts(clock)
    role = AssumedStepRole(lambda: sts, "arn:aws:iam::1:role/steps", now=lambda: clock[0], region="eu-west-1")

    first = role.environment("nightly")
    assert role.environment("nightly") == first
    other = role.environment("daily")
    clock[0] += timedelta(minutes=41)  # 19 minutes left: less than the longest step
    renewed = role.environment("nightly")

    assert (first["AWS_ACCESS_KEY_ID"], other["AWS_ACCESS_KEY_ID"], renewed["AWS_ACCESS_KEY_ID"]) == (
        "ASIA1", "ASIA2", "ASIA3")  # fmt: skip
    assert first["AWS_REGION"] == "eu-west-1"
    assert [call["Tags"] for call in sts.calls] == [[{"Key": "baton-workflow", "Value": name}]
                                                   for name in ("nightly", "daily", "nightly")]  # fmt: skip
    assert sts.calls[0]["RoleSessionName"] == "baton-nightly"


def test_session_names_keep_to_what_sts_allows() -> None:
    assert session_name("a b/c") == "baton-a-b-c"
    assert len(session_name("w" * 100)) == 64


@pytest.mark.parametrize(
    ("needed", "passes", "reason"),
    [
        (60.0, 0, None),
        (60.0, 2, None),
        (60.0, 3, "passed on 3 times"),
        (3600.0, 0, "can never run here"),
    ],
    ids=["first", "third-try", "capped", "never-fits"],
)
def test_a_unit_passed_on_is_capped_with_a_reason(needed: float, passes: int, reason: str | None) -> None:
    refusal = pass_on_refusal("build", needed, 900, passes)
    assert refusal is None if reason is None else reason in (refusal or "")
