"""The REST API in the template: IAM on every method, the handler's routes, throttling and
access logs on the stage, and a function with the starter's and approver's grants."""

from __future__ import annotations

import json
from typing import Any

import pytest

from baton.handlers.api import openapi_document
from infra.api import ROUTES, STAGE_NAME, THROTTLE_BURST, THROTTLE_RATE_PER_SECOND


def of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def test_every_method_needs_iam_and_runs_the_api_function(resources: dict[str, Any]) -> None:
    methods = of_type(resources, "AWS::ApiGateway::Method")
    assert len(methods) == len(ROUTES)
    for method in methods.values():
        props = method["Properties"]
        assert props["AuthorizationType"] == "AWS_IAM"
        assert props["Integration"]["Type"] == "AWS_PROXY"
    (function,) = [r for r in of_type(resources, "AWS::Lambda::Function").values()
                   if r["Properties"]["Handler"] == "baton.handlers.api.handler"]  # fmt: skip
    assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}


def test_the_routes_are_the_handlers_routes() -> None:
    document = json.loads(openapi_document())
    served = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert served == {(method, "/" + path) for method, path in ROUTES}


def test_the_stage_is_throttled_and_access_logged(resources: dict[str, Any]) -> None:
    (stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == STAGE_NAME
    settings = props["MethodSettings"][0]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (
        THROTTLE_RATE_PER_SECOND, THROTTLE_BURST,
    )  # fmt: skip
    assert "DestinationArn" in props["AccessLogSetting"]
    assert "$context.identity.caller" in props["AccessLogSetting"]["Format"]
    assert props["TracingEnabled"] is True


@pytest.mark.parametrize("action", ["dynamodb:PutItem", "sqs:SendMessage", "s3:GetObject"])
def test_the_api_role_may_start_answer_and_read_logs(resources: dict[str, Any], action: str) -> None:
    policies = [r for name, r in of_type(resources, "AWS::IAM::Policy").items() if name.startswith("ApiFunctionRole")]
    actions = {a for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}  # fmt: skip
    assert action in actions
