"""Where the AWS resources are: read once from the environment the stack sets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from baton import resource_names as names
from baton.errors import BatonError

DEFAULT_RETENTION_DAYS = 90


class SettingsError(BatonError):
    """A variable the AWS runtime needs is missing or malformed."""


@dataclass(frozen=True, slots=True)
class AwsSettings:
    """Names of the stack's resources, as ``baton.resource_names`` defines the variables."""

    executions_table: str
    definitions_table: str
    idempotency_table: str
    definitions_bucket: str
    artifacts_bucket: str
    cache_bucket: str
    step_queue_url: str
    event_bus: str
    resource_prefix: str
    step_queue_arn: str | None = None
    starter_function_arn: str | None = None
    scheduler_role_arn: str | None = None
    schedule_group: str | None = None
    """EventBridge Scheduler group of Baton's schedules (``GroupName`` of every schedule call;
    the account's ``default`` group if None, which the stack's IAM policies do not allow)."""
    retention_days: int = DEFAULT_RETENTION_DAYS
    step_role_arn: str | None = None
    """Role a workflow's steps act as; None: steps get no AWS credentials."""
    secrets_prefix: str | None = None
    """Name prefix of the deployment's secrets; None: the resource prefix."""
    failed_invocations_queue_arn: str | None = None
    """Dead-letter queue of trigger schedules (start requests Scheduler could not deliver)."""
    worker_timeout_seconds: int = 900
    """The worker function's timeout (what a step run inline must fit in)."""
    step_events: bool = False
    """Publish one event per step status change (opt-in: each is a billed call)."""
    long_step_project: str | None = None
    """CodeBuild project that runs ``runner: long`` steps; None: no CodeBuild runner."""
    long_runner: str | None = None
    """``codebuild``, ``process`` (a host process standing in for CodeBuild) or None: the
    deployment runs no ``runner: long`` step."""

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, required: Iterable[str] = names.ENVIRONMENT_VARIABLES
    ) -> AwsSettings:
        """Read every variable; ``SettingsError`` names each of ``required`` (and of the stack's
        resource names, needed by every function) that is missing."""
        needed = dict.fromkeys([*names.ENVIRONMENT_VARIABLES, *required])
        missing = [name for name in needed if not environ.get(name)]
        if missing:
            raise SettingsError(f"the AWS runtime needs these environment variables: {', '.join(missing)}")
        retention = environ.get(names.ENV_RETENTION_DAYS) or str(DEFAULT_RETENTION_DAYS)
        queue_url = environ[names.ENV_STEP_QUEUE_URL]
        if not retention.isdigit() or int(retention) < 1:
            raise SettingsError(f"{names.ENV_RETENTION_DAYS}={retention!r}: expected a whole number of days >= 1")
        return cls(
            executions_table=environ[names.ENV_EXECUTIONS_TABLE],
            definitions_table=environ[names.ENV_DEFINITIONS_TABLE],
            idempotency_table=environ[names.ENV_IDEMPOTENCY_TABLE],
            definitions_bucket=environ[names.ENV_DEFINITIONS_BUCKET],
            artifacts_bucket=environ[names.ENV_ARTIFACTS_BUCKET],
            cache_bucket=environ[names.ENV_CACHE_BUCKET],
            step_queue_url=queue_url,
            event_bus=environ[names.ENV_EVENT_BUS],
            resource_prefix=environ[names.ENV_RESOURCE_PREFIX],
            step_queue_arn=environ.get(names.ENV_STEP_QUEUE_ARN) or queue_arn_from_url(queue_url),
            starter_function_arn=environ.get(names.ENV_STARTER_FUNCTION_ARN) or None,
            scheduler_role_arn=environ.get(names.ENV_SCHEDULER_ROLE_ARN) or None,
            schedule_group=environ.get(names.ENV_SCHEDULE_GROUP) or None,
            retention_days=int(retention),
            step_role_arn=environ.get(names.ENV_STEP_ROLE_ARN) or None,
            secrets_prefix=environ.get(names.ENV_SECRETS_PREFIX) or None,
            failed_invocations_queue_arn=environ.get(names.ENV_FAILED_INVOCATIONS_QUEUE_ARN) or None,
            worker_timeout_seconds=_whole(environ, names.ENV_WORKER_TIMEOUT, 900),
            step_events=environ.get(names.ENV_STEP_EVENTS, "").strip().lower() in ("1", "true", "yes"),
            long_step_project=environ.get(names.ENV_LONG_STEP_PROJECT) or None,
            long_runner=_long_runner(environ),
        )

    @property
    def effective_secrets_prefix(self) -> str:
        """The name prefix workflows' secrets must live under."""
        return self.secrets_prefix or self.resource_prefix

    @property
    def retention_seconds(self) -> int:
        """How long an execution's records live after their last change."""
        return self.retention_days * 86_400


def _long_runner(environ: Mapping[str, str]) -> str | None:
    """The long-step runner the environment selects (``BATON_LONG_RUNNER``, else CodeBuild
    when a project is named)."""
    kind = (environ.get(names.ENV_LONG_RUNNER) or "").strip().lower()
    project = environ.get(names.ENV_LONG_STEP_PROJECT)
    if not kind:
        return "codebuild" if project else None
    if kind not in names.LONG_RUNNERS:
        raise SettingsError(f"{names.ENV_LONG_RUNNER}={kind!r}: expected one of {', '.join(names.LONG_RUNNERS)}")
    if kind == "codebuild" and not project:
        raise SettingsError(f"{names.ENV_LONG_RUNNER}=codebuild needs {names.ENV_LONG_STEP_PROJECT}")
    return kind


def _whole(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name) or str(default)
    if not value.isdigit():
        raise SettingsError(f"{name}={value!r}: expected a whole number of seconds")
    return int(value)


def queue_arn_from_url(url: str) -> str | None:
    """``https://sqs.<region>.amazonaws.com/<account>/<name>`` -> the queue's ARN, else None.

    The stack passes the ARN too; this fallback keeps a hand-made environment working.
    """
    parts = url.split("/")
    host = parts[2] if len(parts) > 4 else ""
    labels = host.split(".")
    if len(parts) != 5 or len(labels) < 4 or labels[0] != "sqs":
        return None
    return f"arn:aws:sqs:{labels[1]}:{parts[3]}:{parts[4]}"
