"""Names shared by the CDK stack (``infra/``) and the Lambda runtime.

The stack creates resources under these names and hands them to the functions through
the environment variables named here; the AWS adapters read the same constants. Keeping
both sides on one module means a renamed key or variable cannot drift between them.

This module imports only the standard library: the Lambda bundle and the CDK app both
import it, and neither may drag the other's dependencies in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# --- DynamoDB ---------------------------------------------------------------------------

PARTITION_KEY: Final = "pk"
"""Partition key attribute of the executions and definitions tables (string)."""

SORT_KEY: Final = "sk"
"""Sort key attribute of the executions and definitions tables (string)."""

EXECUTIONS_TTL_ATTRIBUTE: Final = "expires_at"
"""Epoch-seconds attribute after which DynamoDB may delete an execution's records."""

WORKFLOW_INDEX_NAME: Final = "by-workflow"
"""GSI of the executions table that lists one workflow's executions by start time."""

WORKFLOW_INDEX_PARTITION_KEY: Final = "workflow"
"""GSI partition key: the workflow name. Only execution records carry it (sparse index)."""

WORKFLOW_INDEX_SORT_KEY: Final = "started_at"
"""GSI sort key: ISO 8601 UTC start time, so string order is time order."""

IDEMPOTENCY_KEY: Final = "id"
"""Partition key of the idempotency table (the Powertools idempotency default)."""

IDEMPOTENCY_TTL_ATTRIBUTE: Final = "expiration"
"""TTL attribute of the idempotency table (the Powertools idempotency default)."""

# --- Environment variables the functions read -------------------------------------------

ENV_EXECUTIONS_TABLE: Final = "BATON_EXECUTIONS_TABLE"
ENV_DEFINITIONS_TABLE: Final = "BATON_DEFINITIONS_TABLE"
ENV_IDEMPOTENCY_TABLE: Final = "BATON_IDEMPOTENCY_TABLE"
ENV_DEFINITIONS_BUCKET: Final = "BATON_DEFINITIONS_BUCKET"
ENV_ARTIFACTS_BUCKET: Final = "BATON_ARTIFACTS_BUCKET"
ENV_CACHE_BUCKET: Final = "BATON_CACHE_BUCKET"
ENV_STEP_QUEUE_URL: Final = "BATON_STEP_QUEUE_URL"
ENV_EVENT_BUS: Final = "BATON_EVENT_BUS"
ENV_RESOURCE_PREFIX: Final = "BATON_RESOURCE_PREFIX"

ENVIRONMENT_VARIABLES: Final = (
    ENV_EXECUTIONS_TABLE,
    ENV_DEFINITIONS_TABLE,
    ENV_IDEMPOTENCY_TABLE,
    ENV_DEFINITIONS_BUCKET,
    ENV_ARTIFACTS_BUCKET,
    ENV_CACHE_BUCKET,
    ENV_STEP_QUEUE_URL,
    ENV_EVENT_BUS,
    ENV_RESOURCE_PREFIX,
)
"""Every variable above: the stack sets all of them on each function."""

# --- Names built from the resource prefix -----------------------------------------------

MAX_RESOURCE_PREFIX_LENGTH: Final = 24
"""Rule and schedule names are capped at 64 characters; the prefix leaves ~34 for the rest."""

_RESOURCE_PREFIX_PATTERN: Final = re.compile(r"[a-z][a-z0-9-]*")

MAX_RULE_NAME_LENGTH: Final = 64
"""EventBridge rule names: at most 64 characters of ``[.-_A-Za-z0-9]``."""

MAX_SCHEDULE_NAME_LENGTH: Final = 64
"""EventBridge Scheduler schedule names: at most 64 characters of ``[.-_A-Za-z0-9]``."""


def is_valid_resource_prefix(resource_prefix: str) -> bool:
    """Tell whether ``resource_prefix`` can start every name built in this module.

    A prefix is lower-case letters, digits and hyphens, starts with a letter and is at
    most ``MAX_RESOURCE_PREFIX_LENGTH`` characters long.
    """
    return (
        len(resource_prefix) <= MAX_RESOURCE_PREFIX_LENGTH
        and _RESOURCE_PREFIX_PATTERN.fullmatch(resource_prefix) is not None
    )


def event_bus_name(resource_prefix: str) -> str:
    """Return the name of the stack's EventBridge bus for lifecycle events."""
    return f"{resource_prefix}-bus"


def rule_name_prefix(resource_prefix: str) -> str:
    """Return the prefix of every EventBridge rule the registrar creates for triggers.

    IAM policies scope rule management to ``rule/<prefix>*``, so a rule named otherwise
    cannot be created or deleted by the functions.
    """
    return f"{resource_prefix}-rule-"


