"""Stack settings from CDK context: defaults, parsing, and errors that name the key."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy

from infra.config import BatonStackProps, default_resource_prefix, props_from_context


def _props(context: dict[str, Any]) -> BatonStackProps:
    return props_from_context(App(context=context).node)


def test_defaults_without_context() -> None:
    props = _props({})
    assert props == BatonStackProps()
    assert props.stack_name == "Baton"
    assert props.resource_prefix == "baton"
    assert props.removal_policy == RemovalPolicy.RETAIN
    assert props.worker_timeout_seconds == 900
    assert props.step_visibility_timeout_seconds == 6 * 900
    assert props.effective_secrets_prefix == "baton"


def test_command_line_strings_are_parsed() -> None:
    # `cdk deploy -c key=value` delivers every value as a string.
    props = _props(
        {
            "baton:stack-name": "BatonDev",
            "baton:log-retention-days": "90",
            "baton:log-level": "debug",
            "baton:removal-policy": "DESTROY",
        }
    )
    assert props.stack_name == "BatonDev"
    assert props.resource_prefix == "batondev"
    assert props.log_retention_days == 90
    assert props.log_level == "DEBUG"
    assert props.removal_policy == RemovalPolicy.DESTROY


def test_worker_and_runtime_settings_are_parsed() -> None:
    props = _props(
        {
            "baton:worker-timeout-seconds": "300",
            "baton:worker-batch-size": "4",
            "baton:worker-reserved-concurrency": "20",
            "baton:worker-max-concurrency": "10",
            "baton:execution-retention-days": "7",
            "baton:powertools-layer-version": "7",
            "baton:secrets-prefix": "/team/baton/",
        }
    )
    assert (props.worker_timeout_seconds, props.step_visibility_timeout_seconds) == (300, 1800)
    assert (props.worker_batch_size, props.worker_reserved_concurrency, props.worker_max_concurrency) == (4, 20, 10)
    assert props.execution_retention_days == 7
    assert props.powertools_layer_version == 7
    assert props.effective_secrets_prefix == "team/baton"


def test_the_worker_has_a_reserved_concurrency_unless_switched_off() -> None:
    assert _props({}).worker_reserved_concurrency == 50
    assert _props({"baton:worker-reserved-concurrency": "200"}).worker_reserved_concurrency == 200


def test_operations_settings_are_parsed() -> None:
    props = _props({"baton:alarm-email": "ops@example.com", "baton:step-events": "true",
                    "baton:worker-memory-mb": "2048", "baton:architecture": "x86_64",
                    "baton:step-policy-arns": "arn:aws:iam::aws:policy/ReadOnlyAccess"})  # fmt: skip
    assert (props.alarm_email, props.step_events, props.worker_memory_mb) == ("ops@example.com", True, 2048)
    assert props.architecture == "x86_64"
    assert props.step_policy_arns == ("arn:aws:iam::aws:policy/ReadOnlyAccess",)
    defaults = _props({})
    assert (defaults.alarm_email, defaults.step_events, defaults.architecture) == (None, False, "arm64")


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"baton:architecture": "sparc"}, "must be one of"),
        ({"baton:worker-memory-mb": "64"}, "between 128 and 10240"),
        ({"baton:step-policy-arns": "ReadOnlyAccess"}, "expected IAM managed policy ARNs"),
    ],
    ids=["architecture", "memory", "policy-arn"],
)
def test_bad_operations_settings_are_refused(context: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _props(context)


def test_an_empty_optional_setting_means_unset() -> None:
    props = _props({"baton:worker-reserved-concurrency": "", "baton:powertools-layer-version": ""})
    assert props.worker_reserved_concurrency is None
    assert props.powertools_layer_version is None


def test_explicit_resource_prefix_wins_over_the_stack_name() -> None:
    props = _props({"baton:stack-name": "BatonDev", "baton:resource-prefix": "wf-dev"})
    assert props.resource_prefix == "wf-dev"


@pytest.mark.parametrize(
    ("stack_name", "prefix"),
    [
        ("Baton", "baton"),
        ("Baton_Prod.EU", "baton-prod-eu"),
        ("42Baton", "baton-42baton"),
        ("A" * 40, "a" * 24),
    ],
    ids=["simple", "punctuation", "leading-digit", "too-long"],
)
def test_default_resource_prefix_is_always_valid(stack_name: str, prefix: str) -> None:
    assert default_resource_prefix(stack_name) == prefix
    BatonStackProps(stack_name=stack_name, resource_prefix=prefix)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"baton:resource-prefix": "Baton"}, "baton:resource-prefix"),
        ({"baton:resource-prefix": "x" * 25}, "at most 24"),
        ({"baton:log-retention-days": "31"}, "baton:log-retention-days"),
        ({"baton:log-level": "LOUD"}, "baton:log-level"),
        ({"baton:removal-policy": "snapshot"}, "baton:removal-policy"),
        ({"baton:worker-timeout-seconds": "60"}, "baton:worker-timeout-seconds"),
        ({"baton:worker-timeout-seconds": "901"}, "between 90 and 900"),
        ({"baton:worker-timeout-seconds": "ten"}, "whole number"),
        ({"baton:worker-batch-size": "11"}, "baton:worker-batch-size"),
        ({"baton:worker-max-concurrency": "1"}, "baton:worker-max-concurrency"),
        (
            {"baton:worker-reserved-concurrency": "5", "baton:worker-max-concurrency": "10"},
            "must not exceed its reserved concurrency 5",
        ),
        ({"baton:execution-retention-days": "0"}, "baton:execution-retention-days"),
        ({"baton:secrets-prefix": "team//x"}, "baton:secrets-prefix"),
        ({"baton:bedrock-endpoint-url": "http://bedrock.example.com"}, "must be an https:// URL"),
        ({"baton:bedrock-endpoint-url": "bedrock.example.com"}, "baton:bedrock-endpoint-url"),
    ],
    ids=[
        "upper-case-prefix",
        "long-prefix",
        "retention",
        "log-level",
        "removal-policy",
        "worker-timeout-too-short",
        "worker-timeout-too-long",
        "worker-timeout-not-a-number",
        "batch-size",
        "max-concurrency-below-two",
        "max-above-reserved",
        "execution-retention",
        "secrets-prefix",
        "bedrock-endpoint-plain-http",
        "bedrock-endpoint-no-scheme",
    ],
)
def test_invalid_context_is_rejected_naming_the_key(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _props(context)
