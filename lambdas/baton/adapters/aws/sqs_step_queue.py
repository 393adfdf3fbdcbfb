"""``SqsStepQueue``: the engine's ``StepQueue`` on AWS, handing units of work to other
worker invocations through the step queue.

A message names an execution and, usually, the unit to run. Work that is due now is sent
at once (``SendMessageBatch``: up to ten messages a request); work due within 15 minutes
is sent with ``DelaySeconds`` (retry backoff, short waits); work due later becomes an
EventBridge Scheduler one-shot schedule that sends the same message to the queue at that
time and then deletes itself (long waits, approval deadlines).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from baton import resource_names as names
from baton.adapters.aws.clients import error_code
from baton.errors import BatonError

MAX_DELAY_SECONDS = 900
"""SQS's longest message delay; later wake-ups go through EventBridge Scheduler."""
MAX_BATCH = 10
"""Messages per ``SendMessageBatch``."""


class DispatchError(BatonError):
    """The queue refused messages, or a wake-up beyond 15 minutes has nowhere to go."""


@dataclass(frozen=True, slots=True)
class StepMessage:
    """A message on the step queue: drive ``execution_id``, running ``unit`` if given.

    ``unit`` None asks the receiver to plan the execution and start whatever is ready (the
    starter's first message, and wake-ups of the execution as a whole).
    """

    execution_id: str
    unit: str | None = None

    def to_body(self) -> str:
        """The message body (JSON)."""
        body: dict[str, Any] = {"execution_id": self.execution_id}
        if self.unit is not None:
            body["unit"] = self.unit
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_body(cls, body: str) -> StepMessage:
        """Parse a message body; ``ValueError`` for anything that is not one of ours."""
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("execution_id"), str):
            raise ValueError(f"not a step message: {body[:200]!r}")
        unit = data.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise ValueError(f"not a step message (unit {unit!r}): {body[:200]!r}")
        return cls(data["execution_id"], unit)


class SqsStepQueue:
    """Sends step messages now, later (SQS delay), or much later (a one-shot schedule)."""

    shared = True
    """Other invocations receive what is sent; a driver never gets it back."""

    def __init__(
        self,
        sqs: Callable[[], Any],
        scheduler: Callable[[], Any],
        *,
        queue_url: str,
        queue_arn: str | None,
        resource_prefix: str,
        scheduler_role_arn: str | None,
        now: Callable[[], datetime],
        schedule_group: str | None = None,
    ) -> None:
        self._sqs = sqs
        self._scheduler = scheduler
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.resource_prefix = resource_prefix
        self.scheduler_role_arn = scheduler_role_arn
        self._now = now
        self.schedule_group = schedule_group

    # -- the StepQueue port ---------------------------------------------------------------

    def send(self, execution_id: str, units: Sequence[str], delay_seconds: int = 0) -> None:
        """One message per unit, due after ``delay_seconds``."""
        self.dispatch([StepMessage(execution_id, unit) for unit in units], delay_seconds)

    def send_at(self, execution_id: str, unit: str | None, when: datetime) -> None:
        """A message for ``unit`` (None: the execution as a whole) delivered at ``when``."""
        self.dispatch_at(StepMessage(execution_id, unit), when)

    def receive(self, execution_id: str, now: datetime, limit: int) -> list[str]:
        """Nothing comes back to the sender: Lambda's event source mapping delivers messages."""
        return []

    def keep_invisible(self, receipt_handle: str, seconds: int) -> bool:
        """Hide a received message for ``seconds`` more (from now): its receiver is alive.

        False when the queue no longer knows this receipt (it was deleted or received again
        elsewhere); the work goes on, its claims are what protect it.
        """
        try:
            self._sqs().change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=max(0, min(seconds, 43_200))
            )
        except ClientError as exc:
            if error_code(exc) in ("ReceiptHandleIsInvalid", "MessageNotInflight", "InvalidParameterValue"):
                return False
            raise
        return True

    # -- messages -------------------------------------------------------------------------

    def dispatch(self, messages: Sequence[StepMessage], delay_seconds: int = 0) -> None:
        """Send messages, due after ``delay_seconds`` (at most 900)."""
        delay = max(0, min(delay_seconds, MAX_DELAY_SECONDS))
        for start in range(0, len(messages), MAX_BATCH):
            self._send(messages[start : start + MAX_BATCH], delay)

    def dispatch_at(self, message: StepMessage, when: datetime) -> None:
        """Have ``message`` delivered at ``when`` (at once if it is past)."""
        seconds = (when - self._now()).total_seconds()
        if seconds <= MAX_DELAY_SECONDS:
            self.dispatch([message], delay_seconds=max(0, math.ceil(seconds)))
        else:
            self._schedule(message, when)

    def _send(self, batch: Sequence[StepMessage], delay: int) -> None:
        if len(batch) == 1:
            self._sqs().send_message(QueueUrl=self.queue_url, MessageBody=batch[0].to_body(), DelaySeconds=delay)
            return
        entries = [
            {"Id": str(index), "MessageBody": message.to_body(), "DelaySeconds": delay}
            for index, message in enumerate(batch)
        ]
        response = self._sqs().send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        failed = response.get("Failed", [])
        if failed:
            # Resend only what failed, once; a unit left without a message would stall.
            retry = [entries[int(f["Id"])] for f in failed]
            response = self._sqs().send_message_batch(QueueUrl=self.queue_url, Entries=retry)
            if response.get("Failed"):
                raise DispatchError(f"the step queue refused {len(response['Failed'])} messages: {response['Failed']}")

    def schedule_name(self, message: StepMessage, when: datetime) -> str:
        """A name unique to the message and time (so a repeated request is a no-op)."""
        token = hashlib.sha256(f"{message.to_body()}@{when.isoformat()}".encode()).hexdigest()[:12]
        name = f"{names.schedule_name_prefix(self.resource_prefix)}w-{message.execution_id}-{token}"
        return name[: names.MAX_SCHEDULE_NAME_LENGTH]

    def _schedule(self, message: StepMessage, when: datetime) -> None:
        if not self.queue_arn or not self.scheduler_role_arn:
            raise DispatchError(
                f"a wake-up at {when.isoformat()} is more than {MAX_DELAY_SECONDS}s away and needs "
                f"EventBridge Scheduler: set {names.ENV_STEP_QUEUE_ARN} and {names.ENV_SCHEDULER_ROLE_ARN}"
            )
        moment = when.astimezone(UTC).replace(microsecond=0, tzinfo=None)
        group = {"GroupName": self.schedule_group} if self.schedule_group else {}
        try:
            self._scheduler().create_schedule(
                **group,
                Name=self.schedule_name(message, when),
                ScheduleExpression=f"at({moment.isoformat()})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={"Arn": self.queue_arn, "RoleArn": self.scheduler_role_arn, "Input": message.to_body()},
            )
        except ClientError as exc:
            if error_code(exc) != "ConflictException":
                raise  # a conflict is the same wake-up scheduled before: nothing to do
