"""``DefinitionRegistry``: the registered versions of each workflow, in the definitions table.

::

    pk = WORKFLOW#<name>        sk = CURRENT                 the version that starts now
    pk = WORKFLOW#<name>        sk = VERSION#<time>#<s3 id>  every version ever registered
    pk = SOURCE#<bucket>/<key>  sk = CURRENT                 which workflow an object defines

``CURRENT`` moves forward only: S3's ``sequencer`` orders events on one key, so a late
event for an older upload of the same file never replaces a newer version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from baton.adapters.aws.clients import is_conflict
from baton.adapters.aws.items import PK, SK

CURRENT = "CURRENT"
SEQUENCER_WIDTH = 40
"""S3 sequencers are hex strings of varying length: padded, they compare as text."""


@dataclass(frozen=True, slots=True)
class WorkflowVersion:
    """One registered version of a workflow and where it came from."""

    name: str
    digest: str
    content_sha256: str
    bucket: str
    key: str
    version_id: str | None
    sequencer: str
    registered_at: str
    version: str | None = None
    triggers: list[str] = field(default_factory=list)
    """Names of the rules and schedules created for its ``triggers:``."""
    trigger_inputs: list[dict[str, Any]] = field(default_factory=list)
    """Each trigger's ``inputs:`` (templates over ``trigger``), by trigger index."""
    concurrency: dict[str, Any] | None = None

    def to_item(self, pk: str, sk: str) -> dict[str, Any]:
        """A definitions-table item holding this version."""
        return {
            PK: {"S": pk},
            SK: {"S": sk},
            "data": {"S": json.dumps(asdict(self), separators=(",", ":"))},
            "source": {"S": f"{self.bucket}/{self.key}"},
            "sequencer": {"S": self.sequencer.zfill(SEQUENCER_WIDTH)},
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> WorkflowVersion:
        """Inverse of :meth:`to_item`."""
        return cls(**json.loads(item["data"]["S"]))


class DefinitionRegistry:
    """Registered workflow versions; ``dynamodb`` returns the boto3 client."""

    def __init__(self, dynamodb: Callable[[], Any], table: str) -> None:
        self._dynamodb = dynamodb
        self.table = table

    def register(self, version: WorkflowVersion) -> bool:
        """Make ``version`` current unless a later upload of the same file already is.

        Returns False for a stale event. The same event again registers again (a retried
        registrar must still create the triggers). Every version is kept in the history.
        """
        history_sk = f"VERSION#{version.registered_at}#{version.version_id or '-'}"
        client = self._dynamodb()
        client.put_item(TableName=self.table, Item=version.to_item(f"WORKFLOW#{version.name}", history_sk))
        try:
            client.put_item(
                TableName=self.table,
                Item=version.to_item(f"WORKFLOW#{version.name}", CURRENT),
                ConditionExpression="attribute_not_exists(#pk) OR #source <> :source OR #sequencer <= :sequencer",
                ExpressionAttributeNames={"#pk": PK, "#source": "source", "#sequencer": "sequencer"},
                ExpressionAttributeValues={
                    ":source": {"S": f"{version.bucket}/{version.key}"},
                    ":sequencer": {"S": version.sequencer.zfill(SEQUENCER_WIDTH)},
                },
            )
        except ClientError as exc:
            if is_conflict(exc):
                return False
            raise
        client.put_item(
            TableName=self.table,
            Item={PK: {"S": _source_pk(version.bucket, version.key)}, SK: {"S": CURRENT}, "name": {"S": version.name}},
        )
        return True

    def current(self, name: str) -> WorkflowVersion | None:
        """The version of ``name`` that starts now, or None if none is registered."""
        key = {PK: {"S": f"WORKFLOW#{name}"}, SK: {"S": CURRENT}}
        item = self._dynamodb().get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        return None if item is None else WorkflowVersion.from_item(item)

    def versions(self, name: str) -> list[WorkflowVersion]:
        """Every version of ``name`` ever registered, oldest first."""
        response = self._dynamodb().query(
            TableName=self.table,
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :versions)",
            ExpressionAttributeNames={"#pk": PK, "#sk": SK},
            ExpressionAttributeValues={":pk": {"S": f"WORKFLOW#{name}"}, ":versions": {"S": "VERSION#"}},
        )
        return [WorkflowVersion.from_item(item) for item in response.get("Items", [])]

    def name_of(self, bucket: str, key: str) -> str | None:
        """The workflow the object at ``bucket/key`` last registered, if any."""
        item_key = {PK: {"S": _source_pk(bucket, key)}, SK: {"S": CURRENT}}
        item = self._dynamodb().get_item(TableName=self.table, Key=item_key, ConsistentRead=True).get("Item")
        return None if item is None else str(item["name"]["S"])

    def retire(
        self, name: str, *, bucket: str, key: str, sequencer: str, forget_source: bool = True
    ) -> WorkflowVersion | None:
        """Forget the current version of ``name`` if that file defined it and the deletion
        is newer than its upload; return what was removed (None for a stale event)."""
        client = self._dynamodb()
        try:
            response = client.delete_item(
                TableName=self.table,
                Key={PK: {"S": f"WORKFLOW#{name}"}, SK: {"S": CURRENT}},
                ConditionExpression="#source = :source AND #sequencer < :sequencer",
                ExpressionAttributeNames={"#source": "source", "#sequencer": "sequencer"},
                ExpressionAttributeValues={
                    ":source": {"S": f"{bucket}/{key}"},
                    ":sequencer": {"S": sequencer.zfill(SEQUENCER_WIDTH)},
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if is_conflict(exc):
                return None
            raise
        if forget_source:  # kept when the same file now defines another workflow
            client.delete_item(TableName=self.table, Key={PK: {"S": _source_pk(bucket, key)}, SK: {"S": CURRENT}})
        old = response.get("Attributes")
        return None if not old else WorkflowVersion.from_item(old)


def _source_pk(bucket: str, key: str) -> str:
    return f"SOURCE#{bucket}/{key}"
