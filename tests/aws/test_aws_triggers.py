"""Registration and triggers: rules and schedules follow the current version, and firing a
trigger (as EventBridge or Scheduler would deliver it) starts the workflow once."""

from __future__ import annotations

import json
from typing import Any

from tests.aws.harness import AwsHarness, FakeLambdaContext, aws_event

from baton.adapters.aws.triggers import resource_name

TRIGGERED = """
name: triggered
inputs:
  key: {type: string, required: true}
triggers:
  - s3: {bucket: incoming-bucket, prefix: uploads/, suffix: .csv}
    inputs: {key: "{{ trigger.detail.object.key }}"}
  - schedule: "cron(0 3 * * ? *)"
    inputs: {key: nightly}
  - event: {source: [my.app], detail-type: [Order Placed]}
    inputs: {key: "{{ trigger.detail.order }}"}
steps:
  - id: show
    command: echo "{{ inputs.key }}"
"""

WITHOUT_S3 = TRIGGERED.replace(
    """  - s3: {bucket: incoming-bucket, prefix: uploads/, suffix: .csv}
    inputs: {key: "{{ trigger.detail.object.key }}"}
""",
    "",
)


def rules(harness: AwsHarness) -> dict[str, dict[str, Any]]:
    events = harness.plumbing("events")
    prefix = f"{harness.settings.resource_prefix}-rule-"
    return {rule["Name"]: rule for rule in events.list_rules(NamePrefix=prefix)["Rules"]}


def schedules(harness: AwsHarness) -> list[str]:
    listed = harness.plumbing("scheduler").list_schedules(
        GroupName=harness.settings.schedule_group, NamePrefix=f"{harness.settings.resource_prefix}-schedule-"
    )
    return sorted(schedule["Name"] for schedule in listed["Schedules"])


def fire_rule(harness: AwsHarness, rule: str, event: dict[str, Any]) -> dict[str, Any]:
    """What the rule's target receives: its input template with the event put in."""
    (target,) = harness.plumbing("events").list_targets_by_rule(Rule=rule)["Targets"]
    assert target["Arn"] == harness.settings.starter_function_arn
    template = target["InputTransformer"]["InputTemplate"]
    payload: dict[str, Any] = json.loads(template.replace("<aws.events.event.json>", json.dumps(event)))
    return harness.starter(payload, FakeLambdaContext("baton-starter"))


def fire_schedule(harness: AwsHarness, name: str, scheduled_time: str) -> dict[str, Any]:
    """What the schedule's target receives: its input with the context attributes filled."""
    schedule = harness.plumbing("scheduler").get_schedule(Name=name, GroupName=harness.settings.schedule_group)
    payload = schedule["Target"]["Input"]
    payload = payload.replace("<aws.scheduler.schedule-arn>", schedule["Arn"])
    payload = payload.replace("<aws.scheduler.scheduled-time>", scheduled_time)
    return harness.starter(json.loads(payload), FakeLambdaContext("baton-starter"))


def test_each_trigger_becomes_a_rule_or_schedule_aimed_at_the_starter(harness: AwsHarness) -> None:
    harness.upload("triggered.yaml", TRIGGERED)

    found = rules(harness)
    prefix = harness.settings.resource_prefix
    assert sorted(found) == [f"{prefix}-rule-triggered-0", f"{prefix}-rule-triggered-2"]
    s3_pattern = json.loads(found[f"{prefix}-rule-triggered-0"]["EventPattern"])
    assert s3_pattern == {
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["incoming-bucket"]}, "object": {"key": [{"wildcard": "uploads/*.csv"}]}},
    }  # fmt: skip
    event_pattern = json.loads(found[f"{prefix}-rule-triggered-2"]["EventPattern"])
    assert event_pattern == {"source": ["my.app"], "detail-type": ["Order Placed"]}
    assert schedules(harness) == [f"{prefix}-schedule-triggered-1"]
    schedule = harness.plumbing("scheduler").get_schedule(
        Name=f"{prefix}-schedule-triggered-1", GroupName=harness.settings.schedule_group
    )
    assert (schedule["ScheduleExpression"], schedule["Target"]["Arn"]) == (
        "cron(0 3 * * ? *)", harness.settings.starter_function_arn,
    )  # fmt: skip


