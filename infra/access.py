"""Least-privilege IAM for the functions: each gets the calls its code makes, on its resources.

Actions are listed one by one (no ``*`` in an action). Resources are ARNs; the wildcards
left are object keys in a bucket, a name prefix the runtime creates resources under, and
X-Ray (whose API has no resource-level permissions). ``infra.nag`` acknowledges each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from baton import resource_names as names
from infra.scheduling import SCHEDULER_PRINCIPAL, Scheduling

TABLE_READ = ("dynamodb:GetItem", "dynamodb:Query")
# Transactions need no action of their own: each item in one is checked as the call it makes.
TABLE_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem")
# What the Powertools idempotency layer calls on its table.
IDEMPOTENCY_RECORDS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
# `baton list` scans the sparse by-workflow index.
INDEX_READ = ("dynamodb:Query", "dynamodb:Scan")
OBJECT_READ = ("s3:GetObject",)
OBJECT_WRITE = ("s3:PutObject",)
# Without ListBucket a missing key answers 403 instead of 404, and a cache miss or a
# deleted definition would look like an access error.
BUCKET_LIST = ("s3:ListBucket",)
DEFINITION_OBJECT = ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObjectTagging", "s3:PutObjectVersionTagging")
QUEUE_SEND = ("sqs:SendMessage",)
MODEL_INVOCATION = ("bedrock:InvokeModel",)
"""What Converse needs (``bedrock:InvokeModel`` covers it)."""
RULE_MANAGEMENT = ("events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:PutTargets",
                   "events:RemoveTargets")  # fmt: skip
SCHEDULE_MANAGEMENT = ("scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule",
                       "scheduler:GetSchedule")  # fmt: skip
SCHEDULE_CREATION = ("scheduler:CreateSchedule",)


@dataclass(frozen=True)
class Resources:
    """The stack's resources the functions are given access to."""

    executions_table: dynamodb.Table
    definitions_table: dynamodb.Table
    idempotency_table: dynamodb.Table
    definitions_bucket: s3.IBucket
    artifacts_bucket: s3.IBucket
    cache_bucket: s3.IBucket
    step_queue: sqs.IQueue
    bus: events.IEventBus
    scheduling: Scheduling
    secrets_prefix: str


class Grants:
    """Adds one function's statements to its role."""

    def __init__(self, role: iam.IRole, resources: Resources) -> None:
        self.role = role
        self.resources = resources

    def allow(self, actions: Sequence[str], resources: Sequence[str]) -> None:
        """One statement: these actions on these resources."""
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=list(resources)))

    def executions(self) -> None:
        """Read and write execution records, and read the by-workflow index."""
        table = self.resources.executions_table
        self.allow((*TABLE_READ, *TABLE_WRITE), [table.table_arn])
        self.allow(INDEX_READ, [f"{table.table_arn}/index/{names.WORKFLOW_INDEX_NAME}"])

    def definitions(self, *, write: bool = False) -> None:
        """Read (and with ``write``, register) compiled definitions and workflow versions."""
        self.allow((*TABLE_READ, *(TABLE_WRITE if write else ())), [self.resources.definitions_table.table_arn])

    def bucket(self, bucket: s3.IBucket, actions: Sequence[str]) -> None:
        """``actions`` on the bucket's objects, and listing the bucket (for honest 404s)."""
        self.allow(actions, [bucket.arn_for_objects("*")])
        self.allow(BUCKET_LIST, [bucket.bucket_arn])

    def artifacts(self) -> None:
        """Artifacts, step logs and records too large for DynamoDB (spilled to S3)."""
        self.bucket(self.resources.artifacts_bucket, (*OBJECT_READ, *OBJECT_WRITE))

    def queue_and_bus(self) -> None:
        """Send step messages and publish lifecycle events."""
        self.allow(QUEUE_SEND, [self.resources.step_queue.queue_arn])
        self.resources.bus.grant_put_events_to(self.role)

    def schedules(self, actions: Sequence[str]) -> None:
        """Manage schedules in Baton's group under the prefix, running as the scheduler role (only)."""
        scheduling = self.resources.scheduling
        self.allow(actions, [scheduling.schedule_arn_pattern])
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[scheduling.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": SCHEDULER_PRINCIPAL}},
            )
        )

    def models(self) -> None:
        """Call Bedrock models (the ``bedrock`` agent provider's Converse calls): foundation
        models in any region (cross-region inference profiles route there) and this account's
        inference profiles."""
        stack = Stack.of(self.resources.bus)
        models = stack.format_arn(service="bedrock", region="*", account="", resource="foundation-model",
                                  resource_name="*")  # fmt: skip
        profiles = stack.format_arn(service="bedrock", resource="inference-profile", resource_name="*")
        self.allow(MODEL_INVOCATION, [models, profiles])

    def secrets(self) -> None:
        """Read the SSM parameters and Secrets Manager secrets under the secrets prefix."""
        stack = Stack.of(self.resources.bus)
        prefix = self.resources.secrets_prefix
        self.allow(["ssm:GetParameter"], [stack.format_arn(service="ssm", resource="parameter",
                                                           resource_name=f"{prefix}/*")])  # fmt: skip
        secret = stack.format_arn(service="secretsmanager", resource="secret", resource_name=f"{prefix}/*",
                                  arn_format=ArnFormat.COLON_RESOURCE_NAME)  # fmt: skip
        self.allow(["secretsmanager:GetSecretValue"], [secret])


