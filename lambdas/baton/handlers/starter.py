"""Starter λ: a start request of any shape -> one execution, exactly once per source event.

Shapes: the ``Start Baton Execution`` event on the Baton bus, a trigger rule's envelope
(an event or an S3 object matched a workflow's trigger), a schedule's envelope, and a
direct invocation (``baton start --stack``). Idempotency (Powertools, DynamoDB-backed) is
keyed on the source event, so a redelivered event returns the first answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field

from baton import resource_names as names
from baton.adapters.aws.bootstrap import AwsBackend, backend_from_environ
from baton.adapters.aws.starting import Starter, StartRequest
from baton.adapters.aws.triggers import TRIGGER_KEY
from baton.errors import BatonError
from baton.handlers.observability import LambdaHandler, lambda_entry_point, logger, metrics


class WorkspaceArchive(BaseModel):
    """A blob of the artifact bucket holding a packed folder (``baton start --workspace``)."""

    model_config = ConfigDict(populate_by_name=True)

    sha256: str = Field(alias="$artifact", pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class StartDetail(BaseModel):
    """``detail`` of a ``Start Baton Execution`` event, and a direct invocation."""

    workflow: str
    inputs: dict[str, Any] = {}
    request_id: str | None = None
    """A caller's token: the same token starts one execution however often it is sent."""
    env: dict[str, str] = {}
    """The start environment: what ``env.NAME`` reads (under the workflow's ``env:``)."""
    workspace: WorkspaceArchive | None = None
    """The execution's starting files: a packed folder stored in the artifact bucket."""


class StartEvent(EventBridgeModel):
    """The ``Start Baton Execution`` event."""

    detail: StartDetail


class TriggerRef(BaseModel):
    """Which workflow and trigger a rule or schedule stands for."""

    workflow: str
    trigger: int
    kind: str


class TriggerEnvelope(BaseModel):
    """What a trigger rule (``event``) or schedule (``schedule_arn``...) sends."""

    baton_trigger: TriggerRef = Field(alias=TRIGGER_KEY)
    event: EventBridgeModel | None = None
    schedule_arn: str | None = None
    scheduled_time: str | None = None


def start_request(event: dict[str, Any]) -> tuple[StartRequest, str | None]:
    """The request an event carries and its idempotency key (None: not deduplicated)."""
    trigger: dict[str, Any]
    key: str | None
    if TRIGGER_KEY in event:
        envelope = parse(event=event, model=TriggerEnvelope)
        ref = envelope.baton_trigger
        if envelope.event is not None:
            trigger = event["event"]
            key = f"trigger:{ref.workflow}:{ref.trigger}:{envelope.event.id}"
        else:
            trigger = {"source": "schedule", "schedule_arn": envelope.schedule_arn,
                       "scheduled_time": envelope.scheduled_time}  # fmt: skip
            key = f"schedule:{envelope.schedule_arn}@{envelope.scheduled_time}"
        return StartRequest(ref.workflow, {}, trigger, trigger_index=ref.trigger), key
    if event.get("detail-type") == names.START_EXECUTION_DETAIL_TYPE:
        parsed = parse(event=event, model=StartEvent)
        detail = parsed.detail
        return StartRequest(detail.workflow, detail.inputs, event, env=detail.env,
                            workspace=_archive(detail.workspace)), f"event:{parsed.id}"  # fmt: skip
    direct = parse(event=event, model=StartDetail)
    key = f"direct:{direct.workflow}:{direct.request_id}" if direct.request_id else None
    trigger = {"source": "direct", "request_id": direct.request_id}
    workspace = _archive(direct.workspace)
    return StartRequest(direct.workflow, direct.inputs, trigger, env=direct.env, workspace=workspace), key


def _archive(archive: WorkspaceArchive | None) -> dict[str, Any] | None:
    return None if archive is None else archive.model_dump(by_alias=True)


class StarterApp:
    """Starts executions on one backend, once per idempotency key."""

    def __init__(self, backend: AwsBackend) -> None:
        self.backend = backend
        self.idempotency = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=24 * 3600)
        store = DynamoDBPersistenceLayer(
            table_name=backend.settings.idempotency_table,
            key_attr=names.IDEMPOTENCY_KEY,
            expiry_attr=names.IDEMPOTENCY_TTL_ATTRIBUTE,
            boto3_client=backend.clients("dynamodb"),
        )
        self._start_once = idempotent_function(
            data_keyword_argument="request", persistence_store=store, config=self.idempotency
        )(self._start)

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Start what ``event`` asks for."""
        request, key = start_request(event)
        logger.append_keys(workflow=request.workflow)
        metrics.add_metric(name="StartRequests", unit=MetricUnit.Count, value=1)  # replays included
        payload = {"key": key, **asdict(request)}
        if key is None:
            return self._start(request=payload, context=context)
        self.idempotency.register_lambda_context(context)
        result: dict[str, Any] = self._start_once(request=payload, context=context)
        return result

    def _start(self, *, request: dict[str, Any], context: Any) -> dict[str, Any]:
        backend = self.backend
        start = StartRequest(
            request["workflow"],
            request["inputs"],
            request["trigger"],
            request["trigger_index"],
            request.get("env") or {},
            request.get("workspace"),
        )
        starter = Starter(backend.engine(context.aws_request_id), backend.registry, backend.queue,
                          backend.publisher,
                          workspace=backend.workspace_root / "start")  # fmt: skip
        try:
            result = starter.start(start)
        except BatonError as exc:  # bad inputs, unknown workflow: answer, do not retry
            metrics.add_metric(name="StartRejected", unit=MetricUnit.Count, value=1)
            logger.warning("start rejected", extra={"error": str(exc)})
            return {"execution_id": None, "workflow": start.workflow, "status": "rejected",
                    "error": str(exc)}  # fmt: skip
        if result.get("execution_id"):
            logger.append_keys(execution_id=result["execution_id"])
            metrics.add_metric(name="ExecutionStarted", unit=MetricUnit.Count, value=1)
        else:
            metrics.add_metric(name="StartSkipped", unit=MetricUnit.Count, value=1)
        logger.info("start request handled", extra=result)
        return result


def make_handler(build: Callable[[], AwsBackend]) -> LambdaHandler:
    """The Lambda entry point over the backend ``build`` makes (on first use)."""
    return lambda_entry_point(lambda: StarterApp(build()))


handler = make_handler(lambda: backend_from_environ(role="starter"))