def test_an_s3_object_matching_a_trigger_starts_the_workflow_with_inputs_from_the_event(harness: AwsHarness) -> None:
    harness.upload("triggered.yaml", TRIGGERED)
    event = aws_event("s3-object-created")
    event["detail"]["bucket"]["name"] = "incoming-bucket"
    event["detail"]["object"]["key"] = "uploads/day.csv"
    rule = f"{harness.settings.resource_prefix}-rule-triggered-0"

    first = fire_rule(harness, rule, event)
    again = fire_rule(harness, rule, event)  # EventBridge delivers at least once

    assert first == again
    final = harness.drain(first["execution_id"])
    assert final.status == "succeeded"
    assert final.inputs == {"key": "uploads/day.csv"}
    assert harness.execution(first["execution_id"]).trigger["detail"]["object"]["key"] == "uploads/day.csv"


def test_a_schedule_firing_starts_one_execution_even_when_scheduler_retries(harness: AwsHarness) -> None:
    harness.upload("triggered.yaml", TRIGGERED)
    name = f"{harness.settings.resource_prefix}-schedule-triggered-1"

    first = fire_schedule(harness, name, "2026-03-02T03:00:00Z")
    retried = fire_schedule(harness, name, "2026-03-02T03:00:00Z")
    next_night = fire_schedule(harness, name, "2026-03-03T03:00:00Z")

    assert first["execution_id"] == retried["execution_id"] != next_night["execution_id"]
    assert harness.execution(first["execution_id"]).inputs == {"key": "nightly"}


def test_a_new_version_removes_the_triggers_it_dropped_and_a_deletion_removes_all(harness: AwsHarness) -> None:
    harness.upload("triggered.yaml", TRIGGERED)
    prefix = harness.settings.resource_prefix

    harness.upload("triggered.yaml", WITHOUT_S3)
    assert sorted(rules(harness)) == [f"{prefix}-rule-triggered-1"]
    assert schedules(harness) == [f"{prefix}-schedule-triggered-0"]

    removed = harness.delete("triggered.yaml")
    assert removed["status"] == "removed"
    assert rules(harness) == {}
    assert schedules(harness) == []
    assert harness.backend.registry.current("triggered") is None
    answer = harness.starter(harness.start_event("triggered", {"key": "x"}), FakeLambdaContext("baton-starter"))
    assert answer["status"] == "rejected"
    assert "no workflow named 'triggered'" in answer["error"]


def test_a_new_version_updates_its_schedule_in_the_stacks_group(harness: AwsHarness) -> None:
    harness.upload("triggered.yaml", TRIGGERED)
    name = f"{harness.settings.resource_prefix}-schedule-triggered-1"

    harness.upload("triggered.yaml", TRIGGERED.replace("cron(0 3 * * ? *)", "cron(0 4 * * ? *)"))

    assert schedules(harness) == [name]
    schedule = harness.plumbing("scheduler").get_schedule(Name=name, GroupName=harness.settings.schedule_group)
    assert schedule["ScheduleExpression"] == "cron(0 4 * * ? *)"


def test_a_late_event_for_an_older_upload_does_not_replace_the_newer_version(harness: AwsHarness) -> None:
    harness.upload("triggered.yaml", TRIGGERED)
    current = harness.backend.registry.current("triggered")
    assert current is not None
    event = aws_event("s3-object-created")
    event["detail"]["bucket"]["name"] = harness.settings.definitions_bucket
    event["detail"]["object"].update({"key": "triggered.yaml", "version-id": current.version_id, "sequencer": "1"})

    answer = harness.registrar(event, FakeLambdaContext("baton-registrar"))

    assert answer["status"] == "stale"
    assert harness.backend.registry.current("triggered") == current


def test_trigger_resource_names_fit_in_64_characters_and_stay_distinct() -> None:
    assert resource_name("p-rule-", "short", 3) == "p-rule-short-3"
    long_names = [resource_name("baton-prod-rule-", "w" * 79 + tail, 3) for tail in "ab"]
    assert all(len(name) == 64 and name.endswith("-3") for name in long_names)
    assert long_names[0] != long_names[1]
