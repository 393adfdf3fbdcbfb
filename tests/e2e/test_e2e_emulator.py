"""The emulator itself: reachable on loopback only, and the stack as deployed there."""

from __future__ import annotations

import pytest
from tests.e2e.deploy import STACK_NAME, Deployment
from tests.e2e.localstack import LocalStackHost

from baton.cli.deployed_stack import DeployedStack

pytestmark = pytest.mark.e2e


def test_localstack_and_its_lambda_sandboxes_listen_on_loopback_only(
    localstack: LocalStackHost, deployment: Deployment
) -> None:
    # GIVEN a function sandbox is up (a start of an unknown workflow is a cheap invocation)
    DeployedStack.find(STACK_NAME).start("no-such-workflow", {})
    # THEN every listening socket of LocalStack's process group is on 127.0.0.1
    sockets = localstack.listening_sockets()
    assert ("127.0.0.1", localstack.port) in sockets
    assert len(sockets) >= 2, f"expected the gateway and a sandbox, found {sockets}"
    assert {address for address, _ in sockets} == {"127.0.0.1"}


def test_every_function_and_output_is_deployed(deployment: Deployment) -> None:
    outputs = deployment.outputs
    assert {outputs[f"{role}FunctionName"] for role in ("Registrar", "Starter", "Worker", "Approver")} == {
        f"batone2e-{role}" for role in ("registrar", "starter", "worker", "approver")
    }
    assert outputs["EventBusName"] == "batone2e-bus"
