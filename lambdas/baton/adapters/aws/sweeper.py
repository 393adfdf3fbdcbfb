"""``Sweeper``: finds stalled executions and sends each a message, so a worker drives it.

Runs on a schedule (every few minutes). It reads the running executions from the
workflow index (a filtered scan of execution items only), loads each (one query) and asks
the engine's ``stall_reason``. A message to an execution that was moving after all costs a
read: every claim is conditional.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from baton import resource_names as names
from baton.adapters.aws.dynamodb_state import DynamoDBStateStore
from baton.adapters.aws.items import EXECUTION_PREFIX, PK
from baton.adapters.aws.sqs_step_queue import SqsStepQueue, StepMessage
from baton.engine.definition import Definition
from baton.engine.stall import QUIET_SECONDS, stall_reason
from baton.errors import ExecutionNotFoundError


@dataclass
class SweepResult:
    """What one sweep looked at and restarted."""

    looked_at: int = 0
    restarted: dict[str, str] = field(default_factory=dict)
    """Execution id -> why it was restarted."""


class Sweeper:
    """Restarts stalled executions of one stack."""

    def __init__(
        self,
        store: DynamoDBStateStore,
        queue: SqsStepQueue,
        *,
        now: Callable[[], datetime],
        quiet_seconds: float = QUIET_SECONDS,
    ) -> None:
        self.store = store
        self.queue = queue
        self.now = now
        self.quiet_seconds = quiet_seconds

    def sweep(self, limit: int = 1000) -> SweepResult:
        """Look at up to ``limit`` running executions; send a message to each stalled one."""
        result = SweepResult()
        for execution_id in self._running(limit):
            result.looked_at += 1
            try:
                execution, records = self.store.load(execution_id)
            except ExecutionNotFoundError:
                continue
            data = self.store.get_definition(execution.definition_digest)
            if data is None:
                continue
            reason = stall_reason(Definition.from_data(data), execution, records, self.now(),
                                  quiet_seconds=self.quiet_seconds)  # fmt: skip
            if reason is not None:
                self.queue.dispatch([StepMessage(execution_id)])
                result.restarted[execution_id] = reason
        return result

    def _running(self, limit: int) -> Iterator[str]:
        paginator = self.store.client.get_paginator("scan")
        pages = paginator.paginate(
            TableName=self.store.executions_table,
            IndexName=names.WORKFLOW_INDEX_NAME,
            FilterExpression="#status = :running",
            ExpressionAttributeNames={"#status": "status", "#pk": PK},
            ExpressionAttributeValues={":running": {"S": "running"}},
            ProjectionExpression="#pk",
        )
        count = 0
        for page in pages:
            for item in page.get("Items", []):
                yield _execution_id(item)
                count += 1
                if count >= limit:
                    return


def _execution_id(item: dict[str, Any]) -> str:
    return str(item[PK]["S"]).removeprefix(EXECUTION_PREFIX)
