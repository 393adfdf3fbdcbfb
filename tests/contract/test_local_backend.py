"""The port contracts on the embedded backend: SQLite, files, threads, the system clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract_suites import (
    ArtifactStoreContract,
    ClockContract,
    DispatcherContract,
    SecretResolverContract,
    StateStoreContract,
)

from baton.adapters.local.fs_artifacts import FilesystemArtifactStore
from baton.adapters.local.runtime import EnvSecretResolver, SystemClock, ThreadPoolDispatcher
from baton.adapters.local.sqlite_state import SqliteStateStore
from baton.ports import ArtifactStore, Clock, Dispatcher, SecretResolver, StateStore


class TestSqliteStateStore(StateStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> StateStore:
        return SqliteStateStore(tmp_path / "state.db")

    @pytest.fixture
    def other_store(self, tmp_path: Path, store: StateStore) -> StateStore:
        return SqliteStateStore(tmp_path / "state.db")


class TestFilesystemArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def artifacts(self, tmp_path: Path) -> ArtifactStore:
        return FilesystemArtifactStore(tmp_path / "state")


class TestThreadPoolDispatcher(DispatcherContract):
    @pytest.fixture
    def dispatcher(self) -> Dispatcher:
        return ThreadPoolDispatcher(max_workers=4)


class TestSystemClock(ClockContract):
    @pytest.fixture
    def clock(self) -> Clock:
        return SystemClock()


class TestEnvSecretResolver(SecretResolverContract):
    @pytest.fixture
    def secrets(self) -> SecretResolver:
        return EnvSecretResolver({"DEMO_TOKEN": "value-1"})

    @pytest.fixture
    def known_secret(self) -> tuple[dict[str, str], str]:
        return {"env": "DEMO_TOKEN"}, "value-1"

    @pytest.fixture
    def missing_secret(self) -> dict[str, str]:
        return {"env": "NOT_SET_ANYWHERE"}


def test_a_cloud_secret_source_is_refused_locally_with_a_way_out() -> None:
    from baton.errors import SecretError

    with pytest.raises(SecretError, match=r"\{env: NAME\}"):
        EnvSecretResolver({}).resolve("TOKEN", {"ssm": "/ci/token"})


def test_the_sqlite_store_runs_in_wal_mode(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
