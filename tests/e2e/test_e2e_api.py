"""The REST API of the deployed stack on LocalStack: API Gateway, the API function, and the
function's own check of the caller.

LocalStack's community edition does not run IAM authorization: a request reaches the
function with no caller identity, signed or not. The function refuses such a request
itself (403), which is what these tests show; the signed start -> status -> approve ->
succeeded round trip runs against the handler with events shaped as API Gateway sends them
after IAM authorization (tests/aws/test_aws_api.py).
"""

from __future__ import annotations

import json
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
from tests.e2e.test_e2e_workflows import upload

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


def test_a_request_the_gateway_did_not_authorize_is_refused_by_the_function(
    client: Callable[[str], Any], stack: DeployedStack, api: Callable[..., tuple[int, dict[str, Any]]]
) -> None:
    name = f"e2e-api-{uuid.uuid4().hex[:8]}"
    assert upload(client, stack, f"{name}.yaml", GATED.format(name=name)).status == "registered"

    status, answer = api("POST", "/executions", {"workflow": name, "inputs": {"who": "api"}})

    assert status == 403, answer
    assert "not signed with AWS credentials" in answer["message"]
    assert stack.backend.store.list_workflow_executions(name) == [], "an unverified caller started an execution"


def test_a_malformed_body_is_refused_naming_the_field(api: Callable[..., tuple[int, dict[str, Any]]]) -> None:
    status, answer = api("POST", "/executions", {"inputs": {}})

    assert status == 400
    assert "workflow" in json.dumps(answer)
