"""``DynamoDBStateStore``: executions and step records in one DynamoDB table.

Every change is a conditional write on the item's ``version``: a single record with
``PutItem``, several with ``TransactWriteItems`` (all or nothing). A lost race - a
``ConditionalCheckFailedException`` or a transaction cancelled for a failed condition or a
conflicting transaction - becomes ``StateConflictError``. Items layout: ``items.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from baton import resource_names as names
from baton.adapters.aws.clients import is_conflict
from baton.adapters.aws.items import (
    EXECUTION_PREFIX,
    EXECUTION_SORT_KEY,
    PENDING_STEPS_SORT_KEY,
    PK,
    SK,
    STEP_PREFIX,
    VERSION,
    ItemCodec,
    definition_key,
    execution_key,
    pending_steps_key,
    step_key,
)
from baton.adapters.aws.transactions import Write, write_all
from baton.engine.records import ExecutionRecord, StepRecord, with_hand_offs
from baton.engine.summary import ExecutionSummary, StepSummary, summarize
from baton.errors import ExecutionNotFoundError, StateConflictError

SLOT_PREFIX = "SLOT#"
SLOT_SORT_KEY = "SLOT"
_ROOM_FOR_HOLDER = "attribute_not_exists(#holders) OR size(#holders) < :limit OR contains(#holders, :id)"
_EXPECT_VERSION = {"ConditionExpression": "#version = :expected", "ExpressionAttributeNames": {"#version": VERSION}}
_EXPECT_FIRST_WRITE = {
    "ConditionExpression": "attribute_not_exists(#pk) OR #version = :expected",
    "ExpressionAttributeNames": {"#pk": PK, "#version": VERSION},
}
"""A record read at version 1 may be a listed pending step never written (see ``items``)."""
_HISTORY_READERS = 8
"""Executions whose records are read at once when listing history (each one query)."""
_EXPECT_ABSENT = {"ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": {"#pk": PK}}


class DynamoDBStateStore:
    """State store over the executions table (records) and the definitions table (compiled
    definitions by digest). ``dynamodb`` is a callable returning the boto3 client."""

    def __init__(
        self,
        dynamodb: Callable[[], Any],
        codec: ItemCodec,
        *,
        executions_table: str,
        definitions_table: str,
    ) -> None:
        self._dynamodb = dynamodb
        self.codec = codec
        self.executions_table = executions_table
        self.definitions_table = definitions_table
        self._definitions: dict[str, dict[str, Any]] = {}
        """Definitions read so far: one digest always names the same definition."""

    @property
    def client(self) -> Any:
        """The DynamoDB client (for reads this port does not offer, like the sweeper's)."""
        return self._dynamodb()

    # -- definitions ----------------------------------------------------------------------

    def put_definition(self, digest: str, definition: Mapping[str, Any]) -> None:
        """Store a compiled definition under its digest; the first copy stays."""
        item = self.codec.item(definition_key(digest), definition, 1, f"definitions/{digest}")
        item.pop(names.EXECUTIONS_TTL_ATTRIBUTE, None)  # definitions outlive executions
        try:
            self._dynamodb().put_item(TableName=self.definitions_table, Item=item, **_EXPECT_ABSENT)
        except ClientError as exc:
            if not is_conflict(exc):
                raise

    def get_definition(self, digest: str) -> dict[str, Any] | None:
        """The compiled definition stored under ``digest``, or None (kept once read)."""
        if digest in self._definitions:
            return copy.deepcopy(self._definitions[digest])
        item = self._dynamodb().get_item(TableName=self.definitions_table, Key=definition_key(digest)).get("Item")
        if item is None:
            return None
        self._definitions[digest] = self.codec.data(item)
        return copy.deepcopy(self._definitions[digest])

    # -- executions -----------------------------------------------------------------------

    def create_execution(self, execution: ExecutionRecord, steps: Sequence[StepRecord]) -> ExecutionRecord:
        """Insert an execution and its step records together (the execution item last, so
        an execution never exists without its steps). Steps that are plainly pending are
        only listed, in one item; the others get an item each."""
        stored = execution.evolve(version=1)
        listed = [step.key for step in steps if _plainly_pending(step)]
        writes = [self._step_write(step.evolve(version=1), expected=None) for step in steps
                  if not _plainly_pending(step)]  # fmt: skip
        if listed:
            item = self.codec.item(
                pending_steps_key(execution.execution_id), {"keys": listed}, 1,
                f"executions/{execution.execution_id}/records",
            )  # fmt: skip
            writes.append(self._write(item, None, f"steps of {execution.execution_id}"))
        writes.append(self._execution_write(stored, expected=None))
        try:
            write_all(self._dynamodb(), writes)
        except StateConflictError as exc:
            raise StateConflictError(f"execution {execution.execution_id} already exists") from exc
        return stored

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution; ``ExecutionNotFoundError`` if there is none."""
        item = (
            self._dynamodb()
            .get_item(TableName=self.executions_table, Key=execution_key(execution_id), ConsistentRead=True)
            .get("Item")
        )
        if item is None:
            raise ExecutionNotFoundError(f"no execution {execution_id!r} in table {self.executions_table}")
        return ExecutionRecord.from_data(self.codec.data(item))

    def update_execution(self, execution: ExecutionRecord) -> ExecutionRecord:
        """Write a changed execution conditionally on its version."""
        _, stored = self.commit([], (), execution)
        assert stored is not None
        return stored

    def list_executions(self, limit: int = 50) -> list[ExecutionRecord]:
        """The most recently started executions of every workflow, newest first.

        Reads the sparse workflow index whole (only execution items are in it, and the TTL
        bounds it); listing one workflow is a query: :meth:`list_workflow_executions`.
        """
        items = list(self._pages("scan", TableName=self.executions_table, IndexName=names.WORKFLOW_INDEX_NAME))
        items.sort(key=lambda item: (_text(item, names.WORKFLOW_INDEX_SORT_KEY), item[PK]["S"]), reverse=True)
        return [ExecutionRecord.from_data(self.codec.data(item)) for item in items[:limit]]

    def list_workflow_executions(self, workflow: str, limit: int = 50) -> list[ExecutionRecord]:
        """The most recently started executions of one workflow, newest first (one query)."""
        response = self._dynamodb().query(
            TableName=self.executions_table,
            IndexName=names.WORKFLOW_INDEX_NAME,
            KeyConditionExpression="#workflow = :workflow",
            ExpressionAttributeNames={"#workflow": names.WORKFLOW_INDEX_PARTITION_KEY},
            ExpressionAttributeValues={":workflow": {"S": workflow}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [ExecutionRecord.from_data(self.codec.data(item)) for item in response.get("Items", [])]

    def list_history(
        self, since: datetime | None = None, workflow: str | None = None
    ) -> list[tuple[ExecutionRecord, list[StepRecord]]]:
        """Executions started since ``since`` with their steps.

        The execution ids come from the sparse workflow index (a query for one workflow, a
        filtered scan of the index otherwise); each execution's records are then one query,
        run a few at a time.
        """
        request: dict[str, Any] = {"TableName": self.executions_table, "IndexName": names.WORKFLOW_INDEX_NAME}
        conditions, values, attribute_names = [], {}, {}
        if workflow is not None:
            conditions.append("#workflow = :workflow")
            values[":workflow"] = {"S": workflow}
            attribute_names["#workflow"] = names.WORKFLOW_INDEX_PARTITION_KEY
        if since is not None:
            conditions.append("#started >= :since")
            values[":since"] = {"S": since.isoformat()}
            attribute_names["#started"] = names.WORKFLOW_INDEX_SORT_KEY
        if values:
            request.update(ExpressionAttributeNames=attribute_names, ExpressionAttributeValues=values)
        operation = "query" if workflow is not None else "scan"
        if conditions:
            request["KeyConditionExpression" if workflow is not None else "FilterExpression"] = " AND ".join(conditions)
        ids = [item[PK]["S"].removeprefix(EXECUTION_PREFIX) for item in self._pages(operation, **request)]
        with ThreadPoolExecutor(max_workers=_HISTORY_READERS) as pool:
            loaded = list(pool.map(self.load, ids))
        history = [(execution, list(records.values())) for execution, records in loaded]
        history.sort(key=lambda entry: (_started(entry[0]), entry[0].execution_id), reverse=True)
        return history

    def list_history_summaries(
        self, since: datetime | None = None, workflow: str | None = None
    ) -> list[tuple[ExecutionSummary, dict[str, StepSummary]]]:
        """The summaries of :meth:`list_history`, derived from the records it reads."""
        return [
            summarize(execution, {record.key: record for record in records})
            for execution, records in self.list_history(since, workflow)
        ]

    # -- steps ----------------------------------------------------------------------------

    def get_steps(self, execution_id: str) -> dict[str, StepRecord]:
        """Every record of the execution by key (a consistent query)."""
        items = self._pages(
            "query",
            TableName=self.executions_table,
            ConsistentRead=True,
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :steps)",
            ExpressionAttributeNames={"#pk": PK, "#sk": SK},
            ExpressionAttributeValues={":pk": {"S": EXECUTION_PREFIX + execution_id}, ":steps": {"S": STEP_PREFIX}},
        )
        records: dict[str, StepRecord] = {}
        listed: list[str] = []
        for item in items:
            self._read_step(execution_id, item, records, listed)
        return _with_listed(execution_id, records, listed)

    def load(self, execution_id: str) -> tuple[ExecutionRecord, dict[str, StepRecord]]:
        """The execution and all its records in one consistent query (the worker's read)."""
        execution: ExecutionRecord | None = None
        records: dict[str, StepRecord] = {}
        listed: list[str] = []
        for item in self._pages(
            "query",
            TableName=self.executions_table,
            ConsistentRead=True,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": PK},
            ExpressionAttributeValues={":pk": {"S": EXECUTION_PREFIX + execution_id}},
        ):
            if item[SK]["S"] == EXECUTION_SORT_KEY:
                execution = ExecutionRecord.from_data(self.codec.data(item))
            else:
                self._read_step(execution_id, item, records, listed)
        if execution is None:
            raise ExecutionNotFoundError(f"no execution {execution_id!r} in table {self.executions_table}")
        return execution, _with_listed(execution_id, records, listed)

    def load_unit(self, execution_id: str, key: str) -> tuple[ExecutionRecord, dict[str, StepRecord]]:
        """The execution and the records a ``for_each`` item needs to run: every record but
        its siblings (two range queries around them, and the item itself), so what a wide
        fan-out reads per item does not grow with its width."""
        step_id = key.split("[", 1)[0]
        below = {"expression": "#pk = :pk AND #sk < :bound", "bound": STEP_PREFIX + step_id + "["}
        above = {"expression": "#pk = :pk AND #sk >= :bound", "bound": STEP_PREFIX + step_id + "\\"}
        execution: ExecutionRecord | None = None
        records: dict[str, StepRecord] = {}
        listed: list[str] = []
        for part in (below, above):
            for item in self._pages(
                "query",
                TableName=self.executions_table,
                ConsistentRead=True,
                KeyConditionExpression=part["expression"],
                ExpressionAttributeNames={"#pk": PK, "#sk": SK},
                ExpressionAttributeValues={
                    ":pk": {"S": EXECUTION_PREFIX + execution_id},
                    ":bound": {"S": part["bound"]},
                },
            ):
                if item[SK]["S"] == EXECUTION_SORT_KEY:
                    execution = ExecutionRecord.from_data(self.codec.data(item))
                else:
                    self._read_step(execution_id, item, records, listed)
        if execution is None:
            raise ExecutionNotFoundError(f"no execution {execution_id!r} in table {self.executions_table}")
        own = (
            self._dynamodb()
            .get_item(TableName=self.executions_table, Key=step_key(execution_id, key), ConsistentRead=True)
            .get("Item")
        )
        if own is not None:
            self._read_step(execution_id, own, records, listed)
        return execution, _with_listed(execution_id, records, listed)

    def count_item_end(self, parent: StepRecord, *, failed: bool) -> tuple[int, bool] | None:
        """Count one ended item on the parent's item (one ``UpdateItem``, conditional on the
        parent's version: a new expansion rewrites the item and starts the count again)."""
        update = "ADD #ended :one SET #failed = :failed" if failed else "ADD #ended :one"
        values: dict[str, Any] = {":one": {"N": "1"}, ":expected": {"N": str(parent.version)}}
        names_: dict[str, str] = {"#ended": "items_ended", "#version": VERSION}
        if failed:
            values[":failed"] = {"BOOL": True}
            names_["#failed"] = "items_failed"
        try:
            response = self._dynamodb().update_item(
                TableName=self.executions_table,
                Key=step_key(parent.execution_id, parent.key),
                UpdateExpression=update,
                ConditionExpression="#version = :expected",
                ExpressionAttributeNames=names_,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_conflict(exc):
                return None
            raise
        attributes = response.get("Attributes", {})
        return int(attributes["items_ended"]["N"]), bool(attributes.get("items_failed", {}).get("BOOL", False))

    def _read_step(self, execution_id: str, item: dict[str, Any], records: dict[str, StepRecord],
                   listed: list[str]) -> None:  # fmt: skip
        data = self.codec.data(item)
        if item[SK]["S"] == PENDING_STEPS_SORT_KEY:
            listed.extend(data["keys"])
        else:
            record = StepRecord.from_data(data)
            records[record.key] = record

    def commit(
        self,
        updates: Sequence[StepRecord],
        inserts: Sequence[StepRecord] = (),
        execution: ExecutionRecord | None = None,
    ) -> tuple[list[StepRecord], ExecutionRecord | None]:
        """Apply step updates, inserts and an execution update, all or nothing.

        One record is one ``PutItem`` (a claim or a completion: one write request); more
        are one ``TransactWriteItems`` (chunked past 100 items, see ``transactions``).
        """
        stored = [record.evolve(version=record.version + 1) for record in updates]
        inserted = [record.evolve(version=1) for record in inserts]
        new_execution = execution.evolve(version=execution.version + 1) if execution is not None else None
        writes = [self._step_write(new, expected=old.version) for new, old in zip(stored, updates, strict=True)]
        writes += [self._step_write(record, expected=None) for record in inserted]
        if execution is not None and new_execution is not None:
            writes.append(self._execution_write(new_execution, expected=execution.version))
        write_all(self._dynamodb(), writes)
        return [*stored, *inserted], new_execution

    def renew_lease(self, step: StepRecord, expires_at: datetime) -> bool:
        """Extend a running step's lease at its version (the version, the fence, stays)."""
        renewed = step.evolve(lease_expires_at=expires_at)
        write = self._step_write(renewed, expected=step.version)
        try:
            self._dynamodb().put_item(**write.request)
        except ClientError as exc:
            if is_conflict(exc):
                return False
            raise
        return True

    # -- admission ------------------------------------------------------------------------

    def take_slot(self, key: str, holder: str, limit: int) -> bool:
        """Join the holders of ``key`` if there is room: one conditional ``UpdateItem`` on the
        key's lock item (a string set of holders), so the count and the join are atomic."""
        try:
            self._dynamodb().update_item(
                TableName=self.executions_table,
                Key=_slot_key(key),
                UpdateExpression="ADD #holders :holder",
                ConditionExpression=_ROOM_FOR_HOLDER,
                ExpressionAttributeNames={"#holders": "holders"},
                ExpressionAttributeValues={
                    ":holder": {"SS": [holder]},
                    ":id": {"S": holder},
                    ":limit": {"N": str(limit)},
                },
            )
        except ClientError as exc:
            if is_conflict(exc):
                return False
            raise
        return True

    def release_slot(self, key: str, holder: str) -> None:
        """Leave the holders of ``key`` (``DELETE`` from the set; an empty set is removed)."""
        self._dynamodb().update_item(
            TableName=self.executions_table,
            Key=_slot_key(key),
            UpdateExpression="DELETE #holders :holder",
            ExpressionAttributeNames={"#holders": "holders"},
            ExpressionAttributeValues={":holder": {"SS": [holder]}},
        )

    def slot_holders(self, key: str) -> list[str]:
        """The holders of ``key`` (a consistent read)."""
        item = (
            self._dynamodb()
            .get_item(TableName=self.executions_table, Key=_slot_key(key), ConsistentRead=True)
            .get("Item", {})
        )
        return list(item.get("holders", {}).get("SS", []))

    # -- items ----------------------------------------------------------------------------

    def _step_write(self, record: StepRecord, *, expected: int | None) -> Write:
        key = step_key(record.execution_id, record.key)
        item = self.codec.item(key, record.to_data(), record.version, f"executions/{record.execution_id}/records")
        item["status"] = {"S": record.status}
        return self._write(item, expected, f"step {record.key} of {record.execution_id}")

    def _execution_write(self, record: ExecutionRecord, *, expected: int | None) -> Write:
        key = execution_key(record.execution_id)
        item = self.codec.item(key, record.to_data(), record.version, f"executions/{record.execution_id}/records")
        item["status"] = {"S": record.status}
        item[names.WORKFLOW_INDEX_PARTITION_KEY] = {"S": record.workflow}
        if record.started_at is not None:  # the index is sparse: no start time, not listed
            item[names.WORKFLOW_INDEX_SORT_KEY] = {"S": record.started_at.isoformat()}
        return self._write(item, expected, f"execution {record.execution_id}")

    def _write(self, item: dict[str, Any], expected: int | None, label: str) -> Write:
        request: dict[str, Any] = {"TableName": self.executions_table, "Item": item}
        if expected is None:
            request.update(_EXPECT_ABSENT)
            return Write(request, label, inserted=True)
        request.update(_EXPECT_FIRST_WRITE if expected == 1 and _is_step(item) else _EXPECT_VERSION)
        request["ExpressionAttributeValues"] = {":expected": {"N": str(expected)}}
        return Write(request, label, inserted=False)

    def _pages(self, operation: str, **request: Any) -> Iterator[dict[str, Any]]:
        paginator = self._dynamodb().get_paginator(operation)
        for page in paginator.paginate(**request):
            yield from page.get("Items", [])


def _plainly_pending(step: StepRecord) -> bool:
    """A step as the engine creates it: pending, nothing recorded yet, keyed by its id."""
    return step == StepRecord(step.execution_id, step.key, step.key)


def _is_step(item: Mapping[str, Any]) -> bool:
    return str(item[SK]["S"]).startswith(STEP_PREFIX)


def _with_listed(execution_id: str, records: dict[str, StepRecord], listed: list[str]) -> dict[str, StepRecord]:
    """Records read, with listed steps never written since reading as pending at version 1,
    and hand-offs applied."""
    for key in listed:
        if key not in records:
            records[key] = StepRecord(execution_id, key, key, version=1)
    return with_hand_offs(dict(sorted(records.items())))


def _started(execution: ExecutionRecord) -> str:
    return execution.started_at.isoformat() if execution.started_at else ""


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name, {}).get("S")
    return str(value) if value is not None else ""


def _slot_key(key: str) -> dict[str, Any]:
    """The lock item of a concurrency key: a partition of its own, never an execution's."""
    return {PK: {"S": f"{SLOT_PREFIX}{key}"}, SK: {"S": SLOT_SORT_KEY}}
