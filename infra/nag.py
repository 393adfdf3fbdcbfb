"""cdk-nag: the AwsSolutions checks and the findings this stack acknowledges."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from aws_cdk import Acknowledgment, App, CfnElement, Stack, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from baton import resource_names as names

if TYPE_CHECKING:
    from infra.stack import BatonStack

# How cdk-nag renders the pseudo parameters inside an ARN it reports.
_ARN_HEAD = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:"

XRAY_REASON = (
    "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions; "
    "CDK adds them for active tracing."
)
OBJECTS_REASON = (
    "Object keys are chosen at run time (definition uploads, artifact digests, cache keys); "
    "the statement is limited to this one bucket of the stack."
)
RULES_REASON = (
    "The registrar creates one EventBridge rule per workflow trigger, named at run time; "
    "the name prefix limits it to Baton's own rules on this account's default bus."
)
SCHEDULES_REASON = (
    "Schedules are created at run time for cron triggers and long waits; the statement is "
    "limited to Baton's own schedule group and, within it, to the schedule name prefix."
)
MODELS_REASON = (
    "Agent steps name their model in the workflow (any Bedrock model id or inference profile), "
    "and a cross-region inference profile invokes the model in another region."
)
SECRETS_REASON = (
    "Workflows name their secrets; the worker may read only parameters and secrets under the "
    "deployment's secrets prefix."
)
BUILD_KEY_REASON = (
    "The long-step project has no artifacts and no cache (NO_ARTIFACTS, NO_CACHE): an encryption "
    "key of its own would encrypt nothing; its state goes to the stack's encrypted table and buckets."
)
BUILD_LOGS_REASON = (
    "CodeBuild names a log stream per build in the project's own log group; the statement is limited to that one group."
)
RUNTIME_REASON = (
    "Pinned to Python 3.12: the asset's wheels are built for CPython 3.12 and the local "
    "emulator runs 3.12; raise it together with infra.bundling.LAMBDA_PYTHON_VERSION."
)


def add_nag_checks(app: App) -> None:
    """Run the AwsSolutions pack when ``app`` synthesizes; a finding fails synthesis.

    cdk-nag 3 is a CDK policy-validation plugin: findings go to the cloud assembly's
    validation report and make ``app.synth()`` raise, rather than becoming annotations.
    """
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge_findings(stack: BatonStack) -> None:
    """Acknowledge, on the narrowest construct, each AwsSolutions finding the stack keeps."""
    _acknowledge(
        stack.storage.access_logs_bucket,
        "AwsSolutions-S1",
        "This is the server access log bucket; logging it into itself would loop, "
        "and a second log bucket would only move the finding.",
    )
    _acknowledge(
        stack.queueing.failed_invocations_queue,
        "AwsSolutions-SQS3",
        "This queue is itself the dead-letter queue of the registrar and starter rule targets and "
        "their on-failure destination; a dead-letter queue of its own would only move the finding.",
    )
    functions = stack.functions
    for function in functions.all.values():
        _acknowledge(function, "AwsSolutions-L1", RUNTIME_REASON)
        _acknowledge_policy(functions.role_of(function), "*", XRAY_REASON)
        _acknowledge_policy(functions.role_of(function), _objects(stack.storage.artifacts_bucket), OBJECTS_REASON)
    registrar, worker = functions.role_of(functions.registrar), functions.role_of(functions.worker)
    builds = stack.long_steps.role if stack.long_steps else None
    _acknowledge_policy(registrar, _objects(stack.storage.definitions_bucket), OBJECTS_REASON)
    prefix = stack.props.resource_prefix
    _acknowledge_policy(registrar, _arn("events", f"rule/{names.rule_name_prefix(prefix)}*"), RULES_REASON)
    group = names.schedule_group_name(prefix)
    schedules = _arn("scheduler", f"schedule/{group}/{names.schedule_name_prefix(prefix)}*")
    _acknowledge_policy(registrar, schedules, SCHEDULES_REASON)
    secrets = stack.props.effective_secrets_prefix
    # A long-step build runs its unit as a worker does: the same grants, the same reasons.
    for role in (worker, *([builds] if builds else [])):
        _acknowledge_policy(role, _objects(stack.storage.cache_bucket), OBJECTS_REASON)
        _acknowledge_policy(role, schedules, SCHEDULES_REASON)
        _acknowledge_policy(role, _arn("ssm", f"parameter/{secrets}/*"), SECRETS_REASON)
        _acknowledge_policy(role, _arn("secretsmanager", f"secret:{secrets}/*"), SECRETS_REASON)
        _acknowledge_policy(role, "arn:<AWS::Partition>:bedrock:*::foundation-model/*", MODELS_REASON)
        _acknowledge_policy(role, _arn("bedrock", "inference-profile/*"), MODELS_REASON)
    if stack.long_steps is None or builds is None:
        return
    _acknowledge_policy(builds, _objects(stack.storage.artifacts_bucket), OBJECTS_REASON)
    project = stack.long_steps.project
    _acknowledge(project, "AwsSolutions-CB4", BUILD_KEY_REASON)
    project_id = stack.resolve(stack.get_logical_id(cast(CfnElement, project.node.default_child)))
    _acknowledge_policy(builds, _arn("logs", f"log-group:/aws/codebuild/<{project_id}>:*"), BUILD_LOGS_REASON)


def _objects(bucket: IConstruct) -> str:
    """How cdk-nag names ``bucket.arn_for_objects("*")``: ``<LogicalId.Arn>/*``."""
    stack = Stack.of(bucket)
    logical_id = stack.resolve(stack.get_logical_id(cast(CfnElement, bucket.node.default_child)))
    return f"<{logical_id}.Arn>/*"


def _arn(service: str, resource: str) -> str:
    return _ARN_HEAD.format(service=service) + resource


def _acknowledge_policy(role: iam.Role, resource: str, reason: str) -> None:
    # Findings on a role's statements are reported on its default policy.
    policy = role.node.find_child("DefaultPolicy")
    _acknowledge(policy, f"AwsSolutions-IAM5[Resource::{resource}]", reason)


def _acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    # The bare rule id ("AwsSolutions-S1") is what cdk-nag matches in both places it
    # runs: inside synthesis and in AwsSolutionsChecks().validate_scope() in the tests.
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))
