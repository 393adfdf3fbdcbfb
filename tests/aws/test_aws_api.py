"""The REST API handler in-process, with API Gateway proxy events shaped as AWS sends them,
over the moto stack: unsigned requests are refused, bad bodies name their field, and a
signed start -> status -> approve -> succeeded round trip works."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from tests.aws.harness import CALLER_ARN as HARNESS_CALLER
from tests.aws.harness import AwsHarness, FakeLambdaContext, aws_event

from baton.adapters.aws.caller_proof import presign
from baton.handlers import api

APPROVAL = """
name: gated
inputs:
  who: {type: string, default: world}
steps:
  - id: hello
    command: echo "hello $WHO"
    env: {WHO: "{{ inputs.who }}"}
  - id: gate
    type: approval
    message: ship it?
  - id: after
    command: echo shipped
"""
CALLER_ARN = "arn:aws:iam::123456789012:user/ops"


def request(method: str, path: str, *, body: Any = None, query: dict[str, str] | None = None,
            signed: bool = True) -> dict[str, Any]:  # fmt: skip
    """An API Gateway REST proxy event for ``method path``, signed (IAM caller) or not."""
    event = copy.deepcopy(aws_event("apigateway-rest-proxy"))
    event.update(httpMethod=method, path=path, resource=path, queryStringParameters=query,
                 multiValueQueryStringParameters={k: [v] for k, v in (query or {}).items()} or None,
                 body=None if body is None else (body if isinstance(body, str) else json.dumps(body)),
                 headers={"content-type": "application/json"},
                 multiValueHeaders={"content-type": ["application/json"]})  # fmt: skip
    context = event["requestContext"]
    context.update(httpMethod=method, path=f"/prod{path}", resourcePath=path, stage="prod")
    if signed:
        context["identity"].update(accessKey="AKIAEXAMPLE", accountId="123456789012", caller="AIDAEXAMPLE",
                                   user="AIDAEXAMPLE", userArn=CALLER_ARN)  # fmt: skip
    return event


@pytest.fixture
def call(harness: AwsHarness) -> Any:
    handler = api.make_handler(lambda: harness.backend, get=harness.sts_answers)

    def invoke(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = handler(event, FakeLambdaContext("baton-api"))
        return response["statusCode"], json.loads(response["body"])

    return invoke


def test_a_signed_round_trip_starts_waits_is_approved_and_succeeds(harness: AwsHarness, call: Any) -> None:
    harness.upload("gated.yaml", APPROVAL)
    status, started = call(request("POST", "/executions", body={"workflow": "gated", "inputs": {"who": "api"}}))
    assert status == 202, started
    execution_id = started["execution_id"]
    assert harness.drain(execution_id).status == "waiting"

    status, document = call(request("GET", f"/executions/{execution_id}"))
    assert (status, document["status"], document["steps"]["gate"]["status"]) == (200, "waiting", "waiting")

    status, answered = call(request("POST", f"/executions/{execution_id}/approvals/gate", body={"approve": True}))
    assert (status, answered["accepted"]) == (200, True)
    assert harness.drain(execution_id).status == "succeeded"

    status, document = call(request("GET", f"/executions/{execution_id}"))
    assert document["status"] == "succeeded"
    assert document["steps"]["gate"]["outputs"]["by"] == CALLER_ARN
    status, listed = call(request("GET", "/executions", query={"workflow": "gated"}))
    assert [row["execution_id"] for row in listed["executions"]] == [execution_id]
    status, logs = call(request("GET", f"/executions/{execution_id}/logs", query={"step": "hello"}))
    assert status == 200
    assert any("hello api" in entry["text"] for entry in logs["logs"])


def proven(event: dict[str, Any], token: str) -> dict[str, Any]:
    """``event`` without an IAM caller, carrying a caller proof (an emulator's gateway)."""
    event["headers"]["X-Baton-Caller-Proof"] = token
    event["multiValueHeaders"]["X-Baton-Caller-Proof"] = [token]
    return event


def test_without_iam_authorization_a_caller_proof_names_the_caller_once(harness: AwsHarness, call: Any) -> None:
    harness.upload("gated.yaml", APPROVAL)
    start = request("POST", "/executions", body={"workflow": "gated"}, signed=False)
    status, started = call(proven(start, presign(harness.sts)))
    assert status == 202, started
    execution_id = started["execution_id"]
    assert harness.drain(execution_id).status == "waiting"

    token = presign(harness.sts)
    approve = request("POST", f"/executions/{execution_id}/approvals/gate", body={"approve": True}, signed=False)
    status, answered = call(proven(approve, token))
    assert (status, answered["accepted"]) == (200, True)
    assert harness.drain(execution_id).status == "succeeded"
    assert harness.document(execution_id)["steps"]["gate"]["outputs"]["by"] == HARNESS_CALLER

    status, replayed = call(proven(request("GET", f"/executions/{execution_id}", signed=False), token))
    assert status == 403
    assert "already used" in replayed["message"]
    forged = "https://evil.example/?Action=GetCallerIdentity&X-Amz-Signature=x#n"
    status, refused = call(proven(request("GET", "/executions", signed=False), forged))
    assert status == 403
    assert "not an STS endpoint" in refused["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("POST", "/executions", {"workflow": "gated"}), ("GET", "/executions", None),
     ("GET", "/executions/x", None), ("POST", "/executions/x/approvals/gate", {"approve": True}),
     ("POST", "/executions/x/cancel", None), ("POST", "/executions", "{not json"),
     ("POST", "/executions/x/approvals/gate", {"approve": "maybe"}), ("GET", "/nowhere", None)],
    ids=["start", "list", "get", "approve", "cancel", "malformed-start", "malformed-answer", "unknown-route"],
)  # fmt: skip
def test_an_unsigned_request_is_refused(call: Any, method: str, path: str, body: Any) -> None:
    status, answer = call(request(method, path, body=body, signed=False))
    assert status == 403
    assert "SigV4" in answer["message"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [("/executions", {"inputs": {}}, "workflow"),
     ("/executions", {"workflow": "gated", "inputs": [1]}, "inputs"),
     ("/executions", "{not json", "body"),
     ("/executions/x/approvals/gate", {"approve": "maybe"}, "approve")],
    ids=["missing-workflow", "inputs-not-a-mapping", "not-json", "approve-not-a-boolean"],
)  # fmt: skip
def test_a_malformed_body_is_a_400_naming_the_field(call: Any, path: str, body: Any, field: str) -> None:
    status, answer = call(request("POST", path, body=body))
    assert status == 400, answer
    assert field in answer["message"]


