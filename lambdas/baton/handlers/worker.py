"""Worker λ: SQS batches of step messages, each turned into a run of the engine's driver.

A message that fails is reported as a batch item failure and comes back after the visibility
timeout; on its last delivery the execution is marked failed with the reason before the
message goes to the dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from baton import resource_names as names
from baton.adapters.aws.bootstrap import AwsBackend, backend_from_environ
from baton.adapters.aws.poison import fail_execution
from baton.adapters.aws.sqs_step_queue import StepMessage
from baton.adapters.aws.step_messages import Delivery, StepMessageHandler
from baton.adapters.aws.workspaces import WorkspaceError, WorkspaceSeeds
from baton.handlers.observability import LambdaHandler, PowertoolsHooks, lambda_entry_point, logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class Worker:
    """Runs step messages on one backend."""

    def __init__(self, backend: AwsBackend) -> None:
        self.backend = backend
        self.hooks = PowertoolsHooks()

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Handle a batch; return the failed message ids."""
        # Imported here: the batch utilities pull in asyncio (~60 ms), which the module's
        # import (the cold-start figure) need not pay before the first batch arrives.
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

        backend = self.backend
        messages = StepMessageHandler(
            backend.engine(context.aws_request_id),
            backend.store,
            backend.queue,
            backend.publisher,
            remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000,
            workspace_root=backend.workspace_root,
            hooks=self.hooks,
            steps=self.hooks,
            recheck_seconds=backend.recheck_seconds,
            most_seconds=float(backend.settings.worker_timeout_seconds),
            seeds=WorkspaceSeeds(backend.artifacts),
        )
        metrics.add_metric(name="StepMessages", unit=MetricUnit.Count, value=len(event.get("Records", [])))
        processor = BatchProcessor(event_type=EventType.SQS)
        response = process_partial_response(
            event=event,
            record_handler=lambda record: self._handle(messages, record),
            processor=processor,
            context=context,
        )
        return dict(response)

    def _handle(self, messages: StepMessageHandler, record: SQSRecord) -> None:
        message = StepMessage.from_body(record.body)
        receive_count = int(record.attributes.approximate_receive_count)
        final = receive_count >= names.STEP_QUEUE_MAX_RECEIVE_COUNT
        delivery = Delivery(message, receive_count, final=final, receipt_handle=record.receipt_handle)
        visibility = messages.visibility_of(delivery)
        logger.append_keys(execution_id=message.execution_id, step_id=message.unit)
        try:
            result = messages.handle(delivery, visibility)
        except WorkspaceError as exc:  # no sandbox can run its steps: the execution fails now
            logger.error("execution's workspace unusable", extra={"reason": str(exc)})
            self._fail(message, str(exc))
        except Exception as exc:  # a handler is where unexpected failures are caught
            metrics.add_metric(name="WorkerErrors", unit=MetricUnit.Count, value=1)
            logger.exception("step message failed", extra={"receive_count": receive_count})
            if visibility is not None and not delivery.final:
                visibility.back_off(receive_count)
            if delivery.final:
                self._fail(message, f"the worker failed {receive_count} times on this message: {exc!r}")
            raise
        else:
            # Logged before ``finally`` drops the keys: this line belongs to the message's step.
            handled = {"ran": result.ran, "sent": result.sent, "status": result.execution.status, "note": result.note}
            logger.info("step message handled", extra=handled)
        finally:
            logger.remove_keys(["execution_id", "step_id"])

    def _fail(self, message: StepMessage, reason: str) -> None:
        ended = fail_execution(self.backend.store, self.backend.publisher, message.execution_id,
                               unit=message.unit, reason=reason, now=self.backend.clock.now(),
                               queue=self.backend.queue)  # fmt: skip
        if ended is not None:
            self.hooks.execution_ended(ended)


def make_handler(build: Callable[[], AwsBackend]) -> LambdaHandler:
    """The Lambda entry point over the backend ``build`` makes (on first use)."""
    return lambda_entry_point(lambda: Worker(build()))


handler = make_handler(lambda: backend_from_environ(role="worker"))
