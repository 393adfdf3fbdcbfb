"""The step queue (now, delayed, scheduled), lifecycle events on the bus, and secrets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.aws.moto_stack import Stack

from baton.adapters.aws.events import EventBridgePublisher
from baton.adapters.aws.secrets import AwsSecretResolver
from baton.adapters.aws.sqs_step_queue import DispatchError, SqsStepQueue, StepMessage
from baton.engine.records import ExecutionRecord, StepRecord
from baton.errors import SecretError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Recorder:
    """Wraps a client and records the calls made through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return method(**kwargs)

        return call


def dispatcher(stack: Stack, sqs: Any = None, scheduler: Any = None, *, role: str | None = "role") -> SqsStepQueue:
    settings = stack.settings
    return SqsStepQueue(
        lambda: sqs or stack.clients("sqs"),
        lambda: scheduler or stack.clients("scheduler"),
        queue_url=settings.step_queue_url,
        queue_arn=settings.step_queue_arn,
        resource_prefix=settings.resource_prefix,
        scheduler_role_arn=settings.scheduler_role_arn if role else None,
        now=lambda: NOW,
        schedule_group=settings.schedule_group,
    )


def received(stack: Stack) -> list[str]:
    response = stack.clients("sqs").receive_message(QueueUrl=stack.settings.step_queue_url, MaxNumberOfMessages=10)
    return [m["Body"] for m in response.get("Messages", [])]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"execution_id": "e1"}', StepMessage("e1")),
        ('{"execution_id": "e1", "unit": "a[2]"}', StepMessage("e1", "a[2]")),
    ],
    ids=["execution", "unit"],
)
def test_a_step_message_round_trips(body: str, expected: StepMessage) -> None:
    assert StepMessage.from_body(body) == expected
    assert StepMessage.from_body(expected.to_body()) == expected


@pytest.mark.parametrize("body", ["[]", '{"unit": "a"}', '{"execution_id": 3}', '{"execution_id": "e", "unit": 1}'],
                         ids=["list", "no-execution", "numeric-execution", "numeric-unit"])  # fmt: skip
def test_anything_else_is_not_a_step_message(body: str) -> None:
    with pytest.raises(ValueError, match="not a step message"):
        StepMessage.from_body(body)


def test_many_messages_go_ten_to_a_request(stack: Stack) -> None:
    sqs = Recorder(stack.clients("sqs"))

    dispatcher(stack, sqs).dispatch([StepMessage("e1", f"fan[{i}]") for i in range(23)])

    assert [(name, len(kwargs["Entries"])) for name, kwargs in sqs.calls] == [
        ("send_message_batch", 10), ("send_message_batch", 10), ("send_message_batch", 3),
    ]  # fmt: skip


@pytest.mark.parametrize(("seconds", "delay"), [(-5, 0), (0.2, 1), (120, 120), (900, 900)],
                         ids=["past", "fraction", "minutes", "limit"])  # fmt: skip
def test_a_wake_up_within_15_minutes_is_a_delayed_message(stack: Stack, seconds: float, delay: int) -> None:
    sqs = Recorder(stack.clients("sqs"))

    dispatcher(stack, sqs).dispatch_at(StepMessage("e1", "wait"), NOW + timedelta(seconds=seconds))

    assert [(name, kwargs["DelaySeconds"]) for name, kwargs in sqs.calls] == [("send_message", delay)]


def test_a_later_wake_up_is_a_one_shot_schedule_that_sends_the_message(stack: Stack) -> None:
    scheduler = Recorder(stack.clients("scheduler"))
    queue = dispatcher(stack, scheduler=scheduler)
    message, when = StepMessage("e1", "wait"), NOW + timedelta(hours=2, seconds=30)

    queue.dispatch_at(message, when)
    queue.dispatch_at(message, when)  # a retried worker asks again: nothing new

    group = stack.settings.schedule_group
    schedule = stack.clients("scheduler").get_schedule(Name=queue.schedule_name(message, when), GroupName=group)
    assert schedule["ScheduleExpression"] == "at(2026-03-01T14:00:30)"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["Arn"] == stack.settings.step_queue_arn
    assert StepMessage.from_body(schedule["Target"]["Input"]) == message
    assert schedule["Name"].startswith(f"{stack.settings.resource_prefix}-schedule-")
    assert len(scheduler.calls) == 2
    assert received(stack) == []


