"""API λ: the REST API of a stack (API Gateway, IAM authorization, Lambda proxy integration).

Routes: start an execution, list and get executions, read logs, answer an approval, cancel.
API Gateway checks the SigV4 signature before the function runs; the function still
refuses a request that carries no IAM caller (403), so a misconfigured method can never
run unauthenticated. Bodies are validated by their pydantic models: a bad body is a 400
naming the field. The OpenAPI document is generated from these routes
(``python -m baton.handlers.api`` prints it; ``docs/api/openapi.json`` is the copy).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from baton import __version__
from baton.adapters.aws.bootstrap import AwsBackend, backend_from_environ
from baton.adapters.aws.caller_proof import Caller, CallerProofError, fetch
from baton.adapters.aws.sqs_step_queue import StepMessage
from baton.engine.views import iso
from baton.errors import BatonError, ExecutionNotFoundError
from baton.handlers.approver import ApproverApp, Request, proof_checker
from baton.handlers.observability import LambdaHandler, lambda_entry_point, logger, metrics
from baton.handlers.starter import StarterApp, WorkspaceArchive

MAX_LIST = 200


class StartBody(BaseModel):
    """``POST /executions``."""

    workflow: str = Field(
        min_length=1, description="A registered workflow's name, optionally pinned: NAME@VERSION or NAME@sha256:DIGEST."
    )
    inputs: dict[str, Any] = Field(default_factory=dict, description="The workflow's inputs.")
    request_id: str | None = Field(default=None, min_length=1, description="Start once per token.")
    workspace: WorkspaceArchive | None = Field(
        default=None, description="The starting files: a packed folder stored in the artifacts bucket."
    )


class AnswerBody(BaseModel):
    """``POST /executions/{id}/approvals/{step}``."""

    approve: bool = Field(description="True approves, false rejects.")
    comment: str | None = Field(default=None, max_length=2000)


class ApiError(BatonError):
    """A request the API refuses, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _json(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


CALLER_PROOF_HEADER = "x-baton-caller-proof"


class Callers:
    """Who sends the request being answered, found before anything else looks at it: a
    request with no caller is refused (403) before its body is even read."""

    def __init__(self, backend: Callable[[], AwsBackend], get: Callable[[str, Mapping[str, str]], str]) -> None:
        self.backend = backend
        self.get = get
        self.current: str | None = None

    def identify(self, event: Mapping[str, Any]) -> str:
        """The IAM caller API Gateway verified; else (an emulator without IAM authorization)
        the caller a one-time ``sts:GetCallerIdentity`` proof in ``x-baton-caller-proof``
        shows, as ``baton ... --stack`` sends to the approver."""
        from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

        request = APIGatewayProxyEvent(dict(event))
        identity = request.request_context.identity
        principal = identity.user_arn or identity.caller
        if principal:
            return str(principal)
        proof = request.get_header_value(CALLER_PROOF_HEADER, case_sensitive=False)
        if not proof:
            raise ApiError(403, "the request is not signed with AWS credentials (SigV4) or its caller is unknown")
        try:
            return proof_checker(self.backend(), self.get).verify(proof).arn
        except CallerProofError as exc:
            raise ApiError(403, str(exc)) from exc

    def __call__(self) -> str:
        """The current request's caller (``identify`` ran first)."""
        if self.current is None:
            raise ApiError(403, "the request's caller is unknown")
        return self.current


def build_resolver(
    backend: Callable[[], AwsBackend], get: Callable[[str, Mapping[str, str]], str] = fetch
) -> tuple[APIGatewayRestResolver, Callers]:
    """The routes over the backend ``backend`` gives (built on first use), and who calls them."""
    app = APIGatewayRestResolver(enable_validation=True)
    caller = Callers(backend, get)

    @app.post("/executions", summary="Start an execution", tags=["executions"])
    def start(body: StartBody) -> Response[str]:
        by = caller()
        request: dict[str, Any] = {"workflow": body.workflow, "inputs": body.inputs, "request_id": body.request_id}
        if body.workspace is not None:
            request["workspace"] = body.workspace.model_dump(by_alias=True)
        result = StarterApp(backend()).handle(request, app.lambda_context)
        if result.get("status") == "rejected":
            return _json(400, {"message": result["error"], "workflow": body.workflow})
        logger.info("started through the API", extra={"by": by, **result})
        return _json(202, result)

    @app.get("/executions", summary="List executions, newest first", tags=["executions"])
    def list_executions(
        workflow: Annotated[str | None, Query(description="Only this workflow.")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 50,
    ) -> Response[str]:
        caller()
        store = backend().store
        found = store.list_workflow_executions(workflow, limit) if workflow else store.list_executions(limit)
        rows = [{"execution_id": e.execution_id, "workflow": e.workflow, "status": e.status,
                 "started_at": iso(e.started_at), "finished_at": iso(e.finished_at)} for e in found]  # fmt: skip
        return _json(200, {"executions": rows})

    @app.get("/executions/<execution_id>", summary="An execution and its steps", tags=["executions"])
    def get_execution(execution_id: str) -> Response[str]:
        caller()
        return _json(200, backend().engine("api").document(execution_id))

    @app.get("/executions/<execution_id>/logs", summary="Logs of each step attempt", tags=["executions"])
    def logs(execution_id: str, step: Annotated[str | None, Query()] = None) -> Response[str]:
        caller()
        entries = backend().engine("api").logs(execution_id, step)
        return _json(200, {"logs": [{"step": e.step_key, "attempt": e.attempt, "stream": e.stream, "text": e.text}
                                    for e in entries]})  # fmt: skip

    @app.post("/executions/<execution_id>/approvals/<step>", summary="Answer an approval", tags=["approvals"])
    def answer(execution_id: str, step: str, body: AnswerBody) -> Response[str]:
        answer = Request(execution_id=execution_id, step=step, approve=body.approve, comment=body.comment)
        # The caller was verified by API Gateway's IAM authorization; its ARN answers.
        who = Caller(arn=caller(), token_id=app.current_event.request_context.request_id or "api")
        result = ApproverApp(backend()).act(answer, who, app.lambda_context.aws_request_id)
        return _json(200 if result["accepted"] else 409, result)

    @app.post("/executions/<execution_id>/cancel", summary="Cancel an execution", tags=["executions"])
    def cancel(execution_id: str) -> Response[str]:
        by = caller()
        current = backend()
        execution = current.engine("api").cancel(execution_id)
        current.queue.dispatch([StepMessage(execution_id)])
        metrics.add_metric(name="CancelRequested", unit=MetricUnit.Count, value=1)
        logger.info("cancel requested", extra={"by": by, "execution_id": execution_id})
        return _json(202, {"execution_id": execution_id, "status": execution.status, "cancel_requested": True})

    def invalid(error: RequestValidationError) -> Response[str]:
        problems = [{"field": _field(item), "message": item["msg"]} for item in error.errors()]
        fields = ", ".join(p["field"] for p in problems)
        return _json(400, {"message": f"invalid request: {fields}", "errors": problems})

    def refused(error: ApiError) -> Response[str]:
        return _json(error.status, {"message": str(error)})

    def not_found(error: ExecutionNotFoundError) -> Response[str]:
        return _json(404, {"message": str(error)})

    def refused_by_baton(error: BatonError) -> Response[str]:
        return _json(409, {"message": str(error)})

    app.exception_handler(RequestValidationError)(invalid)
    app.exception_handler(ApiError)(refused)
    app.exception_handler(ExecutionNotFoundError)(not_found)
    app.exception_handler(BatonError)(refused_by_baton)
    return app, caller


def _field(problem: dict[str, Any]) -> str:
    """``inputs`` for an error at ("body", "inputs"); ``body`` when the body itself is bad
    (not JSON: its location is a character position)."""
    names = [str(part) for part in problem["loc"][1:] if isinstance(part, str)]
    if problem["loc"][:1] == ("query",):
        return "query " + ".".join(names)
    return ".".join(names) or "body"


class ApiApp:
    """The resolver over one backend (made on the first request)."""

    def __init__(self, build: Callable[[], AwsBackend], get: Callable[[str, Mapping[str, str]], str] = fetch) -> None:
        self._build = build
        self._backend: AwsBackend | None = None
        self.resolver, self.callers = build_resolver(self.backend, get)

    def backend(self) -> AwsBackend:
        """The backend, built once."""
        if self._backend is None:
            self._backend = self._build()
        return self._backend

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Answer one API Gateway proxy request: its caller first, then its route and body."""
        try:
            self.callers.current = self.callers.identify(event)
        except ApiError as exc:
            return {"statusCode": exc.status, "headers": {"Content-Type": content_types.APPLICATION_JSON},
                    "body": json.dumps({"message": str(exc)}), "isBase64Encoded": False}  # fmt: skip
        try:
            response: dict[str, Any] = self.resolver.resolve(event, context)
        finally:
            self.callers.current = None
        return response


def openapi_document() -> str:
    """The OpenAPI document of the routes (no backend is built)."""
    resolver, _ = build_resolver(lambda: (_ for _ in ()).throw(RuntimeError("no backend")))
    return resolver.get_openapi_json_schema(
        title="Baton REST API",
        version=__version__,
        description="Start and inspect executions of a Baton stack. Every route needs SigV4-signed requests "
        "(IAM authorization); bodies are JSON.",
    )


def make_handler(
    build: Callable[[], AwsBackend], *, get: Callable[[str, Mapping[str, str]], str] = fetch
) -> LambdaHandler:
    """The Lambda entry point over the backend ``build`` makes (on first use); ``get``
    fetches a caller proof's STS answer."""
    return lambda_entry_point(lambda: ApiApp(build, get))


handler = make_handler(backend_from_environ)  # it starts, answers and cancels: every setting

if __name__ == "__main__":
    sys.stdout.write(openapi_document() + "\n")
