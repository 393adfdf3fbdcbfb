"""Shared fixtures for the CDK tests: the Baton app is built and synthesized once."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, cast

import pytest

# Before aws_cdk is imported anywhere: jsii prints an end-of-life banner on Node 20.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# `infra` is not an installed package; `.venv/bin/pytest` does not put the cwd on sys.path.
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from aws_cdk import CfnElement, Stack  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from constructs import IConstruct  # noqa: E402

from infra.application import BatonApp, build_app  # noqa: E402

NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}
"""Context that skips asset bundling: pip runs only in the one test that checks the bundle."""


@pytest.fixture(scope="session")
def baton(tmp_path_factory: pytest.TempPathFactory) -> BatonApp:
    """The app and stack as ``app.py`` builds them, from ``cdk.json`` context.

    cdk-nag is left out of synthesis here so that a finding fails only the nag tests, with
    the finding in the message, instead of every test in the suite.
    """
    return build_app(outdir=str(tmp_path_factory.mktemp("cdk.out")), context=NO_BUNDLING, with_nag=False)


@pytest.fixture(scope="session")
def template(baton: BatonApp) -> Template:
    """The synthesized CloudFormation template of the Baton stack."""
    return Template.from_stack(baton.stack)


@pytest.fixture(scope="session")
def resources(template: Template) -> dict[str, Any]:
    """The template's ``Resources`` section, keyed by logical id."""
    resources: dict[str, Any] = template.to_json()["Resources"]
    return resources


@pytest.fixture(scope="session")
def logical_ids(baton: BatonApp) -> dict[str, str]:
    """Logical ids of the stack's main resources, keyed by role."""
    stack = baton.stack
    constructs = {
        "access_logs_bucket": stack.storage.access_logs_bucket,
        "definitions_bucket": stack.storage.definitions_bucket,
        "artifacts_bucket": stack.storage.artifacts_bucket,
        "cache_bucket": stack.storage.cache_bucket,
        "executions_table": stack.state.executions_table,
        "definitions_table": stack.state.definitions_table,
        "idempotency_table": stack.state.idempotency_table,
        "step_queue": stack.queueing.step_queue,
        "dead_letter_queue": stack.queueing.dead_letter_queue,
        "failed_invocations_queue": stack.queueing.failed_invocations_queue,
        "alarm_topic": stack.observability.topic,
        "bus": stack.events.bus,
        **stack.functions.all,
        **{f"{role}_role": stack.functions.role_of(function) for role, function in stack.functions.all.items()},
        **{f"{role}_logs": group for role, group in stack.functions.log_groups.items()},
        "scheduler_role": stack.scheduling.role,
        "long_step_project": stack.long_steps.project,
        "long_step_role": stack.long_steps.role,
        "long_step_logs": stack.long_steps.log_group,
        "step_role": stack.step_role,
        "schedule_group": stack.scheduling.group,
        "definition_changed_rule": stack.routing.definition_changed,
        "start_execution_rule": stack.routing.start_execution,
        "dashboard": stack.observability.dashboard,
        **{alarm.node.id: alarm for alarm in stack.observability.alarms},
    }
    return {role: _logical_id(stack, construct) for role, construct in constructs.items()}


def _logical_id(stack: Stack, construct: IConstruct) -> str:
    element = construct if isinstance(construct, CfnElement) else construct.node.default_child
    logical_id: str = stack.resolve(stack.get_logical_id(cast(CfnElement, element)))
    return logical_id


@pytest.fixture(scope="session")
def policy_statements(resources: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Statements of every IAM policy in the template, keyed by the logical id of its role."""
    found: dict[str, list[dict[str, Any]]] = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy":
            for role in resource["Properties"]["Roles"]:
                found.setdefault(role["Ref"], []).extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return found
