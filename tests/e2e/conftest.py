"""The e2e session: LocalStack on the host, the real stack deployed to it with cdklocal.

Tests marked ``e2e`` run only under ``make e2e`` (which installs the tools and sets
``BATON_E2E=1``); anywhere else they are skipped, and only the offline tests of this folder
run. LocalStack starts once per session, binds to 127.0.0.1 only, and is stopped at the
end; a process left behind fails the session.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from tests.e2e.deploy import REGION, Deployment, aws_environment, deploy
from tests.e2e.localstack import LocalStackHost, free_loopback_port, leftovers, reap

TOOLS = ("BATON_E2E_LOCALSTACK_PYTHON", "BATON_E2E_LAMBDA_PYTHON", "BATON_E2E_CDKLOCAL")
_TIMINGS: dict[str, float] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: needs LocalStack and the deployed stack (run with `make e2e`)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("BATON_E2E") == "1":
        return
    skip = pytest.mark.skip(reason="deploys to LocalStack: run `make e2e`")
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _TIMINGS:
        phases = ", ".join(f"{name} {seconds:.0f}s" for name, seconds in _TIMINGS.items())
        terminalreporter.write_line(f"e2e timings: {phases}")


def _tool(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the e2e tests with `make e2e` (scripts/e2e/setup.sh sets it)")
    return value


@pytest.fixture(scope="session")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStackHost]:
    """LocalStack, ready, on a free loopback port; stopped (and checked for leftovers) at the end."""
    host = LocalStackHost(
        python=_tool("BATON_E2E_LOCALSTACK_PYTHON"),
        lambda_python=_tool("BATON_E2E_LAMBDA_PYTHON"),
        home=tmp_path_factory.mktemp("localstack"),
    )
    try:
        host.start()
        yield host
    finally:
        host.stop()
        left = leftovers()
        reap(left)
        assert left == [], f"processes outlived LocalStack: {left}"


@pytest.fixture(scope="session")
def aws(localstack: LocalStackHost) -> Iterator[dict[str, str]]:
    """Point every AWS client of the session (SDK, CLI under test) at LocalStack."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_PROFILE", raising=False)
        for name, value in aws_environment(localstack.endpoint).items():
            patch.setenv(name, value)
        yield aws_environment(localstack.endpoint)


@pytest.fixture(scope="session")
def model_port() -> int:
    """The loopback port the agent tests' model server listens on (known before the deploy)."""
    return free_loopback_port()


@pytest.fixture(scope="session")
def deployment(
    localstack: LocalStackHost, aws: dict[str, str], model_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Deployment:
    """The Baton stack, synthesized from this tree and deployed with cdklocal; its worker sends
    the ``bedrock`` agent provider's calls to the model server of ``model_port``."""
    context = {"baton:bedrock-endpoint-url": f"http://127.0.0.1:{model_port}"}
    deployed = deploy(localstack.endpoint, _tool("BATON_E2E_CDKLOCAL"), tmp_path_factory.mktemp("deploy"),
                      context=context)  # fmt: skip
    _TIMINGS.update(deployed.seconds)
    return deployed


@pytest.fixture(scope="session")
def outputs(deployment: Deployment) -> dict[str, str]:
    """The deployed stack's outputs."""
    return deployment.outputs


@pytest.fixture(scope="session")
def client(aws: dict[str, str]) -> Callable[[str], Any]:
    """boto3 clients on LocalStack, one per service."""
    made: dict[str, Any] = {}

    def get(service: str) -> Any:
        if service not in made:
            made[service] = boto3.client(service, region_name=REGION, endpoint_url=aws["AWS_ENDPOINT_URL"])
        return made[service]

    return get
