"""What the registrar and the worker need to create triggers and wake-ups at run time.

Workflows declare ``triggers:``; the registrar turns each into an EventBridge rule
(``<prefix>-rule-...`` on the default bus) or an EventBridge Scheduler schedule
(``<prefix>-schedule-...``); the worker schedules one-shot wake-ups the same way. This
construct creates the Scheduler group, the role schedules run as, and the permission that
lets those rules invoke the starter; ``infra.access`` scopes the functions to the prefixes
and their schedules to the group.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from baton import resource_names as names

SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"


class Scheduling(Construct):
    """The schedule group and the role EventBridge Scheduler assumes for Baton's schedules."""

    def __init__(self, scope: Construct, construct_id: str, *, resource_prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.resource_prefix = resource_prefix
        stack = Stack.of(self)
        self.group = scheduler.CfnScheduleGroup(self, "Group", name=names.schedule_group_name(resource_prefix))
        self.role = iam.Role(
            self,
            "SchedulerRole",
            description="Assumed by EventBridge Scheduler to start Baton workflows and wake their steps",
            # Only schedules of this account may use the role (the confused-deputy guard).
            assumed_by=iam.ServicePrincipal(
                SCHEDULER_PRINCIPAL, conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
        )

    def allow_targets(
        self, *, starter: lambda_.IFunction, step_queue: sqs.IQueue, dead_letter_queue: sqs.IQueue
    ) -> None:
        """Let schedules invoke the starter, send wake-ups to the step queue and firings they
        could not deliver to the dead-letter queue, and only that."""
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[starter.function_arn])
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"], resources=[step_queue.queue_arn, dead_letter_queue.queue_arn]
            )
        )

    def allow_rules_to_start(self, starter: lambda_.Function) -> None:
        """Let the registrar's trigger rules invoke the starter without a permission per rule."""
        stack = Stack.of(self)
        starter.add_permission(
            "InvokeFromTriggerRules",
            principal=iam.ServicePrincipal("events.amazonaws.com"),
            action="lambda:InvokeFunction",
            source_account=stack.account,
            source_arn=self.rule_arn_pattern,
        )

    @property
    def rule_arn_pattern(self) -> str:
        """ARNs of the trigger rules on the account's default bus."""
        return Stack.of(self).format_arn(
            service="events", resource="rule", resource_name=f"{names.rule_name_prefix(self.resource_prefix)}*"
        )

    @property
    def schedule_arn_pattern(self) -> str:
        """ARNs of the schedules the functions may manage: Baton's own, in Baton's group.

        The runtime names the group in every schedule call (``BATON_SCHEDULE_GROUP``), so
        nothing is granted in the account's ``default`` group.
        """
        group = names.schedule_group_name(self.resource_prefix)
        prefix = names.schedule_name_prefix(self.resource_prefix)
        return Stack.of(self).format_arn(service="scheduler", resource="schedule", resource_name=f"{group}/{prefix}*")
