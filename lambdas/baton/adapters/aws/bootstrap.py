"""The AWS wiring: adapters built once per process from the environment the stack sets.

``baton.bootstrap`` (the embedded backend) belongs to the engine; this module is its AWS
counterpart and the only place the handlers get adapters from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from baton import resource_names as names
from baton.adapters.aws.children import AwsChildWorkflows, RegistryVersions
from baton.adapters.aws.clients import AwsClients
from baton.adapters.aws.codebuild_runner import CodeBuildRunner
from baton.adapters.aws.definitions import DefinitionRegistry
from baton.adapters.aws.dynamodb_state import DynamoDBStateStore
from baton.adapters.aws.events import EventBridgePublisher
from baton.adapters.aws.items import ItemCodec
from baton.adapters.aws.process_runner import ProcessRunner
from baton.adapters.aws.runtime import LambdaSupervisor, step_environment
from baton.adapters.aws.s3_artifacts import S3ArtifactStore
from baton.adapters.aws.secrets import AwsSecretResolver
from baton.adapters.aws.settings import AwsSettings
from baton.adapters.aws.sqs_step_queue import SqsStepQueue
from baton.adapters.aws.step_identity import AssumedStepRole
from baton.adapters.local.runtime import SystemClock, ThreadPoolDispatcher
from baton.engine.service import Engine
from baton.ports import LongRunner, NoStepIdentity, Ports, StepIdentity

# Tunables the stack leaves at their defaults (tests set them).
WORKSPACE_ROOT_ENV = "BATON_WORKSPACE_ROOT"
DEFAULT_WORKSPACE_ROOT = Path("/tmp/baton")
LEASE_SECONDS_ENV = "BATON_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 120.0


@dataclass
class AwsBackend:
    """Every adapter of one process, sharing one set of clients."""

    settings: AwsSettings
    clients: AwsClients
    store: DynamoDBStateStore
    artifacts: S3ArtifactStore
    queue: SqsStepQueue
    publisher: EventBridgePublisher
    secrets: AwsSecretResolver
    registry: DefinitionRegistry
    clock: SystemClock
    workspace_root: Path
    base_env: dict[str, str]
    lease_seconds: float
    recheck_seconds: int = 30
    """How long an execution queued behind its concurrency key waits between looks."""
    step_identity: StepIdentity = field(default_factory=NoStepIdentity)
    """The credentials steps get: the step role's, per workflow (never the function's)."""
    long_runner: LongRunner | None = None
    """Where ``runner: long`` steps run (a CodeBuild project); None in the runner's own process."""

    def ports(self, request_id: str, *, owner: str | None = None) -> Ports:
        """Ports for one invocation: its own lease owner (``owner``: the name a unit was claimed
        in for a long-step runner's process), a small pool for step processes."""
        return Ports(
            store=self.store,
            artifacts=self.artifacts,
            clock=self.clock,
            secrets=self.secrets,
            supervisor=LambdaSupervisor(request_id, owner=owner),
            new_dispatcher=lambda: ThreadPoolDispatcher(max_workers=2),
            step_identity=self.step_identity,
            long_runner=self.long_runner,
            children=AwsChildWorkflows(self.registry, self.store, self.queue, self.publisher),
            versions=RegistryVersions(self.registry),
        )

    def engine(self, request_id: str, *, owner: str | None = None) -> Engine:
        """The engine on these adapters for one invocation."""
        return Engine(self.ports(request_id, owner=owner), base_env=self.base_env, lease_seconds=self.lease_seconds)


