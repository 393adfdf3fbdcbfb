"""``DynamoDBStateStore`` beyond the contract: its items, the spill to S3, TTL, the workflow
index, commits larger than one transaction, and retried writes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from tests.aws.moto_stack import Stack

from baton import resource_names as names
from baton.adapters.aws.dynamodb_state import DynamoDBStateStore
from baton.adapters.aws.items import SPILL_BYTES, CorruptRecordError, ItemCodec, step_key
from baton.adapters.aws.transactions import write_all
from baton.engine.records import ExecutionRecord, StepRecord
from baton.errors import StateConflictError

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def store_of(stack: Stack) -> DynamoDBStateStore:
    settings = stack.settings
    codec = ItemCodec(lambda: stack.clients("s3"), settings.artifacts_bucket, retention_seconds=3600)
    return DynamoDBStateStore(lambda: stack.clients("dynamodb"), codec,
                              executions_table=settings.executions_table,
                              definitions_table=settings.definitions_table)  # fmt: skip


def execution(execution_id: str = "e1", workflow: str = "wf", started: datetime = T0) -> ExecutionRecord:
    return ExecutionRecord(execution_id, workflow, "d" * 64, started_at=started)


def raw_item(stack: Stack, execution_id: str, key: str) -> dict:
    table = stack.settings.executions_table
    return stack.clients("dynamodb").get_item(TableName=table, Key=step_key(execution_id, key))["Item"]


def test_a_record_past_the_item_limit_spills_to_s3_and_reads_back_whole(stack: Stack) -> None:
    store = store_of(stack)
    store.create_execution(execution(), [StepRecord("e1", "big", "big")])
    huge = {"text": "x" * (2 * SPILL_BYTES), "rows": list(range(1000))}

    (stored,), _ = store.commit([store.get_steps("e1")["big"].evolve(status="succeeded", outputs=huge)])

    item = raw_item(stack, "e1", "big")
    assert "data" not in item
    assert item["spill"]["M"]["key"]["S"].startswith("executions/e1/records/")
    assert store.get_steps("e1")["big"] == stored
    assert store.load("e1")[1]["big"].outputs == huge


def test_a_spilled_record_that_does_not_match_its_digest_is_an_error(stack: Stack) -> None:
    store = store_of(stack)
    store.create_execution(execution(), [StepRecord("e1", "big", "big", outputs={"t": "x" * (2 * SPILL_BYTES)})])
    key = raw_item(stack, "e1", "big")["spill"]["M"]["key"]["S"]
    stack.clients("s3").put_object(Bucket=stack.settings.artifacts_bucket, Key=key, Body=b'{"tampered": true}')

    with pytest.raises(CorruptRecordError, match="digest"):
        store.get_steps("e1")


def test_every_item_carries_the_ttl_and_the_execution_carries_the_index_keys(stack: Stack) -> None:
    store = store_of(stack)
    store.create_execution(execution(), [StepRecord("e1", "a", "a")])
    store.commit([store.get_steps("e1")["a"].evolve(status="running")])

    for item in (raw_item(stack, "e1", "a"), raw_item(stack, "e1", "")):  # a step, and the list of pending steps
        expires = int(item[names.EXECUTIONS_TTL_ATTRIBUTE]["N"])
        assert abs(expires - (time.time() + 3600)) < 120
        assert names.WORKFLOW_INDEX_PARTITION_KEY not in item  # the index stays sparse
    listed = store.list_workflow_executions("wf")
    assert [e.execution_id for e in listed] == ["e1"]


def test_steps_created_pending_are_one_item_until_each_is_first_written(stack: Stack) -> None:
    store, other = store_of(stack), store_of(stack)
    store.create_execution(execution(), [StepRecord("e1", key, key) for key in ("a", "b", "c")])

    items = stack.clients("dynamodb").query(
        TableName=stack.settings.executions_table,
        KeyConditionExpression="#pk = :pk",
        ExpressionAttributeNames={"#pk": "pk"},
        ExpressionAttributeValues={":pk": {"S": "EXEC#e1"}},
    )["Items"]
    assert len(items) == 2  # the execution and the list of its pending steps
    read = store.get_steps("e1")
    assert [(r.key, r.status, r.version) for r in read.values()] == [
        ("a", "pending", 1),
        ("b", "pending", 1),
        ("c", "pending", 1),
    ]
    assert other.load("e1")[1] == read

    store.commit([read["b"].evolve(status="running")])
    with pytest.raises(StateConflictError):  # the first write of a listed step is conditional too
        other.commit([read["b"].evolve(status="running", lease_owner="other")])
    assert store.get_steps("e1")["b"].version == 2
    assert store.get_steps("e1")["a"].version == 1


def test_a_workflows_executions_are_listed_newest_first_from_its_index(stack: Stack) -> None:
    store = store_of(stack)
    for index in range(3):
        store.create_execution(execution(f"a{index}", "alpha", T0 + timedelta(minutes=index)), [])
    store.create_execution(execution("b0", "beta", T0 + timedelta(hours=1)), [])

    assert [e.execution_id for e in store.list_workflow_executions("alpha", limit=2)] == ["a2", "a1"]
    assert [e.execution_id for e in store.list_executions(limit=2)] == ["b0", "a2"]


def test_a_commit_wider_than_one_transaction_is_applied_whole(stack: Stack) -> None:
    store = store_of(stack)
    store.create_execution(execution(), [StepRecord("e1", "fan", "fan")])
    items = [StepRecord("e1", f"fan[{i}]", "fan", kind="item", index=i) for i in range(150)]

    stored, _ = store.commit([store.get_steps("e1")["fan"].evolve(status="running", item_count=150)], items)

    assert len(stored) == 151
    assert len(store.get_steps("e1")) == 151


def test_a_wide_commit_that_loses_its_race_leaves_none_of_its_inserts(stack: Stack) -> None:
    store = store_of(stack)
    store.create_execution(execution(), [StepRecord("e1", "fan", "fan")])
    stale = store.get_steps("e1")["fan"]
    store.commit([stale.evolve(status="running")])
    items = [StepRecord("e1", f"fan[{i}]", "fan", kind="item", index=i) for i in range(150)]

    with pytest.raises(StateConflictError, match="fan"):
        store.commit([stale.evolve(status="running", item_count=150)], items)

    assert set(store.get_steps("e1")) == {"fan"}


def test_a_retried_write_that_had_been_applied_counts_as_a_success(stack: Stack) -> None:
    store = store_of(stack)
    store.create_execution(execution(), [StepRecord("e1", "a", "a")])
    record = store.get_steps("e1")["a"]
    write = store._step_write(record.evolve(status="running", version=2), expected=1)

    write_all(stack.clients("dynamodb"), [write])
    write_all(stack.clients("dynamodb"), [write])  # the same request again, as a retry sends it

    other = store._step_write(record.evolve(status="failed", version=2), expected=1)
    with pytest.raises(StateConflictError):
        write_all(stack.clients("dynamodb"), [other])


def test_a_definition_is_read_from_the_table_once(stack: Stack) -> None:
    store = store_of(stack)
    store.put_definition("abc", {"name": "one", "steps": []})
    assert store.get_definition("abc") == {"name": "one", "steps": []}
    table = stack.settings.definitions_table
    stack.clients("dynamodb").delete_item(TableName=table, Key={"pk": {"S": "DIGEST#abc"}, "sk": {"S": "COMPILED"}})

    cached = store.get_definition("abc")

    assert cached == {"name": "one", "steps": []}
    assert store_of(stack).get_definition("abc") is None