def grant_registrar(role: iam.IRole, resources: Resources) -> None:
    """Read uploads and tag them; register versions; manage trigger rules and schedules."""
    grants = Grants(role, resources)
    grants.bucket(resources.definitions_bucket, DEFINITION_OBJECT)
    grants.definitions(write=True)
    grants.artifacts()
    grants.allow(RULE_MANAGEMENT, [resources.scheduling.rule_arn_pattern])
    grants.schedules(SCHEDULE_MANAGEMENT)
    resources.bus.grant_put_events_to(role)


def grant_starter(role: iam.IRole, resources: Resources) -> None:
    """Create executions once per request (idempotency records) and send their first message."""
    grants = Grants(role, resources)
    grants.executions()
    grants.definitions()
    grants.allow(IDEMPOTENCY_RECORDS, [resources.idempotency_table.table_arn])
    grants.artifacts()
    grants.queue_and_bus()


def grant_worker(role: iam.IRole, resources: Resources) -> None:
    """Run steps: state, artifacts, cache, secrets, step messages and one-shot wake-ups."""
    grants = Grants(role, resources)
    grants.executions()
    grants.definitions()
    grants.artifacts()
    grants.bucket(resources.cache_bucket, (*OBJECT_READ, *OBJECT_WRITE))
    grants.queue_and_bus()
    grants.schedules(SCHEDULE_CREATION)
    grants.secrets()
    grants.models()


def grant_long_step(role: iam.IRole, resources: Resources) -> None:
    """A long-step build runs one unit as a worker does, so it gets the worker's grants on
    state, artifacts, cache, secrets, step messages and wake-ups (and nothing of CodeBuild)."""
    grant_worker(role, resources)


def grant_approver(role: iam.IRole, resources: Resources) -> None:
    """Record an answer and hand the execution back to the workers."""
    grants = Grants(role, resources)
    grants.executions()
    grants.definitions()
    grants.artifacts()
    grants.queue_and_bus()


def grant_sweeper(role: iam.IRole, resources: Resources) -> None:
    """Read running executions (the by-workflow index and each execution's records) and send
    a message to the stalled ones; it writes no record."""
    grants = Grants(role, resources)
    table = resources.executions_table
    grants.allow(TABLE_READ, [table.table_arn])
    grants.allow(INDEX_READ, [f"{table.table_arn}/index/{names.WORKFLOW_INDEX_NAME}"])
    grants.definitions()
    grants.bucket(resources.artifacts_bucket, OBJECT_READ)
    grants.allow(QUEUE_SEND, [resources.step_queue.queue_arn])
