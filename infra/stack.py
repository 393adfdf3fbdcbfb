"""``BatonStack``: the constructs of one Baton deployment, composed."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from baton import resource_names as names
from infra.config import BatonStackProps
from infra.events import Events
from infra.nag import acknowledge_findings
from infra.queueing import Queueing
from infra.state import State
from infra.storage import Storage


class BatonStack(Stack):
    """Buckets, tables, the step queue and the event bus of one Baton deployment.

    Functions added later take ``function_environment`` as their environment, so the
    runtime finds every resource through the names in ``baton.resource_names``.
    """

    def __init__(self, scope: Construct, props: BatonStackProps) -> None:
        super().__init__(
            scope,
            props.stack_name,
            stack_name=props.stack_name,
            description="Baton: YAML workflows on AWS serverless",
        )
        self.props = props
        self.storage = Storage(
            self,
            "Storage",
            removal_policy=props.removal_policy,
            log_retention_days=props.log_retention_days,
            noncurrent_version_expiry_days=props.noncurrent_version_expiry_days,
            cache_expiry_days=props.cache_expiry_days,
        )
        self.state = State(self, "State", removal_policy=props.removal_policy)
        self.queueing = Queueing(self, "Queueing", visibility_timeout_seconds=props.step_visibility_timeout_seconds)
        self.events = Events(self, "Events", resource_prefix=props.resource_prefix)
        self._add_outputs()
        acknowledge_findings(self)

    @property
    def function_environment(self) -> dict[str, str]:
        """Environment variables every Baton function gets, keyed by their names."""
        return {
            names.ENV_EXECUTIONS_TABLE: self.state.executions_table.table_name,
            names.ENV_DEFINITIONS_TABLE: self.state.definitions_table.table_name,
            names.ENV_IDEMPOTENCY_TABLE: self.state.idempotency_table.table_name,
            names.ENV_DEFINITIONS_BUCKET: self.storage.definitions_bucket.bucket_name,
            names.ENV_ARTIFACTS_BUCKET: self.storage.artifacts_bucket.bucket_name,
            names.ENV_CACHE_BUCKET: self.storage.cache_bucket.bucket_name,
            names.ENV_STEP_QUEUE_URL: self.queueing.step_queue.queue_url,
            names.ENV_EVENT_BUS: self.events.bus.event_bus_name,
            names.ENV_RESOURCE_PREFIX: self.props.resource_prefix,
        }

    def _add_outputs(self) -> None:
        # Operators and `baton push` find the resources through these outputs.
        outputs = {
            "DefinitionsBucketName": self.storage.definitions_bucket.bucket_name,
            "ArtifactsBucketName": self.storage.artifacts_bucket.bucket_name,
            "CacheBucketName": self.storage.cache_bucket.bucket_name,
            "AccessLogsBucketName": self.storage.access_logs_bucket.bucket_name,
            "ExecutionsTableName": self.state.executions_table.table_name,
            "DefinitionsTableName": self.state.definitions_table.table_name,
            "IdempotencyTableName": self.state.idempotency_table.table_name,
            "StepQueueUrl": self.queueing.step_queue.queue_url,
            "StepDeadLetterQueueUrl": self.queueing.dead_letter_queue.queue_url,
            "EventBusName": self.events.bus.event_bus_name,
            "ResourcePrefix": self.props.resource_prefix,
        }
        for output_id, value in outputs.items():
            CfnOutput(self, output_id, value=value)
