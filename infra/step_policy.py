"""The step role's policy as plain JSON: explicit denials of a deployment's own resources.

Kept free of CDK so the AWS tests can put the same statements on a role in moto.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WORKFLOW_TAG = "baton-workflow"
"""The session tag the worker sets; operators match it as ``aws:PrincipalTag/baton-workflow``."""


@dataclass(frozen=True)
class GuardedArns:
    """ARNs (or ARN patterns) of everything a step must not reach."""

    tables: Sequence[str]
    buckets: Sequence[str]
    queues: Sequence[str]
    bus: str
    rules: str
    schedules: Sequence[str]
    functions: str
    secrets: Sequence[str]
    roles: Sequence[str]


def guard_statements(arns: GuardedArns) -> list[dict[str, Any]]:
    """Explicit denials of the deployment's own resources (an explicit deny beats any allow)."""

    def deny(sid: str, actions: list[str], resources: Sequence[str]) -> dict[str, Any]:
        return {"Sid": sid, "Effect": "Deny", "Action": actions, "Resource": list(resources)}

    return [
        deny("NoBatonState", ["dynamodb:*"], [r for table in arns.tables for r in (table, f"{table}/*")]),
        deny("NoBatonObjects", ["s3:*"], [r for bucket in arns.buckets for r in (bucket, f"{bucket}/*")]),
        deny("NoBatonQueues", ["sqs:*"], arns.queues),
        deny("NoBatonEvents", ["events:*"], [arns.bus, arns.rules]),
        deny("NoBatonSchedules", ["scheduler:*"], arns.schedules),
        deny("NoBatonFunctions", ["lambda:*"], [arns.functions]),
        deny("NoOtherSecrets", ["ssm:*", "secretsmanager:*"], arns.secrets),
        deny("NoBatonRoles", ["iam:PassRole", "sts:AssumeRole"], arns.roles),
    ]
