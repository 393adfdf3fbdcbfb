"""Approver λ: what a user asks of a running execution through the stack - answer an
approval (``baton approve --stack``), cancel it (``baton cancel --stack``) or resume it
(``baton resume --stack [--from STEP]``) - each recorded with the caller's verified identity
and handed back to the workers. Users need ``lambda:InvokeFunction`` on this function, not
write access to the tables."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel

from baton.adapters.aws.bootstrap import AwsBackend, backend_from_environ
from baton.adapters.aws.caller_proof import Caller, ProofChecker, fetch
from baton.adapters.aws.sqs_step_queue import StepMessage
from baton.engine.records import ExecutionRecord
from baton.errors import BatonError
from baton.handlers.observability import LambdaHandler, lambda_entry_point, logger, metrics


class Request(BaseModel):
    """The invocation's payload."""

    action: Literal["answer", "cancel", "resume"] = "answer"
    execution_id: str
    caller_token: str | None = None
    """A presigned ``sts:GetCallerIdentity`` URL (``baton.adapters.aws.caller_proof``)."""
    step: str | None = None
    approve: bool = True
    comment: str | None = None
    from_step: str | None = None
    inputs: dict[str, str] = {}


def proof_checker(backend: AwsBackend, get: Callable[[str, Mapping[str, str]], str] = fetch) -> ProofChecker:
    """The checker of caller tokens on ``backend``: STS itself, or the emulator the functions
    are pointed at (its endpoint is never set on AWS)."""
    trusted = [backend.clients.endpoint_url or "", os.environ.get("AWS_ENDPOINT_URL_STS", ""),
               os.environ.get("AWS_ENDPOINT_URL", "")]  # fmt: skip
    return ProofChecker(lambda: backend.clients("dynamodb"), backend.settings.executions_table,
                        now=backend.clock.now, trusted_endpoints=trusted, get=get)  # fmt: skip


class ApproverApp:
    """Acts on executions for verified callers, on one backend."""

    def __init__(self, backend: AwsBackend, *, get: Callable[[str, Mapping[str, str]], str] = fetch) -> None:
        self.backend = backend
        self.proofs = proof_checker(backend, get)

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Verify the caller, act, and wake a worker to carry on."""
        request = parse(event=event, model=Request)
        return self.act(request, None, context.aws_request_id)

    def act(self, request: Request, caller: Caller | None, request_id: str) -> dict[str, Any]:
        """Act for ``caller`` (verified by whoever passes it: the REST API's IAM authorizer)
        or, when None, for the caller the request's token proves."""
        logger.append_keys(execution_id=request.execution_id, step_id=request.step, action=request.action)
        outcome: dict[str, Any] = {"execution_id": request.execution_id, "step": request.step}
        try:
            caller = caller or self.proofs.verify(request.caller_token)
            execution = self._act(request, caller, request_id)
        except BatonError as exc:  # not waiting, unknown step, bad token: tell the caller
            metrics.add_metric(name="OperationRefused", unit=MetricUnit.Count, value=1)
            logger.warning(f"{request.action} refused", extra={"error": str(exc)})
            return {**outcome, "accepted": False, "error": str(exc)}
        self.backend.queue.dispatch([StepMessage(request.execution_id)])
        metric = (
            "ApprovalAnswered" if request.action == "answer" else f"Execution{request.action.capitalize()}Requested"
        )
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
        logger.info(f"{request.action} accepted", extra={"by": caller.arn, "approve": request.approve})
        return {**outcome, "accepted": True, "status": execution.status, "by": caller.arn}

    def _act(self, request: Request, caller: Caller, request_id: str) -> ExecutionRecord:
        engine = self.backend.engine(request_id)
        if request.action == "cancel":
            return engine.cancel(request.execution_id)
        if request.action == "resume":
            return engine.resume(request.execution_id, from_step=request.from_step, inputs=request.inputs,
                                 text_inputs=frozenset(request.inputs))  # fmt: skip
        if request.step is None:
            raise BatonError("an answer names the approval step")
        return engine.answer(request.execution_id, request.step, approve=request.approve,
                             comment=request.comment, by=caller.arn)  # fmt: skip


def make_handler(
    build: Callable[[], AwsBackend], *, get: Callable[[str, Mapping[str, str]], str] = fetch
) -> LambdaHandler:
    """The Lambda entry point over the backend ``build`` makes (on first use)."""
    return lambda_entry_point(lambda: ApproverApp(build(), get=get))


handler = make_handler(lambda: backend_from_environ(role="approver"))
