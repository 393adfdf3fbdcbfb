"""DynamoDB tables: executions, workflow definitions and Lambda idempotency records."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from baton import resource_names as names

_STRING = dynamodb.AttributeType.STRING


class State(Construct):
    """The tables that hold Baton's state: on-demand, PITR on, AWS-managed KMS encryption.

    ``executions_table`` holds one item per execution and per step, keyed ``pk``/``sk``,
    with a TTL and a sparse GSI listing a workflow's executions by start time.
    ``definitions_table`` holds every registered version of every workflow.
    ``idempotency_table`` is the Powertools idempotency store (key ``id``, TTL
    ``expiration``).
    """

    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self._removal_policy = removal_policy
        self.executions_table = self._table(
            "ExecutionsTable",
            partition_key=names.PARTITION_KEY,
            sort_key=names.SORT_KEY,
            time_to_live_attribute=names.EXECUTIONS_TTL_ATTRIBUTE,
        )
        self.executions_table.add_global_secondary_index(
            index_name=names.WORKFLOW_INDEX_NAME,
            partition_key=dynamodb.Attribute(name=names.WORKFLOW_INDEX_PARTITION_KEY, type=_STRING),
            sort_key=dynamodb.Attribute(name=names.WORKFLOW_INDEX_SORT_KEY, type=_STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.definitions_table = self._table(
            "DefinitionsTable", partition_key=names.PARTITION_KEY, sort_key=names.SORT_KEY
        )
        self.idempotency_table = self._table(
            "IdempotencyTable",
            partition_key=names.IDEMPOTENCY_KEY,
            time_to_live_attribute=names.IDEMPOTENCY_TTL_ATTRIBUTE,
        )

    def _table(
        self,
        construct_id: str,
        *,
        partition_key: str,
        sort_key: str | None = None,
        time_to_live_attribute: str | None = None,
    ) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(name=partition_key, type=_STRING),
            sort_key=None if sort_key is None else dynamodb.Attribute(name=sort_key, type=_STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=time_to_live_attribute,
            removal_policy=self._removal_policy,
        )
