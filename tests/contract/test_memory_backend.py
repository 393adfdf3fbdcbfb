"""The port contracts on the engine tests' fakes: the in-memory state store is held to the
same suite as SQLite and DynamoDB, so engine tests that run on it prove what they claim;
the in-process step queue is held to the queue contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from contract_suites import StateStoreContract
from tests.unit.engine.engine_fakes import MemoryStateStore

from baton.engine.queue import InProcessStepQueue
from baton.ports import StateStore

T0 = datetime(2026, 1, 2, tzinfo=UTC)


class TestMemoryStateStore(StateStoreContract):
    @pytest.fixture
    def store(self) -> StateStore:
        return MemoryStateStore()

    @pytest.fixture
    def other_store(self, store: StateStore) -> StateStore:
        return store


def test_units_sent_come_back_in_order_up_to_the_room_asked_for() -> None:
    queue = InProcessStepQueue()
    queue.send("e1", ["a", "b", "c"])

    assert queue.receive("e1", T0, 2) == ["a", "b"]
    assert queue.receive("e1", T0, 5) == ["c"]
    assert queue.receive("e1", T0, 5) == []


def test_a_unit_sent_for_later_comes_back_only_when_due() -> None:
    queue = InProcessStepQueue()
    queue.send_at("e1", "later", T0 + timedelta(seconds=30))
    queue.send("e1", ["now"])

    assert queue.receive("e1", T0, 10) == ["now"]
    assert queue.receive("e1", T0 + timedelta(seconds=29), 10) == []
    assert queue.receive("e1", T0 + timedelta(seconds=30), 10) == ["later"]


def test_units_of_another_execution_stay_queued() -> None:
    queue = InProcessStepQueue()
    queue.send("other", ["x"])
    queue.send("e1", ["a"])

    assert queue.receive("e1", T0, 10) == ["a"]
    assert queue.receive("other", T0, 10) == ["x"]


def test_a_delay_counts_from_the_last_look() -> None:
    queue = InProcessStepQueue()
    assert queue.receive("e1", T0, 1) == []
    queue.send("e1", ["a"], delay_seconds=5)

    assert queue.receive("e1", T0 + timedelta(seconds=4), 10) == []
    assert queue.receive("e1", T0 + timedelta(seconds=5), 10) == ["a"]
