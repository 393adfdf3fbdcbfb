"""The port contracts on the AWS backend under moto: DynamoDB state, S3 artifacts and cache,
the in-invocation dispatcher, the clock, and SSM/Secrets Manager secrets.

The same suites run on SQLite and files in ``test_local_backend.py``; nothing is skipped.
The dispatcher and clock are the ones the AWS wiring hands the engine inside an invocation.
One moto server serves the session; each test gets its own tables and buckets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_suites import (
    ArtifactStoreContract,
    ClockContract,
    DispatcherContract,
    SecretResolverContract,
    StateStoreContract,
)
from tests.aws.moto_stack import MotoServer, Stack, create_stack, moto_server

from baton.adapters.aws.bootstrap import aws_backend
from baton.adapters.aws.dynamodb_state import DynamoDBStateStore
from baton.adapters.aws.items import ItemCodec
from baton.adapters.aws.s3_artifacts import S3ArtifactStore
from baton.ports import ArtifactStore, Clock, Dispatcher, SecretResolver, StateStore


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    with moto_server() as server:
        yield server


@pytest.fixture
def stack(moto: MotoServer) -> Stack:
    clients = moto.clients()
    return Stack(clients, create_stack(clients))


def state_store(stack: Stack) -> DynamoDBStateStore:
    clients, settings = stack.clients, stack.settings
    codec = ItemCodec(lambda: clients("s3"), settings.artifacts_bucket, retention_seconds=settings.retention_seconds)
    return DynamoDBStateStore(
        lambda: clients("dynamodb"),
        codec,
        executions_table=settings.executions_table,
        definitions_table=settings.definitions_table,
    )


class TestDynamoDBStateStore(StateStoreContract):
    @pytest.fixture
    def store(self, stack: Stack) -> StateStore:
        return state_store(stack)

    @pytest.fixture
    def other_store(self, stack: Stack, moto: MotoServer, store: StateStore) -> StateStore:
        # Another process: its own clients, the same tables.
        return state_store(Stack(moto.other, stack.settings))


class TestS3ArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def artifacts(self, stack: Stack, tmp_path: Path) -> ArtifactStore:
        settings = stack.settings
        return S3ArtifactStore(
            lambda: stack.clients("s3"),
            artifacts_bucket=settings.artifacts_bucket,
            cache_bucket=settings.cache_bucket,
            scratch=tmp_path / "logs",
            # Every log stored, as the contract's short logs would otherwise live only in
            # step records (tested on its own in tests/aws/test_aws_artifacts.py).
            inline_log_bytes=0,
        )


class TestLambdaDispatcher(DispatcherContract):
    """The in-invocation dispatcher the AWS wiring gives the engine (steps leave the
    invocation through the step queue, tested in ``tests/aws``)."""

    @pytest.fixture
    def dispatcher(self, stack: Stack, tmp_path: Path) -> Dispatcher:
        return aws_backend(stack.settings, stack.clients, workspace_root=tmp_path).ports("request-1").new_dispatcher()


class TestLambdaClock(ClockContract):
    @pytest.fixture
    def clock(self, stack: Stack, tmp_path: Path) -> Clock:
        return aws_backend(stack.settings, stack.clients, workspace_root=tmp_path).ports("request-1").clock


class TestAwsSecretResolver(SecretResolverContract):
    @pytest.fixture
    def secrets(self, stack: Stack, tmp_path: Path) -> SecretResolver:
        return aws_backend(stack.settings, stack.clients, workspace_root=tmp_path).secrets

    @pytest.fixture
    def known_secret(self, stack: Stack) -> tuple[dict[str, str], str]:
        name = f"/{stack.settings.resource_prefix}/token"
        stack.clients("ssm").put_parameter(Name=name, Value="value-1", Type="SecureString")
        return {"ssm": name}, "value-1"

    @pytest.fixture
    def missing_secret(self, stack: Stack) -> dict[str, str]:
        return {"ssm": f"/{stack.settings.resource_prefix}/not-there"}
