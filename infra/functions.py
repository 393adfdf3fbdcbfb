"""The four Lambda functions: registrar, starter, worker and approver.

Each has its own role (permissions are added by ``infra.access``), its own log group
with the deployment's retention, X-Ray tracing, and the Powertools settings. Function
and log group names are fixed (``<prefix>-worker``, ``/aws/lambda/<prefix>-worker``) so
that the CLI, operators and emulators all find the logs where Lambda puts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from aws_cdk import CfnElement, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk.aws_lambda_event_sources import SqsEventSource
from constructs import Construct

from baton import resource_names as names
from infra.bundling import lambda_code
from infra.config import BatonStackProps

RUNTIME = lambda_.Runtime.PYTHON_3_12
# Graviton (arm64, the default) costs 20% less per GB-second than x86_64; the bundle's
# wheels follow the architecture (infra.bundling.PLATFORMS).
ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}
SERVICE_NAME = names.DEFAULT_SERVICE_NAME
METRICS_NAMESPACE = names.DEFAULT_METRICS_NAMESPACE
# Account-wide name of the AWS-managed Powertools v3 layer (Python 3.12, per architecture).
POWERTOOLS_LAYER_ARN = (
    "arn:{partition}:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-{architecture}:{version}"
)


@dataclass(frozen=True)
class FunctionSpec:
    """What tells one Baton function from another."""

    role: str
    """``registrar``, ``starter``, ``worker``, ``approver``, ``sweeper`` or ``api``: the handler
    module and name suffix."""
    description: str
    timeout_seconds: int
    memory_mb: int
    id: str | None = None
    """The function's construct id, if not the capitalized role."""

    @property
    def handler(self) -> str:
        """The Lambda handler string (module path inside the asset, then the callable)."""
        return f"baton.handlers.{self.role}.handler"

    @property
    def construct_id(self) -> str:
        """The id of the function's construct (``Worker``)."""
        return self.id or self.role.capitalize()


# The registrar, starter and approver make a few AWS calls each and wait on them: 256 MB
# holds the package and boto3 with room to spare; more memory would buy CPU they do not use.
REGISTRAR = FunctionSpec("registrar", "Validates and registers uploaded workflow definitions", 60, 256)
STARTER = FunctionSpec("starter", "Starts workflow executions, once per request", 60, 256)
APPROVER = FunctionSpec("approver", "Records answers to approval steps", 30, 256)
SWEEPER = FunctionSpec("sweeper", "Restarts executions that nothing moves", 120, 256)
SWEEP_EVERY = Duration.minutes(5)
"""How often the sweeper looks; a stalled execution also waits out the sweeper's quiet
period (two minutes) first."""


def worker_spec(timeout_seconds: int, memory_mb: int = 1024) -> FunctionSpec:
    """The worker: runs steps inline for up to ``timeout_seconds``. Steps are processes that
    need CPU, which Lambda gives in proportion to memory (``baton:worker-memory-mb``)."""
    return FunctionSpec("worker", "Runs workflow steps from the step queue", timeout_seconds, memory_mb)


def powertools_environment(log_level: str) -> dict[str, str]:
    """The Powertools settings every function gets."""
    return {
        names.ENV_POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        names.ENV_POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": log_level,
        "POWERTOOLS_LOGGER_LOG_EVENT": "false",  # events carry workflow inputs: never log them whole
    }