def schedule_name_prefix(resource_prefix: str) -> str:
    """Return the prefix of every EventBridge Scheduler schedule Baton creates.

    Covers cron triggers and the one-shot schedules behind long waits and approval
    timeouts; IAM policies scope schedule management to this prefix.
    """
    return f"{resource_prefix}-schedule-"


# --- Added for the AWS runtime (handlers and adapters) ----------------------------------
# Not in ``ENVIRONMENT_VARIABLES``: the stack sets these only on the functions that need
# them (the registrar creates triggers; the worker creates one-shot wake-up schedules).

ENV_STEP_QUEUE_ARN: Final = "BATON_STEP_QUEUE_ARN"
"""ARN of the step queue: the target of one-shot wake-up schedules."""
ENV_STARTER_FUNCTION_ARN: Final = "BATON_STARTER_FUNCTION_ARN"
"""ARN of the starter function: the target of trigger rules and cron schedules."""
ENV_SCHEDULER_ROLE_ARN: Final = "BATON_SCHEDULER_ROLE_ARN"
"""Role EventBridge Scheduler assumes to invoke the starter or send to the step queue."""
ENV_RETENTION_DAYS: Final = "BATON_RETENTION_DAYS"
"""Days an execution's records live after their last change (the table's TTL)."""

TRIGGER_ENVIRONMENT_VARIABLES: Final = (
    ENV_STEP_QUEUE_ARN,
    ENV_STARTER_FUNCTION_ARN,
    ENV_SCHEDULER_ROLE_ARN,
    ENV_RETENTION_DAYS,
)
"""Optional variables of the AWS runtime, beyond ``ENVIRONMENT_VARIABLES``."""

EVENT_SOURCE: Final = "baton"
"""``source`` of every event Baton publishes on its bus."""

START_EXECUTION_DETAIL_TYPE: Final = "Start Baton Execution"
"""``detail-type`` of the event that asks the starter for an execution."""

STEP_QUEUE_MAX_RECEIVE_COUNT: Final = 5
"""Deliveries of one step message before it goes to the dead-letter queue; the worker marks
the execution failed on the last one."""

# --- Added for the CDK stack (functions, Scheduler group, CLI) ---------------------------

ENV_SCHEDULE_GROUP: Final = "BATON_SCHEDULE_GROUP"
"""EventBridge Scheduler group the stack creates for Baton's schedules; set on the registrar
and the worker, which create and delete every schedule in it. IAM grants schedules in this
group only: one created without a group (in ``default``) would be refused."""


ENV_STEP_ROLE_ARN: Final = "BATON_STEP_ROLE_ARN"
"""Role the worker assumes for each workflow's steps (set on the worker). Without it a step
gets no AWS credentials at all: the worker's own never reach a step."""
ENV_SECRETS_PREFIX: Final = "BATON_SECRETS_PREFIX"
"""Name prefix of the parameters and secrets the worker may read (the resource prefix if
unset); the registrar holds each workflow to ``<prefix>/<workflow>/`` and ``<prefix>/shared/``."""
ENV_WORKER_TIMEOUT: Final = "BATON_WORKER_TIMEOUT_SECONDS"
"""The worker function's timeout: the registrar refuses a step that could never fit in it."""
ENV_STEP_EVENTS: Final = "BATON_STEP_EVENTS"
ENV_BEDROCK_ENDPOINT_URL: Final = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
"""botocore's own variable for the Bedrock Runtime endpoint: set on the worker by
``baton:bedrock-endpoint-url``, and passed to steps (the ``bedrock`` agent provider)."""
"""``true``: publish a ``Baton Step Status Change`` event per step; otherwise only execution
events (each event is a billed EventBridge call)."""


def schedule_group_name(resource_prefix: str) -> str:
    """Return the name of the stack's EventBridge Scheduler schedule group."""
    return resource_prefix


def function_name(resource_prefix: str, role: str) -> str:
    """Return the name of a Baton function: ``<prefix>-registrar``, ``-starter``, ``-worker``,
    ``-approver``. Its log group is ``/aws/lambda/<name>``, where Lambda writes by default."""
    return f"{resource_prefix}-{role}"


FUNCTION_ROLES: Final = ("registrar", "starter", "worker", "approver")
"""The Baton functions, by the name of their handler module."""


# --- Added for the functions' environment (what each handler reads) ---------------------

