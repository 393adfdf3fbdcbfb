"""The tables: on-demand, PITR, encrypted, with the keys, TTLs and index the runtime uses."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from baton import resource_names as names

TABLES = ("executions_table", "definitions_table", "idempotency_table")


def _props(resources: dict[str, Any], logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = resources[logical_id]["Properties"]
    return props


def _key_schema(hash_key: str, range_key: str | None = None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def test_the_stack_has_exactly_the_three_tables(template: Template) -> None:
    template.resource_count_is("AWS::DynamoDB::Table", len(TABLES))


@pytest.mark.parametrize("table", TABLES)
def test_table_is_on_demand_with_pitr_and_aws_managed_encryption(
    resources: dict[str, Any], logical_ids: dict[str, str], table: str
) -> None:
    props = _props(resources, logical_ids[table])
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # SSEEnabled without a key id is the AWS-managed key (aws/dynamodb).
    assert props["SSESpecification"] == {"SSEEnabled": True}


@pytest.mark.parametrize("table", TABLES)
def test_table_is_retained_by_default(resources: dict[str, Any], logical_ids: dict[str, str], table: str) -> None:
    assert resources[logical_ids[table]]["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize(
    ("table", "key_schema", "ttl_attribute"),
    [
        (
            "executions_table",
            _key_schema(names.PARTITION_KEY, names.SORT_KEY),
            names.EXECUTIONS_TTL_ATTRIBUTE,
        ),
        ("definitions_table", _key_schema(names.PARTITION_KEY, names.SORT_KEY), None),
        ("idempotency_table", _key_schema(names.IDEMPOTENCY_KEY), names.IDEMPOTENCY_TTL_ATTRIBUTE),
    ],
    ids=["executions", "definitions", "idempotency"],
)
def test_table_keys_and_ttl(
    resources: dict[str, Any],
    logical_ids: dict[str, str],
    table: str,
    key_schema: list[dict[str, str]],
    ttl_attribute: str | None,
) -> None:
    props = _props(resources, logical_ids[table])
    assert props["KeySchema"] == key_schema
    expected_ttl = None if ttl_attribute is None else {"AttributeName": ttl_attribute, "Enabled": True}
    assert props.get("TimeToLiveSpecification") == expected_ttl


def test_executions_table_indexes_executions_by_workflow_and_start_time(
    resources: dict[str, Any], logical_ids: dict[str, str]
) -> None:
    props = _props(resources, logical_ids["executions_table"])
    assert props["GlobalSecondaryIndexes"] == [
        {
            "IndexName": names.WORKFLOW_INDEX_NAME,
            "KeySchema": _key_schema(names.WORKFLOW_INDEX_PARTITION_KEY, names.WORKFLOW_INDEX_SORT_KEY),
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert {"AttributeName": names.WORKFLOW_INDEX_SORT_KEY, "AttributeType": "S"} in props["AttributeDefinitions"]