def test_unknown_executions_workflows_and_bad_limits_get_clear_4xx(harness: AwsHarness, call: Any) -> None:
    status, answer = call(request("GET", "/executions/nope"))
    assert (status, "nope" in answer["message"]) == (404, True)
    status, answer = call(request("POST", "/executions", body={"workflow": "never-registered"}))
    assert status == 400
    assert "never-registered" in answer["message"]
    status, answer = call(request("GET", "/executions", query={"limit": "0"}))
    assert status == 400
    assert "limit" in answer["message"]


def test_cancel_marks_the_execution_and_wakes_a_worker(harness: AwsHarness, call: Any) -> None:
    harness.upload("gated.yaml", APPROVAL)
    _, started = call(request("POST", "/executions", body={"workflow": "gated"}))
    execution_id = started["execution_id"]
    harness.drain(execution_id)
    status, answer = call(request("POST", f"/executions/{execution_id}/cancel"))
    assert (status, answer["cancel_requested"]) == (202, True)
    assert harness.drain(execution_id).status == "cancelled"


def test_the_published_openapi_document_is_generated_from_the_routes() -> None:
    from tests.conftest import ROOT

    document = json.loads(api.openapi_document())
    assert set(document["paths"]) == {
        "/executions", "/executions/{execution_id}", "/executions/{execution_id}/logs",
        "/executions/{execution_id}/approvals/{step}", "/executions/{execution_id}/cancel",
    }  # fmt: skip
    assert "StartBody" in json.dumps(document["components"])
    published = (ROOT / "docs" / "api" / "openapi.json").read_text()
    assert json.loads(published) == document, "docs/api/openapi.json is stale: run `make docs`"