ENV_POWERTOOLS_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
"""Powertools' variable for the service name: the ``service`` key of every log line and the
``service`` dimension of every metric."""
ENV_POWERTOOLS_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
"""Powertools' variable for the CloudWatch namespace of the EMF metrics."""
DEFAULT_SERVICE_NAME: Final = "baton"
"""The service name when ``POWERTOOLS_SERVICE_NAME`` is not set (and the one the stack sets)."""
DEFAULT_METRICS_NAMESPACE: Final = "Baton"
"""The namespace when ``POWERTOOLS_METRICS_NAMESPACE`` is not set (and the one the stack sets)."""

_SCHEDULING_VARIABLES: Final = (ENV_SCHEDULER_ROLE_ARN, ENV_SCHEDULE_GROUP)

FUNCTION_ENVIRONMENT_VARIABLES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "registrar": (*ENVIRONMENT_VARIABLES, ENV_STARTER_FUNCTION_ARN, *_SCHEDULING_VARIABLES),
        "starter": ENVIRONMENT_VARIABLES,
        "worker": (*ENVIRONMENT_VARIABLES, ENV_STEP_QUEUE_ARN, *_SCHEDULING_VARIABLES),
        "approver": ENVIRONMENT_VARIABLES,
        "sweeper": ENVIRONMENT_VARIABLES,
        "long_step": (*ENVIRONMENT_VARIABLES, ENV_STEP_QUEUE_ARN, *_SCHEDULING_VARIABLES),
    }
)
"""What each function needs to find its resources, by role: its handler refuses to start
without them. The registrar creates trigger rules and schedules (targeting the starter); the
worker creates one-shot wake-up schedules (targeting the step queue)."""

STACK_SETTING_VARIABLES: Final = (
    ENV_SECRETS_PREFIX,
    ENV_WORKER_TIMEOUT,
    ENV_RETENTION_DAYS,
    ENV_POWERTOOLS_SERVICE_NAME,
    ENV_POWERTOOLS_METRICS_NAMESPACE,
)
"""Read with a default; the stack sets them on every function so that its settings apply."""

ENV_FAILED_INVOCATIONS_QUEUE_ARN: Final = "BATON_FAILED_INVOCATIONS_QUEUE_ARN"
"""Queue of start requests given up on: the dead-letter queue of the registrar's schedules."""

ENV_LONG_STEP_PROJECT: Final = "BATON_LONG_STEP_PROJECT"
"""CodeBuild project of the long-step runner (set on the worker, which starts its builds, and
on the registrar, which then accepts ``runner: long`` steps)."""
ENV_LONG_RUNNER: Final = "BATON_LONG_RUNNER"
"""Which long-step runner the worker uses: ``codebuild`` (the default when the project is set)
or ``process`` (a process on the worker's host running the same entry point: the stand-in
for CodeBuild where there is none, as on LocalStack's community edition)."""
LONG_RUNNERS: Final = ("codebuild", "process")
ENV_LONG_EXECUTION_ID: Final = "BATON_LONG_EXECUTION_ID"
ENV_LONG_UNIT: Final = "BATON_LONG_UNIT"
ENV_LONG_OWNER: Final = "BATON_LONG_OWNER"
ENV_LONG_BUDGET: Final = "BATON_LONG_BUDGET_SECONDS"
LONG_STEP_JOB_VARIABLES: Final = (ENV_LONG_EXECUTION_ID, ENV_LONG_UNIT, ENV_LONG_OWNER, ENV_LONG_BUDGET)
"""The job of one long-step build: set by the worker on each build it starts (environment
overrides), never by the stack: the execution, the unit, the lease owner it was claimed in,
and the seconds it may take."""
LONG_STEP_ENTRY_POINT: Final = "baton.handlers.long_step"
"""The module a long-step runner's process runs (``python -m baton.handlers.long_step``)."""


LONG_RUNNER_MAX_SECONDS: Final = 8 * 3600
"""The longest a long-step build runs (CodeBuild's build timeout limit, 480 minutes): the
project's timeout, and the ceiling of each build's."""
LONG_QUEUED_MINUTES: Final = 8
"""A build still queued after this long is stopped by CodeBuild, so it never starts after
the claim the worker made for it ran out."""


def long_step_project_name(resource_prefix: str) -> str:
    """Return the name of the long-step runner's CodeBuild project."""
    return f"{resource_prefix}-long-steps"


OPTIONAL_FUNCTION_VARIABLES: Final = (ENV_STEP_ROLE_ARN, ENV_STEP_EVENTS, ENV_FAILED_INVOCATIONS_QUEUE_ARN,
                                      ENV_LONG_STEP_PROJECT, ENV_LONG_RUNNER)  # fmt: skip
"""Set by the stack where they apply (the worker's step role always, step events when
switched on; the registrar's failure queue); the functions run without them: steps get no
credentials, no per-step events are published, schedules keep no dead letters."""
