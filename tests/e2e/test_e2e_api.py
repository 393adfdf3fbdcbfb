"""The REST API of the deployed stack: a SigV4-signed start -> status -> approve -> succeeded
round trip through API Gateway and the API function on LocalStack.

LocalStack's community edition does not enforce IAM authorization, so the refusal of an
unsigned request is tested against the handler (tests/aws/test_aws_api.py), not here.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from tests.e2e.deploy import REGION, STACK_NAME
from tests.e2e.test_e2e_workflows import TIMEOUT_SECONDS, upload

from baton.cli.deployed_stack import DeployedStack

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

    def call(method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        signed = AWSRequest(method=method, url=base + path, data=data, headers={"content-type": "application/json"})
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


def test_a_signed_round_trip_starts_waits_is_approved_and_succeeds(
    client: Callable[[str], Any], stack: DeployedStack, api: Callable[..., tuple[int, dict[str, Any]]]
) -> None:
    name = f"e2e-api-{uuid.uuid4().hex[:8]}"
    assert upload(client, stack, f"{name}.yaml", GATED.format(name=name)).status == "registered"

    status, started = api("POST", "/executions", {"workflow": name, "inputs": {"who": "api"}})
    assert status == 202, started
    execution_id = started["execution_id"]
    assert stack.wait(execution_id, TIMEOUT_SECONDS).status == "waiting"

    status, document = api("GET", f"/executions/{execution_id}")
    assert (status, document["steps"]["gate"]["status"]) == (200, "waiting")

    status, answered = api("POST", f"/executions/{execution_id}/approvals/gate", {"approve": True})
    assert (status, answered["accepted"]) == (200, True), answered
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while stack.wait(execution_id, TIMEOUT_SECONDS).status == "waiting" and time.monotonic() < deadline:
        time.sleep(1)  # the answer is recorded; a worker carries the execution on

    status, document = api("GET", f"/executions/{execution_id}")
    assert document["status"] == "succeeded", document
    assert document["steps"]["hello"]["outputs"]["stdout"] == "hello api"


def test_a_malformed_body_is_refused_naming_the_field(api: Callable[..., tuple[int, dict[str, Any]]]) -> None:
    status, answer = api("POST", "/executions", {"inputs": {}})

    assert status == 400
    assert "workflow" in json.dumps(answer)
