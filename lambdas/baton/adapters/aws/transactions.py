"""Conditional writes of several items: one ``TransactWriteItems`` when they fit, chunks when not.

DynamoDB takes at most 100 items (and 4 MB) in one transaction. A commit that is larger -
the expansion of a ``for_each`` over hundreds of items - is written in chunks: inserts
first, the conditional updates last (they decide whether the commit won). If a later chunk
loses its race, the inserts already written are deleted again, so a loser leaves nothing
behind; a crash between chunks can leave pending inserts, which the next expansion of the
same step finds and reuses. Only a commit of more than ~100 updates (a resume of a very
wide step) is not atomic.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from baton.adapters.aws.clients import conflict, error_code, is_conflict
from baton.adapters.aws.items import DATA, PK, SK, SPILL, VERSION, dumps

MAX_TRANSACTION_ITEMS = 100
MAX_TRANSACTION_BYTES = 3_500_000
"""Below the 4 MB request limit, leaving room for names and expressions."""


@dataclass(frozen=True, slots=True)
class Write:
    """One conditional ``PutItem`` request; ``inserted`` when its condition is absence."""

    request: dict[str, Any]
    label: str
    inserted: bool

    @property
    def size(self) -> int:
        """Approximate bytes of the item, for chunking."""
        return len(dumps(self.request["Item"]))


def write_all(dynamodb: Any, writes: Sequence[Write]) -> None:
    """Apply every write or none; ``StateConflictError`` if a condition does not hold."""
    if not writes:
        return
    if len(writes) == 1:
        _put(dynamodb, writes[0])
        return
    ordered = [w for w in writes if w.inserted] + [w for w in writes if not w.inserted]
    applied: list[Write] = []
    for chunk in _chunks(ordered):
        try:
            _transact(dynamodb, chunk)
        except BaseException:
            _undo_inserts(dynamodb, applied)
            raise
        applied.extend(chunk)


def _put(dynamodb: Any, write: Write) -> None:
    try:
        dynamodb.put_item(**write.request, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as exc:
        if not is_conflict(exc):
            raise
        if _already_written(write, exc.response.get("Item")):
            return  # our own write, applied before a retried request lost its answer
        raise conflict(f"{write.label} changed since it was read", exc) from exc


def _already_written(write: Write, current: dict[str, Any] | None) -> bool:
    """True when the stored item is exactly what ``write`` puts (same version and data).

    botocore retries a request whose answer was lost; if the first attempt was applied,
    the retry fails its condition against our own write, which is a success, not a race.
    """
    if not current:
        return False
    item = write.request["Item"]
    return all(current.get(name) == item.get(name) for name in (VERSION, DATA, SPILL))


def _transact(dynamodb: Any, chunk: Sequence[Write]) -> None:
    # The token makes botocore's retries of this call idempotent for ten minutes.
    token = str(uuid.uuid4())
    try:
        dynamodb.transact_write_items(TransactItems=[{"Put": w.request} for w in chunk], ClientRequestToken=token)
    except ClientError as exc:
        if not is_conflict(exc):
            raise
        raise conflict(_which_lost(chunk, exc), exc) from exc


def _which_lost(chunk: Sequence[Write], error: ClientError) -> str:
    reasons = error.response.get("CancellationReasons", [])
    lost = [w.label for w, r in zip(chunk, reasons, strict=False) if r.get("Code") not in (None, "None")]
    if error_code(error) == "TransactionCanceledException" and lost:
        return f"{', '.join(lost)}: changed or exists since it was read"
    return "a record changed since it was read"


def _chunks(writes: Sequence[Write]) -> list[list[Write]]:
    chunks: list[list[Write]] = [[]]
    size = 0
    for write in writes:
        if len(chunks[-1]) == MAX_TRANSACTION_ITEMS or (chunks[-1] and size + write.size > MAX_TRANSACTION_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(write)
        size += write.size
    return chunks


def _undo_inserts(dynamodb: Any, applied: Sequence[Write]) -> None:
    """Delete the inserts of earlier chunks of a commit that lost (best effort)."""
    for write in applied:
        if not write.inserted:
            continue
        item = write.request["Item"]
        with contextlib.suppress(ClientError):
            dynamodb.delete_item(
                TableName=write.request["TableName"],
                Key={PK: item[PK], SK: item[SK]},
                ConditionExpression="#version = :inserted",
                ExpressionAttributeNames={"#version": VERSION},
                ExpressionAttributeValues={":inserted": item[VERSION]},
            )
