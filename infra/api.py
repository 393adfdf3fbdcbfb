"""The REST API: API Gateway (IAM authorization, throttled, access-logged) in front of the
API function (``baton.handlers.api``), which starts, lists, shows, answers and cancels.

Every method requires SigV4-signed requests (``AWS_IAM``): API Gateway rejects an unsigned
one with 403 before the function runs. Routes and bodies are the handler's; its generated
OpenAPI document is ``docs/api/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from aws_cdk import Acknowledgment, CfnElement, CfnOutput, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from baton import resource_names as names
from infra.access import Resources, grant_approver, grant_starter
from infra.config import BatonStackProps
from infra.functions import Functions, FunctionSpec
from infra.nag import OBJECTS_REASON, XRAY_REASON

if TYPE_CHECKING:
    from infra.stack import BatonStack

STAGE_NAME = "v1"
THROTTLE_RATE_PER_SECOND = 20
THROTTLE_BURST = 40
ROUTES: tuple[tuple[str, str], ...] = (
    ("POST", "executions"),
    ("GET", "executions"),
    ("GET", "executions/{execution_id}"),
    ("GET", "executions/{execution_id}/logs"),
    ("POST", "executions/{execution_id}/approvals/{step}"),
    ("POST", "executions/{execution_id}/cancel"),
)
"""The handler's routes (``tests/infra`` checks them against its OpenAPI document)."""
API_FUNCTION = FunctionSpec("api", "the REST API (start, list, show, logs, approve, cancel)",
                            timeout_seconds=29, memory_mb=512, id="Function")  # fmt: skip
"""29 s: API Gateway's own integration limit."""
RUNTIME_REASON = "Pinned to Python 3.12 like every Baton function (see infra.nag)."
VALIDATION_REASON = (
    "The API function validates every body with its pydantic models and answers 400 naming "
    "the field; a second copy of the schema in API Gateway would drift from it."
)
WAF_REASON = "IAM (SigV4) authorization and stage throttling guard the API; it has no anonymous caller for a WAF."
COGNITO_REASON = "Callers are IAM principals (SigV4), not Cognito users."
PUSH_LOGS_POLICY = "arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
PUSH_LOGS_REASON = "The AWS-managed policy API Gateway documents for pushing its logs to CloudWatch."


def stack_resources(stack: BatonStack) -> Resources:
    """The resources the API function reaches (those of the starter and the approver)."""
    return Resources(
        executions_table=stack.state.executions_table,
        definitions_table=stack.state.definitions_table,
        idempotency_table=stack.state.idempotency_table,
        definitions_bucket=stack.storage.definitions_bucket,
        artifacts_bucket=stack.storage.artifacts_bucket,
        cache_bucket=stack.storage.cache_bucket,
        step_queue=stack.queueing.step_queue,
        bus=stack.events.bus,
        scheduling=stack.scheduling,
        secrets_prefix=stack.props.effective_secrets_prefix,
    )


class Api(Construct):
    """The API function, its role, and the REST API with its stage and access logs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: BatonStackProps,
        environment: Mapping[str, str],
        resources: Resources,
        functions: Functions,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.function_in(
            self,
            API_FUNCTION,
            environment={**environment, names.ENV_RETENTION_DAYS: str(props.execution_retention_days)},
        )
        self.role = cast(iam.Role, self.function.role)
        grant_starter(self.role, resources)
        grant_approver(self.role, resources)
        self.access_logs = logs.LogGroup(self, "AccessLogs", removal_policy=props.removal_policy)
        cast(logs.CfnLogGroup, self.access_logs.node.default_child).retention_in_days = props.log_retention_days
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{props.resource_prefix}-api",
            description="Baton: start and inspect workflow executions",
            cloud_watch_role=True,
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                throttling_rate_limit=THROTTLE_RATE_PER_SECOND,
                throttling_burst_limit=THROTTLE_BURST,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                tracing_enabled=True,
            ),
        )
        integration = apigw.LambdaIntegration(self.function, proxy=True)
        for method, path in ROUTES:
            resource = self.rest_api.root
            for part in path.split("/"):
                resource = resource.get_resource(part) or resource.add_resource(part)
            resource.add_method(method, integration)
        CfnOutput(self, "Url", value=self.rest_api.url, description="The REST API's invoke URL (SigV4-signed calls)")
        self._acknowledge(resources)

    def _acknowledge(self, resources: Resources) -> None:
        for construct, rule, reason in (
            (self.function, "AwsSolutions-L1", RUNTIME_REASON),
            (self.rest_api, "AwsSolutions-APIG2", VALIDATION_REASON),
            (self.rest_api, "AwsSolutions-APIG3", WAF_REASON),
            (self.rest_api, "AwsSolutions-COG4", COGNITO_REASON),
            (
                self.rest_api.node.find_child("CloudWatchRole"),
                f"AwsSolutions-IAM4[Policy::{PUSH_LOGS_POLICY}]",
                PUSH_LOGS_REASON,
            ),
        ):
            Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
        # Findings on a role's statements are reported on its default policy (as in infra.nag).
        policy = self.role.node.find_child("DefaultPolicy")
        bucket = resources.artifacts_bucket
        stack = Stack.of(bucket)
        logical_id = stack.resolve(stack.get_logical_id(cast(CfnElement, bucket.node.default_child)))
        for resource, reason in (("*", XRAY_REASON), (f"<{logical_id}.Arn>/*", OBJECTS_REASON)):
            Validations.of(policy).acknowledge(Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{resource}]",
                                                              reason=reason))  # fmt: skip

    @property
    def url(self) -> str:
        """The stage's invoke URL."""
        return self.rest_api.url
