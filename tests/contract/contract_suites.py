"""The port contracts as abstract test suites.

Each backend subclasses a suite and provides its fixture (``store``, ``other_store``,
``artifacts``, ``dispatcher``, ``clock``, ``secrets`` and the secret fixtures); nothing here
knows which backend runs. ``test_local_backend.py`` runs them on SQLite and the file system;
the AWS adapters subclass the same suites under moto.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from baton.engine.records import ExecutionRecord, StepRecord
from baton.engine.summary import digest, summarize
from baton.errors import ExecutionNotFoundError, SecretError, StateConflictError
from baton.ports import ArtifactRef, ArtifactStore, CacheEntry, Clock, Dispatcher, SecretResolver, StateStore

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def an_execution(execution_id: str = "e1", started: datetime = T0) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=execution_id,
        workflow="wf",
        definition_digest="d" * 64,
        inputs={"n": 1, "names": ["a", "b"], "nested": {"k": None}},
        started_at=started,
        workspace="/tmp/ws",
    )


def steps_of(execution_id: str, *keys: str) -> list[StepRecord]:
    return [StepRecord(execution_id, key, key.split("[")[0]) for key in keys]


class StateStoreContract:
    """What every ``StateStore`` guarantees."""

    @pytest.fixture
    def store(self) -> StateStore:
        raise NotImplementedError

    @pytest.fixture
    def other_store(self, store: StateStore) -> StateStore:
        """A second handle on the same state (another process, another client)."""
        raise NotImplementedError

    def test_an_execution_and_its_steps_are_created_together(self, store: StateStore) -> None:
        created = store.create_execution(an_execution(), steps_of("e1", "a", "b"))
        assert created.version == 1
        assert store.get_execution("e1") == created
        assert sorted(store.get_steps("e1")) == ["a", "b"]
        assert all(r.version == 1 for r in store.get_steps("e1").values())

    def test_an_execution_id_is_created_once(self, store: StateStore) -> None:
        store.create_execution(an_execution(), steps_of("e1", "a"))
        with pytest.raises(StateConflictError):
            store.create_execution(an_execution(), steps_of("e1", "a"))

    def test_an_unknown_execution_is_an_error(self, store: StateStore) -> None:
        with pytest.raises(ExecutionNotFoundError):
            store.get_execution("nope")
        assert store.get_steps("nope") == {}

    def test_records_round_trip_every_field(self, store: StateStore) -> None:
        store.create_execution(an_execution(), steps_of("e1", "a"))
        record = store.get_steps("e1")["a"].evolve(
            status="running", attempt=2, tries=1, index=3, item={"x": [1, 2.5, None, True]},
            outputs={"s": "é ✓", "n": 1}, artifacts={"f": {"path": "p", "ref": {"$artifact": "ab", "size": 1}}},
            error="boom", error_kind="timeout", cache_hit=True, cache_key="k", started_at=T0,
            finished_at=T0 + timedelta(seconds=1), lease_owner="w1", lease_expires_at=T0 + timedelta(minutes=1),
            wake_at=T0 + timedelta(hours=1), reason="when", stop=True, item_count=4,
        )  # fmt: skip
        (stored,), _ = store.commit([record])
        assert store.get_steps("e1")["a"] == stored == record.evolve(version=2)

    def test_an_execution_update_is_conditional_on_its_version(self, store: StateStore) -> None:
        created = store.create_execution(an_execution(), [])
        updated = store.update_execution(created.evolve(status="failed", error="x"))
        assert (updated.version, store.get_execution("e1").status) == (2, "failed")
        with pytest.raises(StateConflictError):
            store.update_execution(created.evolve(status="succeeded"))
        assert store.get_execution("e1").status == "failed"

    def test_a_step_update_is_conditional_on_its_version(self, store: StateStore) -> None:
        store.create_execution(an_execution(), steps_of("e1", "a"))
        read = store.get_steps("e1")["a"]
        (claimed,), _ = store.commit([read.evolve(status="running", lease_owner="w1")])
        assert claimed.version == read.version + 1
        with pytest.raises(StateConflictError):
            store.commit([read.evolve(status="running", lease_owner="w2")])
        assert store.get_steps("e1")["a"].lease_owner == "w1"

    @pytest.mark.parametrize(
        "stale", ["step", "insert", "execution"], ids=["stale-update", "existing-insert", "stale-execution"]
    )
    def test_a_commit_is_all_or_nothing(self, store: StateStore, stale: str) -> None:
        execution = store.create_execution(an_execution(), steps_of("e1", "a", "b"))
        a, b = store.get_steps("e1")["a"], store.get_steps("e1")["b"]
        store.commit([b.evolve(status="running")])  # b moves on: the read copy is now stale
        updates = (
            [a.evolve(status="succeeded"), b.evolve(status="failed")]
            if stale == "step"
            else [a.evolve(status="succeeded")]
        )
        inserts = steps_of("e1", "b") if stale == "insert" else steps_of("e1", "c")
        run = execution.evolve(status="failed")
        if stale == "execution":
            store.update_execution(execution.evolve(status="waiting"))
        with pytest.raises(StateConflictError):
            store.commit(updates, inserts, run)
        after = store.get_steps("e1")
        assert after["a"].status == "pending"
        assert ("c" in after) is False
        assert store.get_execution("e1").status == ("waiting" if stale == "execution" else "running")

    def test_a_commit_applies_updates_inserts_and_the_execution(self, store: StateStore) -> None:
        execution = store.create_execution(an_execution(), steps_of("e1", "fan"))
        fan = store.get_steps("e1")["fan"]
        stored, new_execution = store.commit(
            [fan.evolve(status="running", item_count=2)],
            steps_of("e1", "fan[0]", "fan[1]"),
            execution.evolve(status="waiting"),
        )
        assert [r.key for r in stored] == ["fan", "fan[0]", "fan[1]"]
        assert [r.version for r in stored] == [2, 1, 1]
        assert new_execution is not None
        assert new_execution.version == 2
        assert store.get_execution("e1").status == "waiting"
        assert set(store.get_steps("e1")) == {"fan", "fan[0]", "fan[1]"}

    def test_renewing_a_lease_keeps_the_fence(self, store: StateStore) -> None:
        store.create_execution(an_execution(), steps_of("e1", "a"))
        (claimed,), _ = store.commit(
            [store.get_steps("e1")["a"].evolve(status="running", lease_owner="w1", lease_expires_at=T0)]
        )
        later = T0 + timedelta(minutes=5)
        assert store.renew_lease(claimed, later)
        current = store.get_steps("e1")["a"]
        assert (current.version, current.lease_expires_at) == (claimed.version, later)
        store.commit([current.evolve(status="succeeded")])
        assert not store.renew_lease(claimed, later + timedelta(minutes=5))

    def test_a_hand_off_reads_as_a_running_claim_until_its_unit_is_written(
        self, store: StateStore, other_store: StateStore
    ) -> None:
        store.create_execution(an_execution(), steps_of("e1", "a", "b"))
        read = store.get_steps("e1")
        hand = {"key": "b", "version": read["b"].version, "owner": "w1", "expires": T0.isoformat(), "attempt": 1}
        store.commit([read["a"].evolve(status="succeeded", hand_off=hand)])

        for handle in (store, other_store):
            seen = handle.get_steps("e1")["b"]
            assert (seen.status, seen.lease_owner, seen.lease_expires_at, seen.attempt) == ("running", "w1", T0, 1)
            assert seen.version == read["b"].version  # still the stored copy's version: the holder's fence
            history = {e.execution_id: steps for e, steps in handle.list_history()}
            assert {r.key: r.status for r in history["e1"]} == {"a": "succeeded", "b": "running"}

        other_store.commit([read["b"].evolve(status="running", lease_owner="w2")])  # a takeover
        with pytest.raises(StateConflictError):  # the holder's end loses: the version moved on
            store.commit([read["b"].evolve(status="succeeded", lease_owner=None)])
        ended = store.get_steps("e1")["b"]
        assert (ended.lease_owner, ended.version) == ("w2", read["b"].version + 1)  # the hand-off no longer applies

    def test_executions_are_listed_newest_first(self, store: StateStore) -> None:
        for index in range(4):
            store.create_execution(an_execution(f"e{index}", T0 + timedelta(minutes=index)), [])
        assert [e.execution_id for e in store.list_executions(limit=3)] == ["e3", "e2", "e1"]

    def test_history_lists_executions_since_a_time_with_their_steps(self, store: StateStore) -> None:
        for index in range(5):
            execution = an_execution(f"e{index}", T0 + timedelta(minutes=index))
            if index % 2:
                execution = execution.evolve(workflow="other")
            store.create_execution(execution, steps_of(f"e{index}", "a", f"b[{index}]"))
        store.commit([store.get_steps("e3")["a"].evolve(status="succeeded", attempt=2)])
        history = store.list_history(since=T0 + timedelta(minutes=1))
        assert [e.execution_id for e, _ in history] == ["e4", "e3", "e2", "e1"]
        steps = {e.execution_id: {r.key: r for r in records} for e, records in history}
        assert sorted(steps["e3"]) == ["a", "b[3]"]
        assert (steps["e3"]["a"].status, steps["e3"]["a"].attempt) == ("succeeded", 2)
        assert [e.execution_id for e, _ in store.list_history(workflow="other")] == ["e3", "e1"]
        assert [e.execution_id for e, _ in store.list_history(T0 + timedelta(minutes=2), "wf")] == ["e4", "e2"]
        assert store.list_history(since=T0 + timedelta(hours=1)) == []

    def test_history_summaries_are_the_summaries_of_the_history(self, store: StateStore) -> None:
        for index in range(3):
            execution = an_execution(f"e{index}", T0 + timedelta(minutes=index))
            execution = execution.evolve(workflow="other" if index == 1 else "wf")
            store.create_execution(execution, steps_of(f"e{index}", "a", "b", "b[0]", "b[1]"))
        read = store.get_steps("e2")
        agent_outputs = {"text": "ok", "usage": {"input_tokens": 10, "output_tokens": 5}, "cost_usd": 0.25}
        store.commit([
            read["a"].evolve(status="succeeded", tries=2, outputs=agent_outputs, cache_key="k1",
                             started_at=T0, finished_at=T0 + timedelta(seconds=1.5)),
            read["b"].evolve(status="running", item_count=2, started_at=T0),
            read["b[0]"].evolve(kind="item", index=0, status="failed", error="  boom\nsecond line", error_kind="exit",
                                cache_hit=False, started_at=T0, finished_at=T0 - timedelta(seconds=1)),
            read["b[1]"].evolve(kind="item", index=1, status="cached", cache_hit=True, outputs={"n": [1, 2]}),
        ])  # fmt: skip
        ended = T0 + timedelta(minutes=2, seconds=3)
        store.update_execution(store.get_execution("e2").evolve(status="failed", finished_at=ended))
        later, much_later = T0 + timedelta(minutes=1), T0 + timedelta(hours=1)
        for since, workflow in ((None, None), (later, None), (None, "wf"), (later, "wf"), (much_later, None)):
            expected = [summarize(e, {r.key: r for r in records}) for e, records in store.list_history(since, workflow)]
            assert store.list_history_summaries(since, workflow) == expected
        execution, steps = store.list_history_summaries()[0]
        assert (execution.execution_id, execution.status, execution.duration) == ("e2", "failed", 3.0)
        assert json.loads(execution.inputs) == an_execution().inputs
        assert (steps["a"].tokens, steps["a"].cost_usd, steps["a"].duration, steps["a"].tries) == (15, 0.25, 1.5, 2)
        assert (steps["b[0]"].failure, steps["b[0]"].duration, steps["b[1]"].cache_hit) == ("boom", 0.0, True)
        assert steps["b[1]"].outputs_digest == digest({"n": [1, 2]}) != steps["a"].outputs_digest

    def test_history_summaries_read_a_hand_off_in_flight(self, store: StateStore) -> None:
        store.create_execution(an_execution(), steps_of("e1", "a", "b"))
        read = store.get_steps("e1")
        hand = {"key": "b", "version": read["b"].version, "owner": "w1", "expires": T0.isoformat(), "attempt": 1}
        store.commit([read["a"].evolve(status="succeeded", hand_off=hand, started_at=T0, finished_at=T0)])
        [(_, steps)] = store.list_history_summaries()
        assert (steps["b"].status, steps["b"].started_at) == ("running", T0)  # as ``get_steps`` reads it
        store.commit([store.get_steps("e1")["b"].evolve(status="succeeded")])
        [(_, steps)] = store.list_history_summaries()
        assert steps["b"].status == "succeeded"  # written since: the hand-off no longer applies

    def test_definitions_are_stored_once_by_digest(self, store: StateStore) -> None:
        store.put_definition("abc", {"name": "one"})
        store.put_definition("abc", {"name": "two"})
        assert store.get_definition("abc") == {"name": "one"}
        assert store.get_definition("zzz") is None

    def test_another_handle_sees_writes_and_loses_races(self, store: StateStore, other_store: StateStore) -> None:
        store.create_execution(an_execution(), steps_of("e1", "a"))
        read_there = other_store.get_steps("e1")["a"]
        store.commit([store.get_steps("e1")["a"].evolve(status="running", lease_owner="here")])
        with pytest.raises(StateConflictError):
            other_store.commit([read_there.evolve(status="running", lease_owner="there")])
        assert other_store.get_steps("e1")["a"].lease_owner == "here"

    def test_of_many_concurrent_claims_exactly_one_wins(self, store: StateStore, other_store: StateStore) -> None:
        store.create_execution(an_execution(), steps_of("e1", "a"))
        pending = store.get_steps("e1")["a"]
        winners: list[str] = []
        barrier = threading.Barrier(8)

        def claim(name: str, handle: StateStore) -> None:
            barrier.wait()
            try:
                handle.commit([pending.evolve(status="running", lease_owner=name)])
                winners.append(name)
            except StateConflictError:
                pass

        threads = [threading.Thread(target=claim, args=(f"w{i}", store if i % 2 else other_store)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(winners) == 1
        assert store.get_steps("e1")["a"].lease_owner == winners[0]

    def test_a_slot_is_taken_up_to_its_limit_and_freed_by_its_holder(self, store: StateStore) -> None:
        assert store.take_slot("k", "e1", 2)
        assert store.take_slot("k", "e2", 2)
        assert not store.take_slot("k", "e3", 2)
        assert store.take_slot("k", "e1", 2), "a holder taking its slot again keeps it"
        assert sorted(store.slot_holders("k")) == ["e1", "e2"]

        store.release_slot("k", "e1")

        assert store.take_slot("k", "e3", 2)
        assert sorted(store.slot_holders("k")) == ["e2", "e3"]
        assert store.slot_holders("other") == []

    def test_slots_of_one_key_are_counted_across_handles(self, store: StateStore, other_store: StateStore) -> None:
        assert store.take_slot("k", "e1", 1)
        assert not other_store.take_slot("k", "e2", 1)
        other_store.release_slot("k", "e1")
        assert store.take_slot("k", "e2", 1)

    def test_concurrent_takers_never_exceed_the_limit(self, store: StateStore, other_store: StateStore) -> None:
        won: list[str] = []

        def take(handle: StateStore, holder: str) -> None:
            if handle.take_slot("race", holder, 3):
                won.append(holder)

        threads = [threading.Thread(target=take, args=(store if i % 2 else other_store, f"e{i}")) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 3
        assert sorted(store.slot_holders("race")) == sorted(won)


class ArtifactStoreContract:
    """What every ``ArtifactStore`` guarantees."""

    @pytest.fixture
    def artifacts(self) -> ArtifactStore:
        raise NotImplementedError

    def test_blobs_are_addressed_by_content(self, artifacts: ArtifactStore) -> None:
        first = artifacts.put_bytes(b"hello")
        assert artifacts.put_bytes(b"hello") == first
        assert first.size == 5
        assert artifacts.read_bytes(first) == b"hello"
        assert artifacts.put_bytes(b"other") != first

    def test_files_are_stored_and_restored(self, artifacts: ArtifactStore, tmp_path: Path) -> None:
        source = tmp_path / "big.bin"
        source.write_bytes(bytes(range(256)) * 10_000)
        ref = artifacts.put_file(source)
        assert ref == artifacts.put_bytes(source.read_bytes())
        target = tmp_path / "deep" / "er" / "copy.bin"
        artifacts.restore_file(ref, target)
        assert target.read_bytes() == source.read_bytes()
        assert ArtifactRef.from_data(ref.to_data()) == ref

    def test_the_cache_keeps_entries_until_they_expire(self, artifacts: ArtifactStore) -> None:
        assert artifacts.get_cached("k" * 64, T0) is None
        entry = CacheEntry(
            {"out": "x", "n": [1, 2]},
            {"f": {"path": "a.txt", "ref": {"$artifact": "ab", "size": 1}}},
            T0,
            T0 + timedelta(days=1),
        )
        artifacts.put_cached("k" * 64, entry)
        assert artifacts.get_cached("k" * 64, T0 + timedelta(hours=1)) == entry
        assert artifacts.get_cached("k" * 64, T0 + timedelta(days=2)) is None
        forever = CacheEntry({"out": "y"}, {}, T0, None)
        artifacts.put_cached("f" * 64, forever)
        assert artifacts.get_cached("f" * 64, T0 + timedelta(days=3650)) == forever

    def test_logs_are_kept_per_attempt_and_found_by_step(self, artifacts: ArtifactStore) -> None:
        for key, attempt, stream, text in [
            ("build", 1, "stdout", "first\n"), ("build", 2, "stdout", "second\n"), ("build", 2, "stderr", "warn\n"),
            ("fan[0]", 1, "stdout", "item\n"), ("fan~compensate", 1, "stdout", "undo\n"), ("other", 1, "stdout", "x\n"),
        ]:  # fmt: skip
            path = artifacts.log_file("e1", key, attempt, stream)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            artifacts.publish_log("e1", key, attempt, stream)
        build = [(e.attempt, e.stream, e.text) for e in artifacts.read_logs("e1", "build")]
        assert build == [(1, "stdout", "first\n"), (2, "stdout", "second\n"), (2, "stderr", "warn\n")]
        assert {e.step_key for e in artifacts.read_logs("e1", "fan")} == {"fan[0]", "fan~compensate"}
        assert len(artifacts.read_logs("e1")) == 6
        assert artifacts.read_logs("nope") == []

    def test_a_stream_that_printed_nothing_is_not_listed(self, artifacts: ArtifactStore) -> None:
        for stream, text in (("stdout", "said\n"), ("stderr", "")):
            path = artifacts.log_file("e2", "quiet", 1, stream)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            artifacts.publish_log("e2", "quiet", 1, stream)
        assert [(e.stream, e.text) for e in artifacts.read_logs("e2")] == [("stdout", "said\n")]


class DispatcherContract:
    """What every ``Dispatcher`` guarantees."""

    @pytest.fixture
    def dispatcher(self) -> Dispatcher:
        raise NotImplementedError

    def test_results_and_errors_come_back_by_key(self, dispatcher: Dispatcher) -> None:
        dispatcher.submit("ok", lambda: 42)
        dispatcher.submit("bad", lambda: 1 / 0)
        results: dict[str, Any] = {}
        deadline = time.monotonic() + 5
        while len(results) < 2 and time.monotonic() < deadline:
            results.update(dispatcher.collect(timeout=0.5))
        assert results["ok"] == 42
        assert isinstance(results["bad"], ZeroDivisionError)
        assert dispatcher.in_flight() == 0
        dispatcher.shutdown()

    def test_collect_waits_at_most_its_timeout(self, dispatcher: Dispatcher) -> None:
        gate = threading.Event()
        dispatcher.submit("slow", gate.wait)
        started = time.monotonic()
        assert dispatcher.collect(timeout=0.1) == []
        assert time.monotonic() - started < 2
        gate.set()
        assert dispatcher.collect(timeout=5) == [("slow", True)]
        dispatcher.shutdown()


class ClockContract:
    """What every ``Clock`` guarantees."""

    @pytest.fixture
    def clock(self) -> Clock:
        raise NotImplementedError

    def test_time_is_aware_utc_and_monotonic_never_goes_back(self, clock: Clock) -> None:
        now = clock.now()
        assert now.tzinfo is not None
        assert now.utcoffset() == timedelta(0)
        first = clock.monotonic()
        clock.sleep(0.01)
        assert clock.monotonic() >= first + 0.009


class SecretResolverContract:
    """What every ``SecretResolver`` guarantees; backends give a source that holds a value
    and one that does not."""

    @pytest.fixture
    def secrets(self) -> SecretResolver:
        raise NotImplementedError

    @pytest.fixture
    def known_secret(self) -> tuple[dict[str, str], str]:
        raise NotImplementedError

    @pytest.fixture
    def missing_secret(self) -> dict[str, str]:
        raise NotImplementedError

    def test_a_known_secret_resolves(self, secrets: SecretResolver, known_secret: tuple[dict[str, str], str]) -> None:
        source, value = known_secret
        assert secrets.resolve("TOKEN", source) == value

    def test_a_missing_secret_names_itself_in_the_error(
        self, secrets: SecretResolver, missing_secret: dict[str, str]
    ) -> None:
        with pytest.raises(SecretError, match="TOKEN"):
            secrets.resolve("TOKEN", missing_secret)