class Functions(Construct):
    """The functions, their roles and log groups; the worker reads the step queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: BatonStackProps,
        environment: Mapping[str, str],
        step_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._props = props
        self._environment = {**environment, **powertools_environment(props.log_level)}
        self._code = lambda_code(with_aws_extra=props.powertools_layer_version is None,
                                 architecture=props.architecture)  # fmt: skip
        self._layers = self._powertools_layers()
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.registrar = self._function(REGISTRAR)
        self.starter = self._function(STARTER)
        self.approver = self._function(APPROVER)
        self.sweeper = self._function(SWEEPER)
        events.Rule(
            self,
            "SweepSchedule",
            description="Baton: look for stalled executions",
            schedule=events.Schedule.rate(SWEEP_EVERY),
            targets=[targets.LambdaFunction(self.sweeper, retry_attempts=0)],
        )
        self.worker = self._function(
            worker_spec(props.worker_timeout_seconds, props.worker_memory_mb),
            reserved_concurrency=props.worker_reserved_concurrency,
        )
        self.worker.add_event_source(
            SqsEventSource(
                step_queue,
                batch_size=props.worker_batch_size,
                report_batch_item_failures=True,
                max_concurrency=props.worker_max_concurrency,
            )
        )

    def send_failures_to(self, queue: sqs.IQueue) -> None:
        """Asynchronous invocations of the registrar and the starter that fail after Lambda's
        retries land in ``queue`` (with the event and the error) instead of being dropped."""
        for function in (self.registrar, self.starter):
            function.configure_async_invoke(on_failure=destinations.SqsDestination(queue), retry_attempts=2)

    @property
    def all(self) -> dict[str, lambda_.Function]:
        """Every function, keyed by role."""
        return {"registrar": self.registrar, "starter": self.starter, "worker": self.worker,
                "approver": self.approver, "sweeper": self.sweeper}  # fmt: skip

    def role_of(self, function: lambda_.Function) -> iam.Role:
        """The function's own execution role."""
        return cast(iam.Role, function.role)

    def _function(self, spec: FunctionSpec, *, reserved_concurrency: int | None = None) -> lambda_.Function:
        environment = {
            **self._environment,
            names.ENV_RETENTION_DAYS: str(self._props.execution_retention_days),
            names.ENV_SECRETS_PREFIX: self._props.effective_secrets_prefix,
            names.ENV_WORKER_TIMEOUT: str(self._props.worker_timeout_seconds),
        }
        return self.function_in(self, spec, environment=environment, reserved_concurrency=reserved_concurrency)

    def function_in(
        self,
        scope: Construct,
        spec: FunctionSpec,
        *,
        environment: Mapping[str, str],
        reserved_concurrency: int | None = None,
    ) -> lambda_.Function:
        """A Baton function in ``scope`` from this deployment's code and layers: its own role
        (``<id>Role``), log group (``<id>Logs``) and ``environment`` (beside Powertools')."""
        name = names.function_name(self._props.resource_prefix, spec.role)
        log_group = self._log_group(scope, spec, name)
        # Our own role: the default one would carry the AWSLambdaBasicExecutionRole managed
        # policy, which lets the function write to every log group in the account.
        role = iam.Role(
            scope,
            f"{spec.construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the Baton {spec.role} function",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            scope,
            spec.construct_id,
            function_name=name,
            description=f"Baton: {spec.description}",
            runtime=RUNTIME,
            architecture=ARCHITECTURES[self._props.architecture],
            handler=spec.handler,
            code=self._code,
            layers=self._layers,
            role=role,
            timeout=Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            reserved_concurrent_executions=reserved_concurrency,
            environment={**powertools_environment(self._props.log_level), **environment},
        )
        depend_on_policy_only(function, role)
        return function

    def _log_group(self, scope: Construct, spec: FunctionSpec, name: str) -> logs.LogGroup:
        log_group = logs.LogGroup(
            scope,
            f"{spec.construct_id}Logs",
            log_group_name=f"/aws/lambda/{name}",
            removal_policy=self._props.removal_policy,
        )
        # The L2 takes retention as an enum of named periods; the props hold a day count
        # that config.py already checked against the values CloudWatch accepts.
        cast(logs.CfnLogGroup, log_group.node.default_child).retention_in_days = self._props.log_retention_days
        self.log_groups[spec.role] = log_group
        return log_group

    def _powertools_layers(self) -> list[lambda_.ILayerVersion] | None:
        version = self._props.powertools_layer_version
        if version is None:
            return None
        stack = Stack.of(self)
        arn = POWERTOOLS_LAYER_ARN.format(partition=stack.partition, region=stack.region, version=version,
                                          architecture=self._props.architecture)  # fmt: skip
        return [lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", arn)]


def depend_on_policy_only(function: lambda_.Function, role: iam.Role) -> None:
    """Keep ``DependsOn`` to the role's policy, drop the one to the role itself.

    CDK makes a function depend on its role and everything under it, so the policy exists
    before the function (and its SQS event source, which Lambda checks against the role's
    permissions). The role half repeats what ``Fn::GetAtt`` on its ARN already enforces
    and is what cfn-lint reports as W3005.
    """
    stack = Stack.of(function)
    policy = cast(CfnElement, role.node.find_child("DefaultPolicy").node.default_child)
    cfn_function = cast(lambda_.CfnFunction, function.node.default_child)
    cfn_function.add_override("DependsOn", [stack.get_logical_id(policy)])
