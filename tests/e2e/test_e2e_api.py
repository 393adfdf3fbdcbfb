"""The REST API of the deployed stack on LocalStack: API Gateway, the API function, and the
function's own check of the caller.

LocalStack's community edition does not run IAM authorization: a request reaches the
function with no caller identity, signed or not. The function refuses such a request
itself (403) unless it carries a one-time caller proof (a presigned sts:GetCallerIdentity
URL, as `baton ... --stack` sends): the signed start -> status -> approve -> succeeded round
trip below runs that way. With IAM authorization (AWS; tests/aws/test_aws_api.py) the
gateway's caller is used.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from tests.e2e.deploy import REGION, STACK_NAME
from tests.e2e.test_e2e_workflows import upload

from baton.adapters.aws.caller_proof import presign
from baton.cli.deployed_stack import DeployedStack
from baton.handlers import api as api_handler

pytestmark = pytest.mark.e2e

GATED = """
name: {name}
inputs:
  who: {{type: string, default: world}}
steps:
  - id: gate
    type: approval
    message: "Say hello?"
  - id: hello
    command: echo "hello {{{{ inputs.who }}}}"
"""


@pytest.fixture(scope="module")
def stack(outputs: dict[str, str]) -> DeployedStack:
    return DeployedStack.find(STACK_NAME)


@pytest.fixture(scope="module")
def api(outputs: dict[str, str], aws: dict[str, str]) -> Callable[..., tuple[int, dict[str, Any]]]:
    """A signed caller of the deployed API, through LocalStack's path-style invoke URL."""
    (url,) = [value for key, value in outputs.items() if key.startswith("ApiUrl")]
    api_id = urlsplit(url).hostname.split(".")[0]  # type: ignore[union-attr]
    base = f"{aws['AWS_ENDPOINT_URL']}/restapis/{api_id}/v1/_user_request_"
    credentials = Credentials(aws["AWS_ACCESS_KEY_ID"], aws["AWS_SECRET_ACCESS_KEY"], aws.get("AWS_SESSION_TOKEN"))

    sts = boto3.client("sts", region_name=REGION, endpoint_url=aws["AWS_ENDPOINT_URL"])

    def call(method: str, path: str, body: Any = None, *, proof: bool = False) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"}
        if proof:
            headers[api_handler.CALLER_PROOF_HEADER] = presign(sts)
        signed = AWSRequest(method=method, url=base + path, data=data, headers=headers)
        SigV4Auth(credentials, "execute-api", REGION).add_auth(signed)
        request = Request(base + path, data=data, method=method, headers=dict(signed.headers.items()))
        try:
            with urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}")
        except OSError as exc:
            status = getattr(exc, "code", 0)
            payload = exc.read() if hasattr(exc, "read") else b"{}"
            return status, json.loads(payload or b"{}")

    return call


def test_a_request_the_gateway_did_not_authorize_is_refused_by_the_function(
    client: Callable[[str], Any], stack: DeployedStack, api: Callable[..., tuple[int, dict[str, Any]]]
) -> None:
    name = f"e2e-api-{uuid.uuid4().hex[:8]}"
    assert upload(client, stack, f"{name}.yaml", GATED.format(name=name)).status == "registered"

    status, answer = api("POST", "/executions", {"workflow": name, "inputs": {"who": "api"}})

    assert status == 403, answer
    assert "not signed with AWS credentials" in answer["message"]
    assert stack.backend.store.list_workflow_executions(name) == [], "an unverified caller started an execution"


def test_a_signed_round_trip_with_a_caller_proof_starts_waits_is_approved_and_succeeds(
    client: Callable[[str], Any], stack: DeployedStack, api: Callable[..., tuple[int, dict[str, Any]]]
) -> None:
    name = f"e2e-api-{uuid.uuid4().hex[:8]}"
    assert upload(client, stack, f"{name}.yaml", GATED.format(name=name)).status == "registered"

    status, started = api("POST", "/executions", {"workflow": name, "inputs": {"who": "api"}}, proof=True)
    assert status == 202, started
    execution_id = started["execution_id"]
    document = _until(api, execution_id, "waiting")
    assert document["steps"]["gate"]["status"] == "waiting"

    status, answered = api("POST", f"/executions/{execution_id}/approvals/gate", {"approve": True}, proof=True)
    assert (status, answered.get("accepted")) == (200, True), answered
    document = _until(api, execution_id, "succeeded")
    assert document["steps"]["gate"]["outputs"]["by"].startswith("arn:aws:")
    assert document["steps"]["hello"]["status"] == "succeeded"


def _until(api: Callable[..., tuple[int, dict[str, Any]]], execution_id: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        status, document = api("GET", f"/executions/{execution_id}", proof=True)
        assert status == 200, document
        if document["status"] == wanted or time.monotonic() > deadline:
            assert document["status"] == wanted, document
            return document
        time.sleep(1)


def test_a_malformed_body_is_refused_naming_the_field(api: Callable[..., tuple[int, dict[str, Any]]]) -> None:
    status, answer = api("POST", "/executions", {"inputs": {}}, proof=True)

    assert status == 400
    assert "workflow" in json.dumps(answer)
    # Without a known caller the body is not even read.
    assert api("POST", "/executions", {"inputs": {}})[0] == 403
