"""The port contracts on the AWS backend under moto: DynamoDB state, S3 artifacts and cache,
the in-invocation dispatcher, the clock, and SSM/Secrets Manager secrets.

The same suites run on SQLite and files in ``test_local_backend.py``; nothing is skipped.
One moto server serves the session; each test gets its own tables and buckets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_suites import ArtifactStoreContract, StateStoreContract
from tests.aws.moto_stack import MotoServer, Stack, create_stack, moto_server

from baton.adapters.aws.dynamodb_state import DynamoDBStateStore
from baton.adapters.aws.items import ItemCodec
from baton.adapters.aws.s3_artifacts import S3ArtifactStore
from baton.ports import ArtifactStore, StateStore


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
        )
