"""Settings of one Baton deployment, read from CDK context.

Every setting has a default, so ``python app.py`` works on a fresh clone; override one
with ``cdk deploy -c baton:stack-name=BatonDev`` or in ``cdk.json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy
from constructs import Node

from baton.resource_names import MAX_RESOURCE_PREFIX_LENGTH, is_valid_resource_prefix

CONTEXT_STACK_NAME = "baton:stack-name"
CONTEXT_RESOURCE_PREFIX = "baton:resource-prefix"
CONTEXT_LOG_RETENTION_DAYS = "baton:log-retention-days"
CONTEXT_LOG_LEVEL = "baton:log-level"
CONTEXT_REMOVAL_POLICY = "baton:removal-policy"

DEFAULT_STACK_NAME = "Baton"

# The values CloudWatch Logs accepts for a log group's retention; S3 log expiry uses the
# same setting, so one number means the same thing everywhere.
LOG_RETENTION_DAYS_ALLOWED = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365}  # up to a year
    | {400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}  # up to ten years
)
LOG_LEVELS = frozenset(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
REMOVAL_POLICIES = {"retain": RemovalPolicy.RETAIN, "destroy": RemovalPolicy.DESTROY}


@dataclass(frozen=True)
class BatonStackProps:
    """What differs between two Baton deployments.

    ``log_retention_days`` bounds the S3 access logs now and the functions' log groups
    once they exist; ``log_level`` is handed to the functions. ``removal_policy`` applies
    to the buckets and tables: ``DESTROY`` deletes them with the stack, but only if the
    buckets are empty (no auto-delete custom resource is deployed).
    """

    stack_name: str = DEFAULT_STACK_NAME
    resource_prefix: str = "baton"
    log_retention_days: int = 30
    log_level: str = "INFO"
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    step_visibility_timeout_seconds: int = 360
    noncurrent_version_expiry_days: int = 30
    cache_expiry_days: int = 14

    def __post_init__(self) -> None:
        if not is_valid_resource_prefix(self.resource_prefix):
            raise ValueError(
                f"resource prefix {self.resource_prefix!r} (context {CONTEXT_RESOURCE_PREFIX}) "
                f"must be lower-case letters, digits and '-', start with a letter and be at "
                f"most {MAX_RESOURCE_PREFIX_LENGTH} characters"
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS_ALLOWED:
            raise ValueError(
                f"log retention {self.log_retention_days} days (context "
                f"{CONTEXT_LOG_RETENTION_DAYS}) must be one of "
                f"{sorted(LOG_RETENTION_DAYS_ALLOWED)}"
            )
        if self.log_level not in LOG_LEVELS:
            raise ValueError(
                f"log level {self.log_level!r} (context {CONTEXT_LOG_LEVEL}) must be one of {sorted(LOG_LEVELS)}"
            )


def default_resource_prefix(stack_name: str) -> str:
    """Derive a valid resource prefix from a stack name: ``BatonDev`` -> ``batondev``."""
    prefix = re.sub(r"[^a-z0-9-]+", "-", stack_name.lower()).strip("-")
    if not prefix[:1].isalpha():
        prefix = f"baton-{prefix}"
    return prefix[:MAX_RESOURCE_PREFIX_LENGTH].rstrip("-")


def props_from_context(node: Node) -> BatonStackProps:
    """Build the stack props from the ``baton:*`` context keys around ``node``.

    ``-c key=value`` on the CDK command line always arrives as a string, so numbers and
    the removal policy are parsed here.
    """
    defaults = BatonStackProps()
    stack_name = str(_context(node, CONTEXT_STACK_NAME, defaults.stack_name))
    removal = str(_context(node, CONTEXT_REMOVAL_POLICY, "retain")).lower()
    if removal not in REMOVAL_POLICIES:
        raise ValueError(
            f"removal policy {removal!r} (context {CONTEXT_REMOVAL_POLICY}) must be one of {sorted(REMOVAL_POLICIES)}"
        )
    return BatonStackProps(
        stack_name=stack_name,
        resource_prefix=str(_context(node, CONTEXT_RESOURCE_PREFIX, default_resource_prefix(stack_name))),
        log_retention_days=int(_context(node, CONTEXT_LOG_RETENTION_DAYS, defaults.log_retention_days)),
        log_level=str(_context(node, CONTEXT_LOG_LEVEL, defaults.log_level)).upper(),
        removal_policy=REMOVAL_POLICIES[removal],
    )


def _context(node: Node, key: str, default: Any) -> Any:
    value = node.try_get_context(key)
    return default if value is None else value
