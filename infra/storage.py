"""S3 buckets: workflow definitions, step artifacts, the step cache and their access logs."""

from __future__ import annotations

from typing import cast

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

# Parts of multipart uploads that never completed are billed until deleted.
_ABORT_INCOMPLETE_UPLOADS = Duration.days(1)
EXECUTION_OBJECTS_PREFIX = "executions/"
"""Step logs and records spilled from DynamoDB, written with the record they belong to."""
# A spilled record is rewritten with each change of its item, whose TTL counts from that
# change: a day more than the table's retention outlives the item and its TTL sweep.
_AFTER_RETENTION = 1


class Storage(Construct):
    """The buckets Baton keeps objects in, all private, encrypted and TLS-only.

    Every bucket but the log bucket writes server access logs to ``access_logs_bucket``
    under a prefix named after it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy,
        log_retention_days: int,
        noncurrent_version_expiry_days: int,
        cache_expiry_days: int,
        execution_retention_days: int = 90,
    ) -> None:
        super().__init__(scope, construct_id)
        self._removal_policy = removal_policy
        self.access_logs_bucket = self._bucket(
            "AccessLogsBucket",
            logs_prefix=None,
            expiration=Duration.days(log_retention_days),
        )
        self.definitions_bucket = self._bucket("DefinitionsBucket", logs_prefix="definitions/", versioned=True)
        _send_events_to_eventbridge(self.definitions_bucket)
        self.artifacts_bucket = self._bucket(
            "ArtifactsBucket",
            logs_prefix="artifacts/",
            versioned=True,
            noncurrent_version_expiration=Duration.days(noncurrent_version_expiry_days),
            execution_objects_expiration=Duration.days(execution_retention_days + _AFTER_RETENTION),
        )
        self.cache_bucket = self._bucket(
            "CacheBucket", logs_prefix="cache/", expiration=Duration.days(cache_expiry_days)
        )

    def _bucket(
        self,
        construct_id: str,
        *,
        logs_prefix: str | None,
        versioned: bool = False,
        expiration: Duration | None = None,
        noncurrent_version_expiration: Duration | None = None,
        execution_objects_expiration: Duration | None = None,
    ) -> s3.Bucket:
        lifecycle = [s3.LifecycleRule(
            abort_incomplete_multipart_upload_after=_ABORT_INCOMPLETE_UPLOADS,
            expiration=expiration,
            noncurrent_version_expiration=noncurrent_version_expiration,
        )]  # fmt: skip
        if execution_objects_expiration is not None:
            # Blobs (``blobs/``) are written once and shared by executions and cache
            # entries, so only the per-execution objects follow the table's retention.
            lifecycle.append(s3.LifecycleRule(prefix=EXECUTION_OBJECTS_PREFIX, expiration=execution_objects_expiration))
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=versioned,
            lifecycle_rules=lifecycle,
            server_access_logs_bucket=None if logs_prefix is None else self.access_logs_bucket,
            server_access_logs_prefix=logs_prefix,
            removal_policy=self._removal_policy,
        )


def _send_events_to_eventbridge(bucket: s3.Bucket) -> None:
    """Turn on S3 -> EventBridge notifications with plain CloudFormation.

    ``Bucket(event_bridge_enabled=True)`` would deploy a Lambda-backed custom resource to
    set the same flag; the property override keeps the stack free of custom resources.
    """
    cfn_bucket = cast(s3.CfnBucket, bucket.node.default_child)
    cfn_bucket.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)
