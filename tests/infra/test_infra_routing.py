"""The rules that route definition uploads and start requests match the events the handlers
are tested with (tests/aws/events, AWS-documented shapes), and only those."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, cast

import pytest
from moto.events.models import EventPattern

SAMPLES = Path(__file__).resolve().parents[1] / "aws" / "events"
SAMPLE_BUCKET = "amzn-s3-demo-bucket1"


def sample(name: str) -> dict[str, Any]:
    """One of the handlers' sample events."""
    event: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return event


def _matches(pattern: EventPattern, event: dict[str, Any]) -> bool:
    # moto's matcher takes its own event type; the samples have the same shape.
    return bool(pattern.matches_event(cast(Any, event)))


def _rule(resources: dict[str, Any], logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = resources[logical_id]["Properties"]
    return props


def _pattern_for(rule: dict[str, Any], bucket_ref: dict[str, str]) -> EventPattern:
    """The rule's pattern with the bucket's Ref replaced by the sample bucket's name."""
    text = json.dumps(rule["EventPattern"]).replace(json.dumps(bucket_ref), json.dumps(SAMPLE_BUCKET))
    return EventPattern.load(text)


@pytest.fixture(scope="module")
def definition_pattern(resources: dict[str, Any], logical_ids: dict[str, str]) -> EventPattern:
    rule = _rule(resources, logical_ids["definition_changed_rule"])
    return _pattern_for(rule, {"Ref": logical_ids["definitions_bucket"]})


@pytest.fixture(scope="module")
def start_pattern(resources: dict[str, Any], logical_ids: dict[str, str]) -> EventPattern:
    return EventPattern.load(json.dumps(_rule(resources, logical_ids["start_execution_rule"])["EventPattern"]))


@pytest.mark.parametrize("name", ["s3-object-created", "s3-object-deleted"])
def test_definition_events_of_the_bucket_match(definition_pattern: EventPattern, name: str) -> None:
    event = sample(name)
    assert event["detail"]["bucket"]["name"] == SAMPLE_BUCKET
    assert _matches(definition_pattern, event)


def _changed(event: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("detail", "bucket", "name"), "another-bucket"),
        (("detail-type",), "Object Restore Completed"),
        (("source",), "baton.cli"),
    ],
    ids=["other-bucket", "other-detail-type", "other-source"],
)
def test_other_s3_events_do_not_reach_the_registrar(
    definition_pattern: EventPattern, path: tuple[str, ...], value: str
) -> None:
    assert not _matches(definition_pattern, _changed(sample("s3-object-created"), path, value))


def test_definition_rule_is_on_the_default_bus_and_targets_the_registrar(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    rule = _rule(resources, logical_ids["definition_changed_rule"])
    # S3 publishes to the account's default bus only.
    assert "EventBusName" not in rule
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [logical_ids["registrar"], "Arn"]}


def test_start_event_matches(start_pattern: EventPattern) -> None:
    assert _matches(start_pattern, sample("eventbridge-custom"))


def test_lifecycle_and_other_events_do_not_start_executions(start_pattern: EventPattern) -> None:
    assert not _matches(start_pattern, _changed(sample("eventbridge-custom"), ("detail-type",), "Baton Step Ended"))
    assert not _matches(start_pattern, sample("s3-object-created"))


def test_start_rule_is_on_the_baton_bus_and_targets_the_starter(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    rule = _rule(resources, logical_ids["start_execution_rule"])
    assert rule["EventBusName"] == {"Ref": logical_ids["bus"]}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [logical_ids["starter"], "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 8}


@pytest.mark.parametrize(
    ("rule", "function"),
    [("definition_changed_rule", "registrar"), ("start_execution_rule", "starter")],
    ids=["registrar", "starter"],
)
def test_each_rule_may_invoke_its_function(
    resources: dict[str, Any], logical_ids: dict[str, str], rule: str, function: str
) -> None:
    permissions = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"].get("SourceArn") == {"Fn::GetAtt": [logical_ids[rule], "Arn"]}
    ]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [logical_ids[function], "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [logical_ids[rule], "Arn"]},
        }
    ]
