"""The long-step runner: a CodeBuild project whose builds run ``runner: long`` steps.

A worker that meets such a step claims it and starts a build of this project
(``codebuild:StartBuild`` on it only), naming the execution and the unit in environment
overrides. The build fetches the functions' code asset (always with boto3 and Powertools:
no layer here) with the AWS CLI of the image, and runs ``python -m baton.handlers.long_step``, the same
engine with the same settings as the worker, so it needs the worker's grants on the table,
the queue and the buckets, and assumes the step role (ADR 0006) for the step itself.
No VPC, image or cluster of ours: an AWS-managed image on the functions' architecture.
See docs/adr/0007-long-steps.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from aws_cdk import Duration
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from baton import resource_names as names
from infra.bundling import LAMBDA_PYTHON_VERSION, asset_options
from infra.config import BatonStackProps

IMAGES = {
    "arm64": (codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0, codebuild.ComputeType.SMALL),
    "x86_64": (codebuild.LinuxBuildImage.AMAZON_LINUX_2023_5, codebuild.ComputeType.SMALL),
}
"""AWS-managed Amazon Linux 2023 images with CPython 3.12, per functions' architecture (the
asset's wheels are built for it)."""

CODE_URL_VARIABLE = "BATON_CODE_URL"
BUILD_SPEC = {
    "version": "0.2",
    "phases": {
        "install": {
            "runtime-versions": {"python": LAMBDA_PYTHON_VERSION},
            "commands": [f'aws s3 cp --quiet "${CODE_URL_VARIABLE}" /tmp/baton-code.zip',
                         "unzip -q /tmp/baton-code.zip -d /tmp/baton-code"],
        },
        "build": {"commands": [f"PYTHONPATH=/tmp/baton-code python -m {names.LONG_STEP_ENTRY_POINT}"]},
    },
}  # fmt: skip
"""Fetch the functions' code asset (one object, the only one the role may read from the
assets bucket) and run the entry point; the job comes in the environment overrides."""


class LongSteps(Construct):
    """The project, its role and its log group."""

    def __init__(
        self, scope: Construct, construct_id: str, *, props: BatonStackProps, environment: Mapping[str, str]
    ) -> None:
        super().__init__(scope, construct_id)
        name = names.long_step_project_name(props.resource_prefix)
        code = s3_assets.Asset(self, "Code", **asset_options(architecture=props.architecture))
        self.log_group = logs.LogGroup(self, "Logs", log_group_name=f"/aws/codebuild/{name}",
                                       removal_policy=props.removal_policy)  # fmt: skip
        cast(logs.CfnLogGroup, self.log_group.node.default_child).retention_in_days = props.log_retention_days
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description="Runs Baton's long steps (the engine's side; the steps act as the step role)",
        )
        image, compute = IMAGES[props.architecture]
        environment = {**environment, CODE_URL_VARIABLE: code.s3_object_url}
        variables = {key: codebuild.BuildEnvironmentVariable(value=value) for key, value in environment.items()}
        self.project = codebuild.Project(
            self,
            "Project",
            project_name=name,
            description="Baton: runs one runner: long step per build, started by the worker",
            role=self.role,
            build_spec=codebuild.BuildSpec.from_object(BUILD_SPEC),
            environment=codebuild.BuildEnvironment(build_image=image, compute_type=compute),
            environment_variables=variables,
            timeout=Duration.seconds(names.LONG_RUNNER_MAX_SECONDS),
            queued_timeout=Duration.minutes(names.LONG_QUEUED_MINUTES),
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)),
            grant_report_group_permissions=False,
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[code.bucket.arn_for_objects(code.s3_object_key)])
        )

    def allow_start(self, role: iam.IRole) -> None:
        """Let ``role`` (the worker's) start builds of this project, and nothing else on it."""
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["codebuild:StartBuild"], resources=[self.project.project_arn])
        )
