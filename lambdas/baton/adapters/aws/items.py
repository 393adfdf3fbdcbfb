"""DynamoDB items of the executions table, and the spill of large records to S3.

One table holds an execution and its records under one partition, so a single query reads
an execution whole::

    pk = EXEC#<execution id>   sk = EXECUTION      the execution record (GSI keys, TTL)
    pk = EXEC#<execution id>   sk = STEP#          the steps created pending with the execution
    pk = EXEC#<execution id>   sk = STEP#<key>     one step, item or compensation record

Steps created pending are not written one item each: the ``STEP#`` item lists their keys,
and a listed step without an item of its own reads as pending at version 1 until its first
write (which is conditional on that: no item yet, or version 1). Starting an execution is
then two items, whatever the number of steps.

A record is stored as JSON in ``data`` beside its ``version`` (the condition of every
write). A record whose JSON is larger than ``SPILL_BYTES`` goes to S3 under its SHA-256
and the item keeps ``spill`` (key, digest, size) instead, so no output size or ``for_each``
width runs into DynamoDB's 400 KB item limit.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from baton import resource_names as names
from baton.errors import BatonError

SPILL_BYTES = 256 * 1024
"""A record larger than this (as JSON) is kept in S3; the item stays far below 400 KB."""

EXECUTION_PREFIX = "EXEC#"
EXECUTION_SORT_KEY = "EXECUTION"
STEP_PREFIX = "STEP#"
PENDING_STEPS_SORT_KEY = STEP_PREFIX
"""The item listing the steps created pending; it sorts first among the step records."""
DEFINITION_PREFIX = "DIGEST#"
DEFINITION_SORT_KEY = "COMPILED"

PK, SK = names.PARTITION_KEY, names.SORT_KEY
VERSION = "version"
DATA = "data"
SPILL = "spill"


class CorruptRecordError(BatonError):
    """A spilled record's S3 object is missing or does not match its digest."""


def dumps(data: Mapping[str, Any]) -> str:
    """Compact JSON; ``default=str`` so an odd output value never makes a write fail."""
    return json.dumps(data, separators=(",", ":"), default=str)


def execution_key(execution_id: str) -> dict[str, Any]:
    """Primary key of an execution's item."""
    return {PK: {"S": EXECUTION_PREFIX + execution_id}, SK: {"S": EXECUTION_SORT_KEY}}


def step_key(execution_id: str, key: str) -> dict[str, Any]:
    """Primary key of one step record's item."""
    return {PK: {"S": EXECUTION_PREFIX + execution_id}, SK: {"S": STEP_PREFIX + key}}


def pending_steps_key(execution_id: str) -> dict[str, Any]:
    """Primary key of the item listing the steps an execution was created with."""
    return {PK: {"S": EXECUTION_PREFIX + execution_id}, SK: {"S": PENDING_STEPS_SORT_KEY}}


def definition_key(digest: str) -> dict[str, Any]:
    """Primary key of a compiled definition in the definitions table."""
    return {PK: {"S": DEFINITION_PREFIX + digest}, SK: {"S": DEFINITION_SORT_KEY}}


class ItemCodec:
    """Builds items from record data and reads data back from items, spilling to S3."""

    def __init__(
        self,
        s3: Callable[[], Any],
        bucket: str,
        *,
        retention_seconds: int | None = None,
        spill_bytes: int = SPILL_BYTES,
        epoch_seconds: Callable[[], float] = time.time,
    ) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.retention_seconds = retention_seconds
        self.spill_bytes = spill_bytes
        self._epoch_seconds = epoch_seconds

    def item(self, key: dict[str, Any], data: Mapping[str, Any], version: int, spill_prefix: str) -> dict[str, Any]:
        """An item holding ``data`` at ``version`` (spilled under ``spill_prefix`` if large)."""
        item = {**key, VERSION: {"N": str(version)}, **self.payload(data, spill_prefix)}
        if self.retention_seconds is not None:
            expires = int(self._epoch_seconds()) + self.retention_seconds
            item[names.EXECUTIONS_TTL_ATTRIBUTE] = {"N": str(expires)}
        return item

    def payload(self, data: Mapping[str, Any], spill_prefix: str) -> dict[str, Any]:
        """``{data: ...}`` inline, or ``{spill: ...}`` after writing the JSON to S3."""
        text = dumps(data)
        encoded = text.encode()
        if len(encoded) <= self.spill_bytes:
            return {DATA: {"S": text}}
        digest = hashlib.sha256(encoded).hexdigest()
        object_key = f"{spill_prefix}/{digest}.json"
        self._s3().put_object(Bucket=self.bucket, Key=object_key, Body=encoded, ContentType="application/json")
        spill = {"key": {"S": object_key}, "sha256": {"S": digest}, "size": {"N": str(len(encoded))}}
        return {SPILL: {"M": spill}}

    def data(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The record data an item holds, fetched from S3 when it was spilled."""
        if DATA in item:
            loaded: dict[str, Any] = json.loads(item[DATA]["S"])
            return loaded
        spill = item[SPILL]["M"]
        object_key, digest = spill["key"]["S"], spill["sha256"]["S"]
        try:
            body = self._s3().get_object(Bucket=self.bucket, Key=object_key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise CorruptRecordError(f"spilled record s3://{self.bucket}/{object_key} cannot be read: {exc}") from exc
        if hashlib.sha256(body).hexdigest() != digest:
            raise CorruptRecordError(f"spilled record s3://{self.bucket}/{object_key} does not match its digest")
        spilled: dict[str, Any] = json.loads(body)
        return spilled


def version_of(item: Mapping[str, Any]) -> int:
    """The ``version`` attribute of an item."""
    return int(item[VERSION]["N"])
