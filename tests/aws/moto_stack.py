"""A Baton stack's resources in moto: the tables, buckets, queues and bus that ``infra/``
creates, under names unique to one test, so tests share one moto server and never see
each other's state."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from baton import resource_names as names
from baton.adapters.aws.clients import AwsClients
from baton.adapters.aws.metering import CallMeter
from baton.adapters.aws.settings import AwsSettings

REGION = "us-east-1"
ACCOUNT = "123456789012"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass
class MotoServer:
    """A moto server on loopback and the endpoint every client of the tests uses."""

    endpoint_url: str

    def __post_init__(self) -> None:
        # Making a boto3 session and its clients costs ~100 ms each: share them.
        self.shared = self.new_clients()
        self.other = self.new_clients()
        self.meter = CallMeter()
        session = boto3.session.Session(region_name=REGION)
        self.meter.attach(session)
        self.metered = AwsClients(region=REGION, endpoint_url=self.endpoint_url, session=session)
        """Clients of the functions under test, whose calls the meter counts."""

    def clients(self) -> AwsClients:
        """The session's shared client factory pointed at the server."""
        return self.shared

    def new_clients(self) -> AwsClients:
        """A client factory of its own (another process's view of the same server)."""
        return AwsClients(region=REGION, endpoint_url=self.endpoint_url)


_DYNAMODB_WRITES = threading.Lock()


def serialize_dynamodb_writes() -> None:
    """Make moto's DynamoDB apply one request at a time, as DynamoDB does per item.

    moto's server handles requests on threads and checks a write's condition and applies
    it in separate Python steps; two concurrent conditional writes could both pass. Real
    DynamoDB serializes writes to an item, so the race tests need the same guarantee.
    """
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler, "_baton_serialized", False):
        return
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _DYNAMODB_WRITES:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    DynamoHandler._baton_serialized = True  # type: ignore[attr-defined]


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    """Start a moto server on a free loopback port; point stray clients at it too."""
    from moto.server import ThreadedMotoServer

    serialize_dynamodb_writes()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {name: os.environ.get(name) for name in [*FAKE_CREDENTIALS, "AWS_ENDPOINT_URL"]}
    os.environ.update({**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint})
    try:
        yield MotoServer(endpoint)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


def _table(clients: AwsClients, name: str, key: str, sort_key: str | None = None, **extra: Any) -> None:
    schema = [{"AttributeName": key, "KeyType": "HASH"}]
    attributes = [{"AttributeName": key, "AttributeType": "S"}]
    if sort_key:
        schema.append({"AttributeName": sort_key, "KeyType": "RANGE"})
        attributes.append({"AttributeName": sort_key, "AttributeType": "S"})
    attributes += extra.pop("extra_attributes", [])
    clients("dynamodb").create_table(
        TableName=name, KeySchema=schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST", **extra
    )


def create_stack(clients: AwsClients, *, prefix: str | None = None) -> AwsSettings:
    """Create one stack's resources; return the settings its functions would read."""
    tag = uuid.uuid4().hex[:10]
    prefix = prefix or f"bt{tag}"
    index = {
        "IndexName": names.WORKFLOW_INDEX_NAME,
        "KeySchema": [
            {"AttributeName": names.WORKFLOW_INDEX_PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": names.WORKFLOW_INDEX_SORT_KEY, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    gsi_attributes = [
        {"AttributeName": names.WORKFLOW_INDEX_PARTITION_KEY, "AttributeType": "S"},
        {"AttributeName": names.WORKFLOW_INDEX_SORT_KEY, "AttributeType": "S"},
    ]
    _table(clients, f"{prefix}-executions", names.PARTITION_KEY, names.SORT_KEY,
           GlobalSecondaryIndexes=[index], extra_attributes=gsi_attributes)  # fmt: skip
    clients("dynamodb").update_time_to_live(
        TableName=f"{prefix}-executions",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": names.EXECUTIONS_TTL_ATTRIBUTE},
    )
    _table(clients, f"{prefix}-definitions", names.PARTITION_KEY, names.SORT_KEY)
    _table(clients, f"{prefix}-idempotency", names.IDEMPOTENCY_KEY)
    s3 = clients("s3")
    for bucket in ("definitions", "artifacts", "cache"):
        s3.create_bucket(Bucket=f"{prefix}-{bucket}")
    s3.put_bucket_versioning(Bucket=f"{prefix}-definitions", VersioningConfiguration={"Status": "Enabled"})
    queue_url, queue_arn = _queues(clients, prefix)
    bus = names.event_bus_name(prefix)
    clients("events").create_event_bus(Name=bus)
    clients("scheduler").create_schedule_group(Name=names.schedule_group_name(prefix))
    return AwsSettings(
        executions_table=f"{prefix}-executions",
        definitions_table=f"{prefix}-definitions",
        idempotency_table=f"{prefix}-idempotency",
        definitions_bucket=f"{prefix}-definitions",
        artifacts_bucket=f"{prefix}-artifacts",
        cache_bucket=f"{prefix}-cache",
        step_queue_url=queue_url,
        event_bus=bus,
        resource_prefix=prefix,
        step_queue_arn=queue_arn,
        starter_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{prefix}-starter",
        scheduler_role_arn=f"arn:aws:iam::{ACCOUNT}:role/{prefix}-scheduler",
        schedule_group=names.schedule_group_name(prefix),
    )


def _queues(clients: AwsClients, prefix: str) -> tuple[str, str]:
    sqs = clients("sqs")
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-steps-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(names.STEP_QUEUE_MAX_RECEIVE_COUNT)}
    url = sqs.create_queue(
        QueueName=f"{prefix}-steps",
        Attributes={"VisibilityTimeout": "30", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def environment(settings: AwsSettings) -> dict[str, str]:
    """The environment variables the stack would set on the functions."""
    return {
        names.ENV_EXECUTIONS_TABLE: settings.executions_table,
        names.ENV_DEFINITIONS_TABLE: settings.definitions_table,
        names.ENV_IDEMPOTENCY_TABLE: settings.idempotency_table,
        names.ENV_DEFINITIONS_BUCKET: settings.definitions_bucket,
        names.ENV_ARTIFACTS_BUCKET: settings.artifacts_bucket,
        names.ENV_CACHE_BUCKET: settings.cache_bucket,
        names.ENV_STEP_QUEUE_URL: settings.step_queue_url,
        names.ENV_EVENT_BUS: settings.event_bus,
        names.ENV_RESOURCE_PREFIX: settings.resource_prefix,
        names.ENV_STEP_QUEUE_ARN: settings.step_queue_arn or "",
        names.ENV_STARTER_FUNCTION_ARN: settings.starter_function_arn or "",
        names.ENV_SCHEDULER_ROLE_ARN: settings.scheduler_role_arn or "",
        names.ENV_SCHEDULE_GROUP: settings.schedule_group or "",
    }


@dataclass
class Stack:
    """One test's resources and the clients that reach them."""

    clients: AwsClients
    settings: AwsSettings
