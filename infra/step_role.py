"""The step role: what a workflow's steps act as on AWS, instead of the worker's role.

The worker assumes it once per workflow (session tag ``baton-workflow=<name>``) and hands
the temporary credentials to the step. Its own policy only denies: every table, bucket,
queue, bus, rule, schedule, function and secret of the deployment, so an operator who
attaches a broad policy (``baton:step-policy-arns``) still cannot give a step the engine's
state. See docs/adr/0006-step-credentials.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from baton import resource_names as names
from infra.access import Resources
from infra.step_policy import GuardedArns, guard_statements


def guarded_arns(
    stack: Stack, resources: Resources, *, resource_prefix: str, dead_letter_queue_arns: Sequence[str]
) -> GuardedArns:
    """The stack's resources as ``GuardedArns`` (tokens resolved by CloudFormation)."""
    scheduling = resources.scheduling
    secrets = resources.secrets_prefix
    return GuardedArns(
        tables=[t.table_arn for t in (resources.executions_table, resources.definitions_table,
                                      resources.idempotency_table)],
        buckets=[b.bucket_arn for b in (resources.definitions_bucket, resources.artifacts_bucket,
                                        resources.cache_bucket)],
        queues=[resources.step_queue.queue_arn, *dead_letter_queue_arns],
        bus=resources.bus.event_bus_arn,
        rules=scheduling.rule_arn_pattern,
        schedules=[scheduling.schedule_arn_pattern,
                   stack.format_arn(service="scheduler", resource="schedule-group",
                                    resource_name=names.schedule_group_name(resource_prefix))],
        functions=stack.format_arn(service="lambda", resource="function", resource_name=f"{resource_prefix}-*",
                                   arn_format=ArnFormat.COLON_RESOURCE_NAME),
        secrets=[stack.format_arn(service="ssm", resource="parameter", resource_name=f"{secrets}/*"),
                 stack.format_arn(service="secretsmanager", resource="secret", resource_name=f"{secrets}/*",
                                  arn_format=ArnFormat.COLON_RESOURCE_NAME)],
        roles=[scheduling.role.role_arn],
    )  # fmt: skip


class StepRole(Construct):
    """The role steps act as, assumable (with session tags) by the worker's role only."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        worker_role: iam.IRole,
        guarded: GuardedArns,
        managed_policy_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self._worker_role = worker_role
        document = iam.PolicyDocument.from_json({"Version": "2012-10-17", "Statement": guard_statements(guarded)})
        self.role = iam.Role(
            self,
            "Role",
            description="Assumed by the Baton worker for each workflow's steps; denied Baton's own resources",
            assumed_by=iam.ArnPrincipal(worker_role.role_arn).with_session_tags(),
            inline_policies={"DenyBatonResources": document},
            managed_policies=[
                iam.ManagedPolicy.from_managed_policy_arn(self, f"Granted{index}", arn)
                for index, arn in enumerate(managed_policy_arns)
            ],
        )
        self.allow(worker_role)

    def allow(self, role: iam.IRole) -> None:
        """Let ``role`` assume the step role with session tags (the worker; the long-step builds)."""
        if role is not self._worker_role:
            statement = iam.PolicyStatement(
                actions=["sts:AssumeRole", "sts:TagSession"], principals=[iam.ArnPrincipal(role.role_arn)]
            )
            self.role.assume_role_policy.add_statements(statement)  # type: ignore[union-attr]
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sts:AssumeRole", "sts:TagSession"], resources=[self.role.role_arn])
        )
