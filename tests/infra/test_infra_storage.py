"""The buckets: encrypted, private, TLS-only, logged, with the lifecycle each one needs."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

BUCKETS = ("access_logs_bucket", "definitions_bucket", "artifacts_bucket", "cache_bucket")
LOGGED_BUCKETS = ("definitions_bucket", "artifacts_bucket", "cache_bucket")


def _props(resources: dict[str, Any], logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = resources[logical_id]["Properties"]
    return props


def _policy_statements(resources: dict[str, Any], bucket_id: str) -> list[dict[str, Any]]:
    policies = [
        resource["Properties"]["PolicyDocument"]["Statement"]
        for resource in resources.values()
        if resource["Type"] == "AWS::S3::BucketPolicy" and resource["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    assert len(policies) == 1, f"expected one bucket policy on {bucket_id}, got {len(policies)}"
    return list(policies[0])


def test_the_stack_has_exactly_the_four_buckets(template: Template) -> None:
    template.resource_count_is("AWS::S3::Bucket", len(BUCKETS))


@pytest.mark.parametrize("bucket", BUCKETS)
def test_bucket_is_encrypted_with_s3_managed_keys(
    resources: dict[str, Any], logical_ids: dict[str, str], bucket: str
) -> None:
    encryption = _props(resources, logical_ids[bucket])["BucketEncryption"]
    assert encryption == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }


@pytest.mark.parametrize("bucket", BUCKETS)
def test_bucket_blocks_all_public_access(resources: dict[str, Any], logical_ids: dict[str, str], bucket: str) -> None:
    block = _props(resources, logical_ids[bucket])["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


@pytest.mark.parametrize("bucket", BUCKETS)
def test_bucket_policy_denies_requests_without_tls(
    resources: dict[str, Any], logical_ids: dict[str, str], bucket: str
) -> None:
    statements = _policy_statements(resources, logical_ids[bucket])
    assert any(
        statement["Effect"] == "Deny"
        and statement["Action"] == "s3:*"
        and statement["Principal"] == {"AWS": "*"}
        and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in statements
    ), statements


@pytest.mark.parametrize("bucket", BUCKETS)
def test_bucket_does_not_use_acls(resources: dict[str, Any], logical_ids: dict[str, str], bucket: str) -> None:
    props = _props(resources, logical_ids[bucket])
    assert "AccessControl" not in props
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


@pytest.mark.parametrize("bucket", ["definitions_bucket", "artifacts_bucket"])
def test_bucket_is_versioned(resources: dict[str, Any], logical_ids: dict[str, str], bucket: str) -> None:
    props = _props(resources, logical_ids[bucket])
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}


@pytest.mark.parametrize("bucket", LOGGED_BUCKETS)
def test_bucket_writes_access_logs_to_the_log_bucket(
    resources: dict[str, Any], logical_ids: dict[str, str], bucket: str
) -> None:
    logging = _props(resources, logical_ids[bucket])["LoggingConfiguration"]
    assert logging == {
        "DestinationBucketName": {"Ref": logical_ids["access_logs_bucket"]},
        "LogFilePrefix": bucket.removesuffix("_bucket") + "/",
    }


@pytest.mark.parametrize("bucket", LOGGED_BUCKETS)
def test_log_bucket_policy_lets_only_s3_logging_from_that_bucket_write(
    resources: dict[str, Any], logical_ids: dict[str, str], bucket: str
) -> None:
    # The policy (not the LogDeliveryWrite ACL) comes from the cdk.json feature flag
    # @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy, which build_app must have read.
    statements = _policy_statements(resources, logical_ids["access_logs_bucket"])
    source = {"Fn::GetAtt": [logical_ids[bucket], "Arn"]}
    matching = [
        statement
        for statement in statements
        if statement.get("Condition", {}).get("ArnLike", {}).get("aws:SourceArn") == source
    ]
    assert len(matching) == 1, statements
    assert matching[0]["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert matching[0]["Action"] == "s3:PutObject"


def test_definitions_bucket_sends_events_to_eventbridge_without_a_custom_resource(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    props = _props(resources, logical_ids["definitions_bucket"])
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    # event_bridge_enabled=True would have added a notifications handler function.
    functions = {r["Properties"].get("Handler") for r in resources.values() if r["Type"] == "AWS::Lambda::Function"}
    roles = ("registrar", "starter", "worker", "approver", "sweeper", "api")
    assert functions == {f"baton.handlers.{role}.handler" for role in roles}


def test_stack_has_no_custom_resources(resources: dict[str, Any]) -> None:
    custom = [
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"].startswith("Custom::") or resource["Type"] == "AWS::CloudFormation::CustomResource"
    ]
    assert custom == []


def test_artifacts_bucket_expires_noncurrent_versions(resources: dict[str, Any], logical_ids: dict[str, str]) -> None:
    rules = _props(resources, logical_ids["artifacts_bucket"])["LifecycleConfiguration"]["Rules"]
    assert [rule.get("NoncurrentVersionExpiration") for rule in rules] == [{"NoncurrentDays": 30}, None]


def test_execution_objects_expire_a_day_after_the_tables_retention(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    # Logs and spilled records of an execution go with its items (TTL 90 days); shared blobs stay.
    rules = _props(resources, logical_ids["artifacts_bucket"])["LifecycleConfiguration"]["Rules"]
    expiring = [(rule.get("Prefix"), rule["ExpirationInDays"]) for rule in rules if "ExpirationInDays" in rule]
    assert expiring == [("executions/", 91)]


@pytest.mark.parametrize(
    ("bucket", "days"),
    [("cache_bucket", 14), ("access_logs_bucket", 30)],
    ids=["cache", "access-logs"],
)
def test_bucket_expires_objects(resources: dict[str, Any], logical_ids: dict[str, str], bucket: str, days: int) -> None:
    rules = _props(resources, logical_ids[bucket])["LifecycleConfiguration"]["Rules"]
    assert [rule.get("ExpirationInDays") for rule in rules] == [days]
