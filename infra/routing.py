"""EventBridge rules that feed the functions: definition uploads and start requests.

- ``DefinitionChanged`` (account default bus, where S3 publishes): ``Object Created`` and
  ``Object Deleted`` in the definitions bucket -> registrar.
- ``StartExecution`` (the Baton bus): ``Start Baton Execution`` -> starter.

Both patterns live in functions of their own so the tests can match them against the
sample events the handlers are tested with.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from baton import resource_names as names

DEFINITION_EVENT_TYPES = ("Object Created", "Object Deleted")
# EventBridge retries a failed delivery with back-off; an upload or a start request older
# than a day is more likely to surprise than to help.
_MAX_EVENT_AGE = Duration.hours(24)
_RETRY_ATTEMPTS = 8


def definition_changed_pattern(bucket_name: str) -> dict[str, Any]:
    """S3 events of one bucket that change which definitions exist."""
    return {
        "source": ["aws.s3"],
        "detail-type": list(DEFINITION_EVENT_TYPES),
        "detail": {"bucket": {"name": [bucket_name]}},
    }


def start_execution_pattern() -> dict[str, Any]:
    """Start requests: any source may ask (``baton start``, other services, other apps)."""
    return {"detail-type": [names.START_EXECUTION_DETAIL_TYPE]}


def _event_pattern(pattern: dict[str, Any]) -> events.EventPattern:
    return events.EventPattern(
        source=pattern.get("source"),
        detail_type=pattern.get("detail-type"),
        detail=pattern.get("detail"),
    )


class Routing(Construct):
    """The two rules, each with its target function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definitions_bucket: s3.IBucket,
        bus: events.IEventBus,
        registrar: lambda_.IFunction,
        starter: lambda_.IFunction,
        failed_invocations_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._failures = failed_invocations_queue
        self.definition_changed = events.Rule(
            self,
            "DefinitionChanged",
            description="Baton: workflow definitions uploaded or deleted -> registrar",
            event_pattern=_event_pattern(definition_changed_pattern(definitions_bucket.bucket_name)),
            targets=[self._target(registrar)],
        )
        self.start_execution = events.Rule(
            self,
            "StartExecution",
            description="Baton: Start Baton Execution -> starter",
            event_bus=bus,
            event_pattern=_event_pattern(start_execution_pattern()),
            targets=[self._target(starter)],
        )

    def _target(self, function: lambda_.IFunction) -> targets.LambdaFunction:
        # An event EventBridge cannot deliver within its retries goes to the failures queue.
        return targets.LambdaFunction(function, max_event_age=_MAX_EVENT_AGE, retry_attempts=_RETRY_ATTEMPTS,
                                      dead_letter_queue=self._failures)  # fmt: skip
