"""Answer, cancel and resume through the approver function, each with a verified, one-time
caller token: the user needs to invoke a function, not to write the tables."""

from __future__ import annotations

import pytest
from tests.aws.harness import CALLER_ARN, AwsHarness, FakeLambdaContext
from tests.aws.test_aws_recovery import APPROVAL

from baton.adapters.aws.caller_proof import presign

CHAIN = """
name: chain
steps:
  - id: first
    command: echo first
  - id: second
    needs: [first]
    command: echo second run
"""


def waiting_release(harness: AwsHarness) -> str:
    harness.upload("release.yaml", APPROVAL)
    execution_id = harness.start("release")
    assert harness.drain(execution_id).status == "waiting"
    return execution_id


def test_a_caller_token_is_accepted_once(harness: AwsHarness) -> None:
    execution_id = waiting_release(harness)
    token = presign(harness.sts)

    first = harness.operate({"execution_id": execution_id, "step": "gate"}, token=token)
    replayed = harness.operate({"execution_id": execution_id, "action": "cancel"}, token=token)

    assert (first["accepted"], first["by"]) == (True, CALLER_ARN)
    assert replayed["accepted"] is False
    assert "already used" in replayed["error"]
    assert harness.drain(execution_id).status == "succeeded"


def test_tokens_signed_in_the_same_second_are_distinct(harness: AwsHarness) -> None:
    first, second = presign(harness.sts), presign(harness.sts)
    assert first.split("#")[0] != second.split("#")[0]


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (None, "no caller token"),
        ("https://attacker.example/?Action=GetCallerIdentity&X-Amz-Signature=x", "not an STS endpoint"),
        ("https://sts.amazonaws.com/?Action=ListUsers&X-Amz-Signature=x", "not a signed GetCallerIdentity"),
        ("https://sts.amazonaws.com/?Action=GetCallerIdentity", "not a signed GetCallerIdentity"),
        (
            "https://sts.amazonaws.com/?Action=GetCallerIdentity&X-Amz-SignedHeaders=host&X-Amz-Signature=x#n",
            "nonce is missing or not signed",
        ),
    ],
    ids=["missing", "other-host", "other-action", "unsigned", "unsigned-nonce"],
)
def test_a_request_without_a_valid_token_changes_nothing(harness: AwsHarness, token: str | None, error: str) -> None:
    execution_id = waiting_release(harness)
    payload = {"execution_id": execution_id, "step": "gate", "caller_token": token}

    answer = harness.approver(payload, FakeLambdaContext("baton-approver"))

    assert answer["accepted"] is False
    assert error in answer["error"]
    assert harness.execution(execution_id).status == "waiting"


def test_cancel_goes_through_the_function(harness: AwsHarness) -> None:
    execution_id = waiting_release(harness)

    answer = harness.operate({"execution_id": execution_id, "action": "cancel"})

    assert answer["accepted"] is True
    assert harness.drain(execution_id).status == "cancelled"


def test_resume_from_a_step_goes_through_the_function(harness: AwsHarness) -> None:
    harness.upload("chain.yaml", CHAIN)
    execution_id = harness.start("chain")
    assert harness.drain(execution_id).status == "succeeded"

    answer = harness.operate({"execution_id": execution_id, "action": "resume", "from_step": "second"})
    final = harness.drain(execution_id)

    assert (answer["accepted"], answer["status"]) == (True, "running")
    assert final.status == "succeeded"
    steps = harness.document(execution_id)["steps"]
    assert steps["second"]["outputs"]["stdout"] == "second run"
    refused = harness.operate({"execution_id": execution_id, "action": "resume", "from_step": "nope"})
    assert "has no such step" in refused["error"]
