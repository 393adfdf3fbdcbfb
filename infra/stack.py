"""``BatonStack``: the constructs of one Baton deployment, composed."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from baton import resource_names as names
from infra import access
from infra.api import Api, stack_resources
from infra.config import BatonStackProps
from infra.events import Events
from infra.functions import Functions, powertools_environment
from infra.long_steps import LongSteps
from infra.nag import acknowledge_findings
from infra.observability import Observability
from infra.queueing import Queueing
from infra.routing import Routing
from infra.scheduling import Scheduling
from infra.state import State
from infra.step_role import StepRole, guarded_arns
from infra.storage import Storage


class BatonStack(Stack):
    """Buckets, tables, the step queue, the bus, the functions and their wiring, the dashboard.

    Every function gets ``function_environment``, so the runtime finds every resource
    through the names in ``baton.resource_names``; the registrar and the worker also get
    what they need to create rules and schedules.
    """

    def __init__(self, scope: Construct, props: BatonStackProps) -> None:
        super().__init__(
            scope,
            props.stack_name,
            stack_name=props.stack_name,
            description="Baton: YAML workflows on AWS serverless",
        )
        self.props = props
        self.storage = Storage(
            self,
            "Storage",
            removal_policy=props.removal_policy,
            log_retention_days=props.log_retention_days,
            noncurrent_version_expiry_days=props.noncurrent_version_expiry_days,
            cache_expiry_days=props.cache_expiry_days,
            execution_retention_days=props.execution_retention_days,
        )
        self.state = State(self, "State", removal_policy=props.removal_policy)
        self.queueing = Queueing(self, "Queueing", visibility_timeout_seconds=props.step_visibility_timeout_seconds)
        self.events = Events(self, "Events", resource_prefix=props.resource_prefix)
        self.scheduling = Scheduling(self, "Scheduling", resource_prefix=props.resource_prefix)
        self.functions = Functions(
            self, "Functions", props=props, environment=self.function_environment, step_queue=self.queueing.step_queue
        )
        self._wire_triggers()
        self._grant()
        self.routing = Routing(
            self,
            "Routing",
            definitions_bucket=self.storage.definitions_bucket,
            bus=self.events.bus,
            registrar=self.functions.registrar,
            starter=self.functions.starter,
            failed_invocations_queue=self.queueing.failed_invocations_queue,
        )
        self.functions.send_failures_to(self.queueing.failed_invocations_queue)
        self.observability = Observability(
            self,
            "Observability",
            dashboard_name=props.resource_prefix,
            functions=self.functions.all,
            step_queue=self.queueing.step_queue,
            dead_letter_queue=self.queueing.dead_letter_queue,
            failed_invocations_queue=self.queueing.failed_invocations_queue,
            alarm_email=props.alarm_email,
        )
        self.api = Api(self, "Api", props=props, environment=self.function_environment, resources=stack_resources(self),
                       functions=self.functions)  # fmt: skip
        self._add_outputs()
        acknowledge_findings(self)

    @property
    def function_environment(self) -> dict[str, str]:
        """Environment variables every Baton function gets, keyed by their names."""
        return {
            names.ENV_EXECUTIONS_TABLE: self.state.executions_table.table_name,
            names.ENV_DEFINITIONS_TABLE: self.state.definitions_table.table_name,
            names.ENV_IDEMPOTENCY_TABLE: self.state.idempotency_table.table_name,
            names.ENV_DEFINITIONS_BUCKET: self.storage.definitions_bucket.bucket_name,
            names.ENV_ARTIFACTS_BUCKET: self.storage.artifacts_bucket.bucket_name,
            names.ENV_CACHE_BUCKET: self.storage.cache_bucket.bucket_name,
            names.ENV_STEP_QUEUE_URL: self.queueing.step_queue.queue_url,
            names.ENV_EVENT_BUS: self.events.bus.event_bus_name,
            names.ENV_RESOURCE_PREFIX: self.props.resource_prefix,
        }

    def _wire_triggers(self) -> None:
        """The registrar creates rules and schedules that start workflows; the worker, wake-ups."""
        functions, scheduling = self.functions, self.scheduling
        scheduling.allow_targets(starter=functions.starter, step_queue=self.queueing.step_queue,
                                 dead_letter_queue=self.queueing.failed_invocations_queue)  # fmt: skip
        scheduling.allow_rules_to_start(functions.starter)
        shared = {
            names.ENV_SCHEDULER_ROLE_ARN: scheduling.role.role_arn,
            names.ENV_SCHEDULE_GROUP: names.schedule_group_name(self.props.resource_prefix),
        }
        registrar_only = {
            names.ENV_STARTER_FUNCTION_ARN: functions.starter.function_arn,
            names.ENV_FAILED_INVOCATIONS_QUEUE_ARN: self.queueing.failed_invocations_queue.queue_arn,
        }
        for key, value in {**shared, **registrar_only}.items():
            functions.registrar.add_environment(key, value)
        for key, value in {**shared, names.ENV_STEP_QUEUE_ARN: self.queueing.step_queue.queue_arn}.items():
            functions.worker.add_environment(key, value)

    def _grant(self) -> None:
        resources = access.Resources(
            executions_table=self.state.executions_table,
            definitions_table=self.state.definitions_table,
            idempotency_table=self.state.idempotency_table,
            definitions_bucket=self.storage.definitions_bucket,
            artifacts_bucket=self.storage.artifacts_bucket,
            cache_bucket=self.storage.cache_bucket,
            step_queue=self.queueing.step_queue,
            bus=self.events.bus,
            scheduling=self.scheduling,
            secrets_prefix=self.props.effective_secrets_prefix,
        )
        functions = self.functions
        access.grant_registrar(functions.role_of(functions.registrar), resources)
        access.grant_starter(functions.role_of(functions.starter), resources)
        access.grant_worker(functions.role_of(functions.worker), resources)
        access.grant_approver(functions.role_of(functions.approver), resources)
        access.grant_sweeper(functions.role_of(functions.sweeper), resources)
        self.step_identities = StepRole(
            self,
            "Steps",
            worker_role=functions.role_of(functions.worker),
            guarded=guarded_arns(self, resources, resource_prefix=self.props.resource_prefix,
                                 dead_letter_queue_arns=[self.queueing.dead_letter_queue.queue_arn,
                                    self.queueing.failed_invocations_queue.queue_arn]),
            managed_policy_arns=self.props.step_policy_arns,
        )  # fmt: skip
        self.step_role = self.step_identities.role
        functions.worker.add_environment(names.ENV_STEP_ROLE_ARN, self.step_role.role_arn)
        if self.props.step_events:
            functions.worker.add_environment(names.ENV_STEP_EVENTS, "true")
        if self.props.bedrock_endpoint_url:
            functions.worker.add_environment(names.ENV_BEDROCK_ENDPOINT_URL, self.props.bedrock_endpoint_url)
        self._long_steps(resources)

    def _long_steps(self, resources: access.Resources) -> None:
        """The CodeBuild project of ``runner: long`` steps: the worker starts its builds, the
        registrar accepts such steps, each build acts as a worker for its one unit. With
        ``baton:long-runner=process`` (an emulator without CodeBuild) there is no project and
        the worker starts the same entry point as a process of its host."""
        functions, props = self.functions, self.props
        self.long_steps: LongSteps | None = None
        if props.long_runner == "process":
            for function in (functions.worker, functions.registrar):
                function.add_environment(names.ENV_LONG_RUNNER, "process")
            return
        environment = {
            **self.function_environment,
            **powertools_environment(props.log_level),
            names.ENV_RETENTION_DAYS: str(props.execution_retention_days),
            names.ENV_SECRETS_PREFIX: props.effective_secrets_prefix,
            names.ENV_WORKER_TIMEOUT: str(props.worker_timeout_seconds),
            names.ENV_STEP_QUEUE_ARN: self.queueing.step_queue.queue_arn,
            names.ENV_SCHEDULER_ROLE_ARN: self.scheduling.role.role_arn,
            names.ENV_SCHEDULE_GROUP: names.schedule_group_name(props.resource_prefix),
            names.ENV_STEP_ROLE_ARN: self.step_role.role_arn,
            **({names.ENV_STEP_EVENTS: "true"} if props.step_events else {}),
            **({names.ENV_BEDROCK_ENDPOINT_URL: props.bedrock_endpoint_url} if props.bedrock_endpoint_url else {}),
        }
        self.long_steps = LongSteps(self, "LongSteps", props=props, environment=environment)
        access.grant_long_step(self.long_steps.role, resources)
        self.step_identities.allow(self.long_steps.role)
        self.long_steps.allow_start(functions.role_of(functions.worker))
        for function in (functions.worker, functions.registrar):
            function.add_environment(names.ENV_LONG_STEP_PROJECT, self.long_steps.project.project_name)

    def _add_outputs(self) -> None:
        # `baton ... --stack NAME` and operators find every resource through these outputs.
        for output_id, value in self.outputs.items():
            CfnOutput(self, output_id, value=value)

    @property
    def outputs(self) -> dict[str, str]:
        """The stack outputs, keyed by output id (see ``baton.cli.stack_commands``)."""
        functions = self.functions
        return {
            "DefinitionsBucketName": self.storage.definitions_bucket.bucket_name,
            "ArtifactsBucketName": self.storage.artifacts_bucket.bucket_name,
            "CacheBucketName": self.storage.cache_bucket.bucket_name,
            "AccessLogsBucketName": self.storage.access_logs_bucket.bucket_name,
            "ExecutionsTableName": self.state.executions_table.table_name,
            "DefinitionsTableName": self.state.definitions_table.table_name,
            "IdempotencyTableName": self.state.idempotency_table.table_name,
            "StepQueueUrl": self.queueing.step_queue.queue_url,
            "StepDeadLetterQueueUrl": self.queueing.dead_letter_queue.queue_url,
            "FailedInvocationsQueueUrl": self.queueing.failed_invocations_queue.queue_url,
            "AlarmTopicArn": self.observability.topic.topic_arn,
            "EventBusName": self.events.bus.event_bus_name,
            "ResourcePrefix": self.props.resource_prefix,
            "RegistrarFunctionName": functions.registrar.function_name,
            "StarterFunctionName": functions.starter.function_name,
            "WorkerFunctionName": functions.worker.function_name,
            "ApproverFunctionName": functions.approver.function_name,
            "WorkerRoleArn": functions.role_of(functions.worker).role_arn,
            "StepRoleArn": self.step_role.role_arn,
            "ScheduleGroupName": names.schedule_group_name(self.props.resource_prefix),
            "SchedulerRoleArn": self.scheduling.role.role_arn,
            # The name, not a Ref: LocalStack answers Ref of a dashboard with "unknown".
            "DashboardName": self.props.resource_prefix,
            **({"LongStepProjectName": self.long_steps.project.project_name} if self.long_steps else {}),
        }