def test_a_later_wake_up_without_a_scheduler_role_says_what_is_missing(stack: Stack) -> None:
    with pytest.raises(DispatchError, match="BATON_SCHEDULER_ROLE_ARN"):
        dispatcher(stack, role=None).dispatch_at(StepMessage("e1"), NOW + timedelta(hours=1))


def test_lifecycle_events_reach_the_bus_ten_to_a_request(stack: Stack) -> None:
    sqs, events = stack.clients("sqs"), Recorder(stack.clients("events"))
    url = sqs.create_queue(QueueName=f"{stack.settings.resource_prefix}-listener")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.settings.event_bus
    stack.clients("events").put_rule(Name="listen", EventBusName=bus, EventPattern='{"source": ["baton"]}')
    stack.clients("events").put_targets(Rule="listen", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    publisher = EventBridgePublisher(lambda: events, bus=bus, step_events=True)
    execution = ExecutionRecord("e1", "wf", "d", status="succeeded", started_at=NOW)

    for index in range(11):
        publisher.step_ended(execution, StepRecord("e1", f"s{index}", f"s{index}", status="succeeded"))
    publisher.execution_ended(execution)
    publisher.flush()

    assert [len(kwargs["Entries"]) for _, kwargs in events.calls] == [10, 2]
    bodies = []
    for _ in range(3):
        bodies += [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
                   .get("Messages", [])]  # fmt: skip
    kinds = sorted(body["detail-type"] for body in bodies)
    assert kinds == ["Baton Execution Succeeded"] + ["Baton Step Succeeded"] * 11
    assert {body["detail"]["execution_id"] for body in bodies} == {"e1"}


def test_step_events_are_published_only_when_switched_on(stack: Stack) -> None:
    events = Recorder(stack.clients("events"))
    publisher = EventBridgePublisher(lambda: events, bus=stack.settings.event_bus)
    execution = ExecutionRecord("e1", "wf", "d", status="succeeded", started_at=NOW)

    publisher.step_ended(execution, StepRecord("e1", "s", "s", status="succeeded"))
    publisher.execution_ended(execution)
    publisher.flush()

    (call,) = events.calls
    assert [entry["DetailType"] for entry in call[1]["Entries"]] == ["Baton Execution Succeeded"]


def test_secrets_come_from_secrets_manager_too_and_are_cached(stack: Stack) -> None:
    manager = Recorder(stack.clients("secretsmanager"))
    name = f"{stack.settings.resource_prefix}/db"
    stack.clients("secretsmanager").create_secret(Name=name, SecretString="s3cr3t")
    clock = [0.0]
    resolver = AwsSecretResolver(lambda: stack.clients("ssm"), lambda: manager, monotonic=lambda: clock[0])

    values = [resolver.resolve("DB", {"secretsmanager": name}) for _ in range(3)]
    clock[0] += 301
    values.append(resolver.resolve("DB", {"secretsmanager": name}))

    assert values == ["s3cr3t"] * 4
    assert len(manager.calls) == 2


def test_an_env_secret_is_refused_on_aws_with_a_way_out(stack: Stack) -> None:
    resolver = AwsSecretResolver(lambda: stack.clients("ssm"), lambda: stack.clients("secretsmanager"),
                                 monotonic=lambda: 0.0)  # fmt: skip
    with pytest.raises(SecretError, match=r"secret TOKEN: on AWS .*\{ssm: NAME\}"):
        resolver.resolve("TOKEN", {"env": "TOKEN"})
