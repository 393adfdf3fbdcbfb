"""Settings of one Baton deployment, read from CDK context.

Every setting has a default, so ``python app.py`` works on a fresh clone; override one
with ``cdk deploy -c baton:stack-name=BatonDev`` or in ``cdk.json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aws_cdk import RemovalPolicy
from constructs import Node

from baton.resource_names import MAX_RESOURCE_PREFIX_LENGTH, is_valid_resource_prefix

CONTEXT_STACK_NAME = "baton:stack-name"
CONTEXT_RESOURCE_PREFIX = "baton:resource-prefix"
CONTEXT_LOG_RETENTION_DAYS = "baton:log-retention-days"
CONTEXT_LOG_LEVEL = "baton:log-level"
CONTEXT_REMOVAL_POLICY = "baton:removal-policy"
CONTEXT_WORKER_TIMEOUT = "baton:worker-timeout-seconds"
CONTEXT_WORKER_BATCH_SIZE = "baton:worker-batch-size"
CONTEXT_WORKER_RESERVED_CONCURRENCY = "baton:worker-reserved-concurrency"
CONTEXT_WORKER_MAX_CONCURRENCY = "baton:worker-max-concurrency"
CONTEXT_EXECUTION_RETENTION_DAYS = "baton:execution-retention-days"
CONTEXT_POWERTOOLS_LAYER_VERSION = "baton:powertools-layer-version"
CONTEXT_SECRETS_PREFIX = "baton:secrets-prefix"
CONTEXT_STEP_POLICY_ARNS = "baton:step-policy-arns"
CONTEXT_ALARM_EMAIL = "baton:alarm-email"
CONTEXT_STEP_EVENTS = "baton:step-events"
CONTEXT_WORKER_MEMORY = "baton:worker-memory-mb"
CONTEXT_ARCHITECTURE = "baton:architecture"
ARCHITECTURES = ("arm64", "x86_64")
CONTEXT_LONG_RUNNER = "baton:long-runner"
CONTEXT_BEDROCK_ENDPOINT_URL = "baton:bedrock-endpoint-url"
LONG_RUNNERS = ("codebuild", "process")
"""``codebuild``: ``runner: long`` steps run in builds of the stack's project. ``process``:
no project; the worker runs them as a process on its host (emulators without CodeBuild)."""
DEFAULT_WORKER_RESERVED_CONCURRENCY = 50
"""Caps a runaway fan-out (and its bill) and keeps the rest of the account's functions
running; AWS keeps 100 of the account's concurrency unreserved, so a deployment in an
account below 150 must lower or switch it off (``-c baton:worker-reserved-concurrency=``)."""

DEFAULT_STACK_NAME = "Baton"

# The values CloudWatch Logs accepts for a log group's retention; S3 log expiry uses the
# same setting, so one number means the same thing everywhere.
LOG_RETENTION_DAYS_ALLOWED = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365}  # up to a year
    | {400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}  # up to ten years
)
LOG_LEVELS = frozenset(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
REMOVAL_POLICIES = {"retain": RemovalPolicy.RETAIN, "destroy": RemovalPolicy.DESTROY}

# AWS recommends a source queue visibility timeout of six function timeouts, so a batch
# is not delivered again while Lambda still retries a throttled or failed invocation.
VISIBILITY_TIMEOUTS_PER_WORKER_TIMEOUT = 6
MAX_LAMBDA_TIMEOUT_SECONDS = 900
# The worker's driver keeps a 15 s margin and gives a step without `timeout` 60 s; a worker must fit one.
MIN_WORKER_TIMEOUT_SECONDS = 90
_SECRETS_PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


@dataclass(frozen=True)
class BatonStackProps:
    """What differs between two Baton deployments.

    ``log_retention_days`` bounds the S3 access logs and the functions' log groups;
    ``log_level`` is handed to the functions. ``removal_policy`` applies to the buckets,
    tables and log groups: ``DESTROY`` deletes them with the stack, but only if the
    buckets are empty (no auto-delete custom resource is deployed).

    The worker runs steps inline for up to ``worker_timeout_seconds``; the step queue's
    visibility timeout follows from it. ``worker_reserved_concurrency`` caps the worker
    for the whole account (and reserves that much); ``worker_max_concurrency`` caps only
    what the SQS event source starts. ``powertools_layer_version`` set: the AWS-managed
    Powertools layer provides Powertools, and the asset bundles only the base packages.
    Functions may read SSM parameters under ``/<secrets_prefix>/`` and Secrets Manager
    secrets named ``<secrets_prefix>/...``; ``None`` means the resource prefix.
    """

    stack_name: str = DEFAULT_STACK_NAME
    resource_prefix: str = "baton"
    log_retention_days: int = 30
    log_level: str = "INFO"
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    noncurrent_version_expiry_days: int = 30
    cache_expiry_days: int = 14
    worker_timeout_seconds: int = MAX_LAMBDA_TIMEOUT_SECONDS
    worker_batch_size: int = 1
    worker_reserved_concurrency: int | None = DEFAULT_WORKER_RESERVED_CONCURRENCY
    worker_max_concurrency: int | None = None
    execution_retention_days: int = 90
    powertools_layer_version: int | None = None
    secrets_prefix: str | None = None
    worker_memory_mb: int = 1024
    architecture: str = "arm64"
    """Of every function, and the platform the bundle's wheels are built for."""
    alarm_email: str | None = None
    """Subscribed to the alarm topic (it confirms by mail); None: subscribe yourself."""
    step_events: bool = False
    """Publish a ``Baton Step Status Change`` event per step (each is a billed call)."""
    step_policy_arns: tuple[str, ...] = ()
    """Managed policies attached to the step role: what steps may do on AWS (nothing if
    empty). Baton's own resources stay denied whatever they allow."""
    long_runner: str = "codebuild"
    """Where ``runner: long`` steps run (``LONG_RUNNERS``)."""
    bedrock_endpoint_url: str | None = None
    """Where agent steps' ``bedrock`` provider sends its Converse calls (a VPC endpoint's own
    DNS name, a compatible gateway); None: the region's Bedrock Runtime endpoint."""

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
        self._check_worker()
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture {self.architecture!r} ({CONTEXT_ARCHITECTURE}) must be one of {ARCHITECTURES}"
            )
        if self.long_runner not in LONG_RUNNERS:
            raise ValueError(
                f"long-step runner {self.long_runner!r} ({CONTEXT_LONG_RUNNER}) must be one of {LONG_RUNNERS}"
            )
        if self.bedrock_endpoint_url is not None:
            _check_endpoint(CONTEXT_BEDROCK_ENDPOINT_URL, self.bedrock_endpoint_url)
        if self.execution_retention_days < 1:
            raise ValueError(f"execution retention (context {CONTEXT_EXECUTION_RETENTION_DAYS}) must be >= 1 day")
        if self.secrets_prefix is not None and not _SECRETS_PREFIX_PATTERN.fullmatch(self.secrets_prefix):
            raise ValueError(
                f"secrets prefix {self.secrets_prefix!r} (context {CONTEXT_SECRETS_PREFIX}) must be path "
                "segments of letters, digits, '_', '.' and '-' joined by '/', without leading or trailing '/'"
            )

    def _check_worker(self) -> None:
        _check_range(CONTEXT_WORKER_TIMEOUT, self.worker_timeout_seconds,
                     MIN_WORKER_TIMEOUT_SECONDS, MAX_LAMBDA_TIMEOUT_SECONDS)  # fmt: skip
        _check_range(CONTEXT_WORKER_BATCH_SIZE, self.worker_batch_size, 1, 10)
        if self.worker_reserved_concurrency is not None:
            _check_range(CONTEXT_WORKER_RESERVED_CONCURRENCY, self.worker_reserved_concurrency, 1, 10_000)
        if self.worker_max_concurrency is not None:
            _check_range(CONTEXT_WORKER_MAX_CONCURRENCY, self.worker_max_concurrency, 2, 1000)
            reserved = self.worker_reserved_concurrency
            if reserved is not None and self.worker_max_concurrency > reserved:
                # More pollers than reserved instances would only throttle and redeliver.
                raise ValueError(
                    f"worker max concurrency {self.worker_max_concurrency} ({CONTEXT_WORKER_MAX_CONCURRENCY}) "
                    f"must not exceed its reserved concurrency {reserved} ({CONTEXT_WORKER_RESERVED_CONCURRENCY})"
                )
        _check_range(CONTEXT_WORKER_MEMORY, self.worker_memory_mb, 128, 10_240)
        if self.powertools_layer_version is not None:
            _check_range(CONTEXT_POWERTOOLS_LAYER_VERSION, self.powertools_layer_version, 1, 10_000)

    @property
    def step_visibility_timeout_seconds(self) -> int:
        """The step queue's visibility timeout: six worker timeouts."""
        return VISIBILITY_TIMEOUTS_PER_WORKER_TIMEOUT * self.worker_timeout_seconds

    @property
    def effective_secrets_prefix(self) -> str:
        """The name prefix of the parameters and secrets the functions may read."""
        return self.secrets_prefix or self.resource_prefix