def aws_backend(
    settings: AwsSettings,
    clients: AwsClients,
    *,
    workspace_root: Path = DEFAULT_WORKSPACE_ROOT,
    base_env: Mapping[str, str] | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    recheck_seconds: int = 30,
    with_long_runner: bool = True,
    runner_environ: Mapping[str, str] | None = None,
) -> AwsBackend:
    """Build every adapter over ``clients``.

    ``with_long_runner`` False: ``runner: long`` steps run here (this is the runner's own
    process). ``runner_environ``: what a stand-in long-step process is started with (the
    function's environment, by default).
    """
    clock = SystemClock()
    codec = ItemCodec(lambda: clients("s3"), settings.artifacts_bucket, retention_seconds=settings.retention_seconds)
    store = DynamoDBStateStore(lambda: clients("dynamodb"), codec,
                               executions_table=settings.executions_table,
                               definitions_table=settings.definitions_table)  # fmt: skip
    artifacts = S3ArtifactStore(lambda: clients("s3"), artifacts_bucket=settings.artifacts_bucket,
                                cache_bucket=settings.cache_bucket, scratch=workspace_root / "logs")  # fmt: skip
    queue = SqsStepQueue(lambda: clients("sqs"), lambda: clients("scheduler"),
                          queue_url=settings.step_queue_url, queue_arn=settings.step_queue_arn,
                          resource_prefix=settings.resource_prefix,
                          scheduler_role_arn=settings.scheduler_role_arn, now=clock.now,
                          schedule_group=settings.schedule_group)  # fmt: skip
    return AwsBackend(
        settings=settings,
        clients=clients,
        store=store,
        artifacts=artifacts,
        queue=queue,
        publisher=EventBridgePublisher(
            lambda: clients("events"), bus=settings.event_bus, step_events=settings.step_events
        ),
        secrets=AwsSecretResolver(lambda: clients("ssm"), lambda: clients("secretsmanager"), monotonic=clock.monotonic),
        registry=DefinitionRegistry(lambda: clients("dynamodb"), settings.definitions_table),
        clock=clock,
        workspace_root=workspace_root,
        base_env=dict(base_env) if base_env is not None else step_environment(os.environ, workspace_root),
        lease_seconds=lease_seconds,
        recheck_seconds=recheck_seconds,
        step_identity=step_identity(settings, clients, clock),
        long_runner=long_runner(
            settings, clients, os.environ if runner_environ is None else runner_environ, workspace_root
        )
        if with_long_runner
        else None,
    )


def long_runner(
    settings: AwsSettings, clients: AwsClients, environ: Mapping[str, str], workspace_root: Path
) -> LongRunner | None:
    """The long-step runner the settings select, if any."""
    if settings.long_runner == "process":
        return ProcessRunner(environ, workspace_root / "long-steps")
    if settings.long_runner == "codebuild" and settings.long_step_project:
        return CodeBuildRunner(lambda: clients("codebuild"), settings.long_step_project)
    return None


def step_identity(settings: AwsSettings, clients: AwsClients, clock: SystemClock) -> StepIdentity:
    """The step role, assumed per workflow, when the stack names one; else no credentials."""
    if settings.step_role_arn is None:
        return NoStepIdentity()
    return AssumedStepRole(lambda: clients("sts"), settings.step_role_arn, now=clock.now, region=clients.region)


def backend_from_environ(
    environ: Mapping[str, str] | None = None, clients: AwsClients | None = None, *, role: str | None = None
) -> AwsBackend:
    """The backend of a Lambda function, from its environment.

    ``role`` (``worker``...) names the function: a variable it needs that the environment
    lacks is a ``SettingsError`` at cold start, not a failure at the first long wait.
    """
    environ = os.environ if environ is None else environ
    required = names.FUNCTION_ENVIRONMENT_VARIABLES[role] if role is not None else names.ENVIRONMENT_VARIABLES
    settings = AwsSettings.from_environ(environ, required=required)
    root = Path(environ.get(WORKSPACE_ROOT_ENV) or DEFAULT_WORKSPACE_ROOT)
    lease = float(environ.get(LEASE_SECONDS_ENV) or DEFAULT_LEASE_SECONDS)
    return aws_backend(settings, clients or AwsClients(), workspace_root=root,
                       base_env=step_environment(environ, root), lease_seconds=lease,
                       with_long_runner=role != "long_step", runner_environ=environ)  # fmt: skip
