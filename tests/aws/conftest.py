"""Fixtures of the AWS tests: one moto server per test session, one stack per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.aws.harness import AwsHarness
from tests.aws.moto_stack import MotoServer, Stack, create_stack, moto_server


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    with moto_server() as server:
        yield server


@pytest.fixture
def stack(moto: MotoServer) -> Stack:
    clients = moto.clients()
    return Stack(clients, create_stack(clients))


@pytest.fixture
def harness(moto: MotoServer, stack: Stack, tmp_path: Path) -> AwsHarness:
    return AwsHarness(moto, stack.settings, tmp_path, env={"TEST_DIR": str(tmp_path)})
