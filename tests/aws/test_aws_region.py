"""The region comes from AWS_REGION as well as AWS_DEFAULT_REGION, AWS_REGION first."""

from __future__ import annotations

import pytest

from baton.adapters.aws.clients import AwsClients
from baton.aws_region import default_region


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"AWS_REGION": "eu-west-3"}, "eu-west-3"),
        ({"AWS_DEFAULT_REGION": "ap-south-1"}, "ap-south-1"),
        ({"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "ap-south-1"}, "eu-west-3"),
        ({}, None),
    ],
    ids=["aws-region", "aws-default-region", "aws-region-first", "neither"],
)
def test_default_region(environ: dict[str, str], expected: str | None) -> None:
    assert default_region(environ) == expected


def test_clients_are_made_in_the_aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")

    client = AwsClients()("sqs")

    assert client.meta.region_name == "eu-west-3"


def test_an_explicit_region_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")

    assert AwsClients(region="us-east-2")("sqs").meta.region_name == "us-east-2"