def _check_endpoint(key: str, url: str) -> None:
    """HTTPS, or plain HTTP to this host only (an emulator beside the functions)."""
    parts = urlsplit(url)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not parts.hostname or not (parts.scheme == "https" or loopback):
        raise ValueError(f"{url!r} (context {key}) must be an https:// URL (http:// only to 127.0.0.1)")


def _check_range(key: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{value} (context {key}) must be between {low} and {high}")


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
    secrets_prefix = _context(node, CONTEXT_SECRETS_PREFIX, None)
    return BatonStackProps(
        stack_name=stack_name,
        resource_prefix=str(_context(node, CONTEXT_RESOURCE_PREFIX, default_resource_prefix(stack_name))),
        log_retention_days=_integer(node, CONTEXT_LOG_RETENTION_DAYS, defaults.log_retention_days),
        log_level=str(_context(node, CONTEXT_LOG_LEVEL, defaults.log_level)).upper(),
        removal_policy=REMOVAL_POLICIES[removal],
        worker_timeout_seconds=_integer(node, CONTEXT_WORKER_TIMEOUT, defaults.worker_timeout_seconds),
        worker_batch_size=_integer(node, CONTEXT_WORKER_BATCH_SIZE, defaults.worker_batch_size),
        worker_reserved_concurrency=_optional_integer(
            node, CONTEXT_WORKER_RESERVED_CONCURRENCY, default=DEFAULT_WORKER_RESERVED_CONCURRENCY
        ),
        worker_memory_mb=_integer(node, CONTEXT_WORKER_MEMORY, defaults.worker_memory_mb),
        architecture=str(_context(node, CONTEXT_ARCHITECTURE, defaults.architecture)).strip().lower(),
        alarm_email=str(_context(node, CONTEXT_ALARM_EMAIL, "")).strip() or None,
        step_events=str(_context(node, CONTEXT_STEP_EVENTS, "false")).strip().lower() in ("1", "true", "yes"),
        worker_max_concurrency=_optional_integer(node, CONTEXT_WORKER_MAX_CONCURRENCY),
        execution_retention_days=_integer(node, CONTEXT_EXECUTION_RETENTION_DAYS, defaults.execution_retention_days),
        powertools_layer_version=_optional_integer(node, CONTEXT_POWERTOOLS_LAYER_VERSION),
        secrets_prefix=None if secrets_prefix is None else str(secrets_prefix).strip("/"),
        step_policy_arns=_arn_list(node, CONTEXT_STEP_POLICY_ARNS),
        long_runner=str(_context(node, CONTEXT_LONG_RUNNER, defaults.long_runner)).strip().lower(),
        bedrock_endpoint_url=str(_context(node, CONTEXT_BEDROCK_ENDPOINT_URL, "")).strip() or None,
    )


def _context(node: Node, key: str, default: Any) -> Any:
    value = node.try_get_context(key)
    return default if value is None else value


def _integer(node: Node, key: str, default: int) -> int:
    value = _context(node, key, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"context {key}: expected a whole number, got {value!r}") from None


def _optional_integer(node: Node, key: str, *, default: int | None = None) -> int | None:
    # Left out: the default; an empty string (`-c key=`) switches the setting off.
    value = node.try_get_context(key)
    if value is None:
        return default
    if value == "":
        return None
    return _integer(node, key, 0)


def _arn_list(node: Node, key: str) -> tuple[str, ...]:
    # A JSON list in cdk.json, or "arn1,arn2" with -c on the command line.
    value = node.try_get_context(key)
    items = value.split(",") if isinstance(value, str) else list(value or [])
    arns = tuple(str(item).strip() for item in items if str(item).strip())
    bad = [arn for arn in arns if not arn.startswith("arn:") or ":policy/" not in arn]
    if bad:
        raise ValueError(f"context {key}: expected IAM managed policy ARNs, got {bad}")
    return arns
