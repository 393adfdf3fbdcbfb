"""``baton ... --stack S --api``: the command line through the stack's REST API over HTTP (the
real API handler behind a stand-in gateway, on the moto stack), printing what the direct
path prints."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from tests.aws.api_gateway import api_gateway
from tests.aws.harness import AwsHarness
from tests.aws.moto_stack import MotoServer
from tests.stack_cli import baton

from baton.cli.deployed_stack import FUNCTION_OUTPUTS, SETTINGS_OUTPUTS, DeployedStack
from baton.handlers import api

GATED = """
name: gated
inputs:
  who: {type: string, default: world}
steps:
  - id: hello
    command: echo "hello {{ inputs.who }}"
  - id: gate
    type: approval
    message: ship it?
  - id: after
    command: echo shipped
"""


@pytest.fixture
def gateway(harness: AwsHarness, moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The stack's API served on loopback, and ``--stack Moto`` finding the moto stack."""
    handler = api.make_handler(lambda: harness.backend, get=harness.sts_answers)
    with api_gateway(handler) as url:
        settings = harness.settings
        outputs: dict[str, Any] = {output: getattr(settings, field) for field, output in SETTINGS_OUTPUTS.items()}
        outputs.update({output: f"fn-{role}" for role, output in FUNCTION_OUTPUTS.items()})
        outputs["ApiUrl4A1B2C3D"] = "https://abc123.execute-api.us-east-1.amazonaws.com/v1/"
        monkeypatch.setattr(DeployedStack, "find", classmethod(lambda cls, name, clients=None:
                                                               cls(name, outputs, moto.new_clients())))  # fmt: skip
        monkeypatch.setenv("BATON_API_URL", url)
        yield url


def _both(*args: str) -> str:
    """What the command prints through the API, checked to be what the direct path prints."""
    direct, through = baton(*args, "--stack", "Moto"), baton(*args, "--stack", "Moto", "--api")
    assert (through.exit_code, through.output) == (direct.exit_code, direct.output)
    return through.output


def test_start_status_list_approve_through_the_api_print_what_the_direct_path_prints(
    harness: AwsHarness, gateway: str
) -> None:
    harness.upload("gated.yaml", GATED)

    started = baton("start", "gated", "--stack", "Moto", "--api", "-i", "who=api")
    assert started.exit_code == 0, started.output
    match = re.search(r"\(execution (\S+)\)", started.output)
    assert match, started.output
    execution_id = match.group(1)
    assert harness.drain(execution_id).status == "waiting"

    assert "gate" in _both("status", execution_id)
    assert '"status": "waiting"' in _both("status", execution_id, "--json")
    assert execution_id in _both("list")

    answered = baton("approve", execution_id, "gate", "--stack", "Moto", "--api")
    assert answered.exit_code == 0, answered.output
    assert f"approved gate of {execution_id}" in answered.output
    assert harness.drain(execution_id).status == "succeeded"
    document = _both("status", execution_id, "--json")
    assert '"by": "arn:aws:' in document  # the caller the API verified answered


def test_refusals_through_the_api_read_as_on_the_direct_path(harness: AwsHarness, gateway: str) -> None:
    harness.upload("gated.yaml", GATED)

    unknown = baton("start", "nope", "--stack", "Moto", "--api")
    assert unknown.exit_code != 0
    assert "nope not started (rejected)" in unknown.output

    missing = baton("status", "no-such-execution", "--stack", "Moto", "--api")
    assert missing.exit_code == 2
    assert "404" in missing.output

    started = baton("start", "gated", "--stack", "Moto", "--api")
    execution_id = re.findall(r"\(execution (\S+)\)", started.output)[0]
    harness.drain(execution_id)
    early = baton("approve", execution_id, "after", "--stack", "Moto", "--api")
    assert early.exit_code == 2
    assert "answer refused" in early.output


def test_api_needs_a_stack(tmp_path: Any) -> None:
    result = baton("list", "--api", "--state-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "--api needs --stack" in result.output
