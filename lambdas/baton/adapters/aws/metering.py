"""``CallMeter``: counts AWS API calls by service and operation through botocore's event
hooks - the cost model of a run is these counts (and the DynamoDB write units they use).

Attach it to a boto3 session before clients are made from it; every client of that session
then reports each API call (with its parameters) as it is made. Transport-level retries of
one call are not counted separately: with standard retries they are rare.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
SQS_SENDS = frozenset({"SendMessage", "SendMessageBatch"})


@dataclass
class Usage:
    """Counts of one span of calls."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(service, operation) -> requests."""
    write_units: float = 0.0
    """DynamoDB write request units: 1 per KB per item, 2 per KB per item in a transaction."""
    read_units: float = 0.0
    """DynamoDB read request units: 1 per 4 KB read consistently (estimated from responses)."""
    sqs_messages: int = 0
    """Messages sent (a batch request counts each entry)."""
    events: int = 0
    """Entries put on an event bus."""

    def count(self, service: str, operations: frozenset[str] | None = None) -> int:
        """Requests to ``service`` (only ``operations``, if given)."""
        return sum(n for (s, op), n in self.calls.items() if s == service and (operations is None or op in operations))

    @property
    def dynamodb_writes(self) -> int:
        """DynamoDB write requests."""
        return self.count("dynamodb", DYNAMODB_WRITES)

    @property
    def dynamodb_reads(self) -> int:
        """DynamoDB read requests."""
        return self.count("dynamodb", DYNAMODB_READS)

    @property
    def sqs_sends(self) -> int:
        """SQS send requests."""
        return self.count("sqs", SQS_SENDS)

    def minus(self, earlier: Usage) -> Usage:
        """The calls made since ``earlier`` (a snapshot of the same meter)."""
        return Usage(
            self.calls - earlier.calls,
            self.write_units - earlier.write_units,
            self.read_units - earlier.read_units,
            self.sqs_messages - earlier.sqs_messages,
            self.events - earlier.events,
        )

    def by_operation(self) -> dict[str, int]:
        """``service:Operation`` -> requests, sorted by name."""
        return {f"{service}:{op}": n for (service, op), n in sorted(self.calls.items())}


class CallMeter:
    """Counts the calls of every client made from the sessions it is attached to."""

    def __init__(self) -> None:
        self._usage = Usage()
        self._lock = threading.Lock()

    def attach(self, session: Any) -> None:
        """Count calls of clients made from ``session`` (a boto3 ``Session``) from now on."""
        session.events.register("before-parameter-build", self._before_call)
        session.events.register("after-call.dynamodb", self._after_dynamodb_call)

    def snapshot(self) -> Usage:
        """A copy of the counts so far."""
        with self._lock:
            usage = self._usage
            return Usage(Counter(usage.calls), usage.write_units, usage.read_units, usage.sqs_messages, usage.events)

    def _before_call(self, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        service = model.service_model.endpoint_prefix
        operation = model.name
        with self._lock:
            usage = self._usage
            usage.calls[(service, operation)] += 1
            if service == "dynamodb" and operation in DYNAMODB_WRITES:
                usage.write_units += write_units(operation, params)
            elif operation == "SendMessageBatch":
                usage.sqs_messages += len(params.get("Entries", []))
            elif operation == "SendMessage":
                usage.sqs_messages += 1
            elif operation == "PutEvents":
                usage.events += len(params.get("Entries", []))

    def _after_dynamodb_call(self, model: Any, parsed: Mapping[str, Any], **_: Any) -> None:
        if model.name not in DYNAMODB_READS:
            return
        items = parsed.get("Items") or ([parsed["Item"]] if parsed.get("Item") else [])
        size = len(json.dumps(items, separators=(",", ":"), default=str).encode()) if items else 0
        with self._lock:
            self._usage.read_units += max(1, math.ceil(size / 4096))


def write_units(operation: str, body: Mapping[str, Any]) -> float:
    """DynamoDB write request units one request uses (item sizes as DynamoDB counts them)."""
    if operation == "TransactWriteItems":
        entries = [next(iter(entry.values())) for entry in body.get("TransactItems", [])]
        return sum(2 * _kilobytes(entry.get("Item", {})) for entry in entries)
    if operation == "BatchWriteItem":
        requests = [r for rs in body.get("RequestItems", {}).values() for r in rs]
        return sum(_kilobytes(r.get("PutRequest", {}).get("Item", {})) for r in requests)
    return _kilobytes(body.get("Item", {}))


def _kilobytes(item: Any) -> int:
    size = item_size(item) if isinstance(item, Mapping) else 0
    return max(1, math.ceil(size / 1024))


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB bills it: each attribute's name plus its value, strings and
    binaries at their byte length, numbers at about one byte per two digits plus one, lists
    and maps with three bytes of their own and one per element (the DynamoDB Developer
    Guide, "Item sizes and formats")."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Mapping[str, Any]) -> int:
    (kind, content), *_ = value.items()
    if kind == "S":
        return len(str(content).encode())
    if kind == "N":
        return len(str(content).lstrip("-").replace(".", "")) // 2 + 1
    if kind == "B":
        return len(content) if isinstance(content, bytes | bytearray) else len(str(content)) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: element}) for element in content)
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(element) for name, element in content.items())
    return len(json.dumps(content, default=str).encode())
