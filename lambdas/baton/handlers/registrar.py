"""Registrar λ: S3 ``Object Created`` / ``Object Deleted`` events (as EventBridge delivers
them) on the definitions bucket -> validate, register, (re)create or remove triggers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from botocore.exceptions import ClientError

from baton.adapters.aws.bootstrap import AwsBackend, backend_from_environ
from baton.adapters.aws.clients import error_code
from baton.adapters.aws.registration import Registrar, Registration, S3Object
from baton.adapters.aws.triggers import TriggerManager
from baton.handlers.observability import LambdaHandler, lambda_entry_point, logger, metrics


class RegistrarApp:
    """Registers definitions on one backend."""

    def __init__(self, backend: AwsBackend) -> None:
        self.backend = backend
        settings = backend.settings
        triggers = TriggerManager(
            lambda: backend.clients("events"),
            lambda: backend.clients("scheduler"),
            resource_prefix=settings.resource_prefix,
            starter_arn=settings.starter_function_arn,
            scheduler_role_arn=settings.scheduler_role_arn,
            schedule_group=settings.schedule_group,
            dead_letter_arn=settings.failed_invocations_queue_arn,
        )
        self.registrar = Registrar(lambda: backend.clients("s3"), backend.store, backend.registry,
                                   triggers, backend.publisher,
                                   secrets_prefix=settings.effective_secrets_prefix,
                                   worker_timeout_seconds=settings.worker_timeout_seconds,
                                   long_runner_available=settings.long_runner is not None)  # fmt: skip

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Handle one S3 event."""
        parsed = parse(event=event, model=S3EventNotificationEventBridgeModel)
        detail = parsed.detail
        obj = S3Object(detail.bucket.name, detail.object.key, detail.object.version_id, detail.object.sequencer or "")
        logger.append_keys(bucket=obj.bucket, key=obj.key, version_id=obj.version_id)
        if obj.bucket != self.backend.settings.definitions_bucket:
            result = Registration("ignored", errors=[f"{obj.bucket} is not the definitions bucket"])
        elif parsed.detail_type == "Object Created":
            result = self.registrar.object_created(obj)
        elif parsed.detail_type == "Object Deleted" and not self._still_there(obj):
            result = self.registrar.object_deleted(obj)
        else:
            result = Registration("ignored")
        self.backend.publisher.flush()
        self._report(result)
        return asdict(result)

    def _still_there(self, obj: S3Object) -> bool:
        """True when the object still has a current version (an old version was deleted)."""
        try:
            self.backend.clients("s3").head_object(Bucket=obj.bucket, Key=obj.key)
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound", "405", "MethodNotAllowed"):
                return False
            raise
        return True

    def _report(self, result: Registration) -> None:
        extra = {"status": result.status, "workflow": result.workflow, "digest": result.digest}
        if result.status == "rejected":
            metrics.add_metric(name="DefinitionRejected", unit=MetricUnit.Count, value=1)
            logger.warning("definition rejected:\n" + "\n".join(result.errors), extra=extra)
        else:
            metrics.add_metric(name=f"Definition{result.status.capitalize()}", unit=MetricUnit.Count, value=1)
            logger.info(f"definition {result.status}", extra=extra)


def make_handler(build: Callable[[], AwsBackend]) -> LambdaHandler:
    """The Lambda entry point over the backend ``build`` makes (on first use)."""
    return lambda_entry_point(lambda: RegistrarApp(build()))


handler = make_handler(lambda: backend_from_environ(role="registrar"))
