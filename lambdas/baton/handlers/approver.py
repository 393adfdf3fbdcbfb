"""Approver λ: an answer to a waiting approval step (``baton approve --stack``) -> recorded,
and the execution handed back to the workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel

from baton.adapters.aws.bootstrap import AwsBackend, backend_from_environ
from baton.adapters.aws.sqs_step_queue import StepMessage
from baton.errors import BatonError
from baton.handlers.observability import LambdaHandler, lambda_entry_point, logger, metrics


class Answer(BaseModel):
    """The invocation's payload."""

    execution_id: str
    step: str
    approve: bool = True
    comment: str | None = None
    by: str = "unknown"


class ApproverApp:
    """Answers approvals on one backend."""

    def __init__(self, backend: AwsBackend) -> None:
        self.backend = backend

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Record the answer; the execution continues in a worker."""
        answer = parse(event=event, model=Answer)
        logger.append_keys(execution_id=answer.execution_id, step_id=answer.step)
        engine = self.backend.engine(context.aws_request_id)
        try:
            execution = engine.answer(answer.execution_id, answer.step, approve=answer.approve,
                                      comment=answer.comment, by=answer.by)  # fmt: skip
        except BatonError as exc:  # not waiting, unknown step: tell the caller
            metrics.add_metric(name="ApprovalRefused", unit=MetricUnit.Count, value=1)
            logger.warning("answer refused", extra={"error": str(exc)})
            return {"execution_id": answer.execution_id, "step": answer.step, "accepted": False, "error": str(exc)}
        self.backend.queue.dispatch([StepMessage(answer.execution_id)])
        metrics.add_metric(name="ApprovalAnswered", unit=MetricUnit.Count, value=1)
        logger.info("approval answered", extra={"approve": answer.approve, "by": answer.by})
        return {"execution_id": answer.execution_id, "step": answer.step, "accepted": True, "status": execution.status}


def make_handler(build: Callable[[], AwsBackend]) -> LambdaHandler:
    """The Lambda entry point over the backend ``build`` makes (on first use)."""
    return lambda_entry_point(lambda: ApproverApp(build()))


handler = make_handler(lambda: backend_from_environ(role="approver"))
