"""The long-step runner over moto: a worker hands a ``runner: long`` unit to a CodeBuild
build instead of running it, the build's entry point (run here in-process, as the build
would run it) completes the unit and hands the execution back to the workers, and a build
that dies is noticed when its lease runs out. moto records builds but runs none."""

from __future__ import annotations

import dataclasses
import math
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.aws.harness import AwsHarness
from tests.aws.moto_stack import ACCOUNT, MotoServer, Stack

from baton.adapters.aws.bootstrap import AwsBackend, aws_backend
from baton.adapters.aws.long_step_job import LongStepJob
from baton.adapters.aws.long_steps import LONG_HOLD_SECONDS
from baton.adapters.aws.runtime import step_environment
from baton.engine.executor import RUNNER_STOPPED
from baton.engine.records import FAILED, RUNNING, SUCCEEDED
from baton.handlers import long_step
from baton.resource_names import LONG_QUEUED_MINUTES

WORKFLOW = """
name: soak
steps:
  - id: prep
    command: echo warm
  - id: soak
    runner: long
    timeout: 2h
{retry}    command: echo "soaked {{{{ steps.prep.outputs.stdout }}}}" && echo ran >> "$TEST_DIR/soak-ran"
  - id: after
    command: echo "after {{{{ steps.soak.outputs.stdout }}}}"
outputs:
  said: {{value: "{{{{ steps.after.outputs.stdout }}}}"}}
"""
RETRY_ONCE = "    retry: {max_attempts: 2, backoff: {initial: 1s}}\n"


@pytest.fixture
def project(moto: MotoServer) -> str:
    """A CodeBuild project in moto (the stack's long-step project)."""
    name = f"long-{uuid.uuid4().hex[:8]}"
    moto.clients()("codebuild").create_project(
        name=name,
        source={"type": "S3", "location": "assets/code.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
                     "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole=f"arn:aws:iam::{ACCOUNT}:role/{name}",
    )  # fmt: skip
    return name


@pytest.fixture
def long_harness(moto: MotoServer, stack: Stack, project: str, tmp_path: Path) -> AwsHarness:
    settings = dataclasses.replace(stack.settings, long_step_project=project, long_runner="codebuild")
    return AwsHarness(moto, settings, tmp_path, env={"TEST_DIR": str(tmp_path)})


@pytest.fixture
def started_builds(moto: MotoServer) -> Iterator[list[dict[str, Any]]]:
    """The parameters of every ``StartBuild`` call the functions make."""
    calls: list[dict[str, Any]] = []
    events = moto.metered("codebuild").meta.events  # the functions' (cached) client

    def capture(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    handler_id = f"capture-{uuid.uuid4().hex}"
    events.register("provide-client-params.codebuild.StartBuild", capture, unique_id=handler_id)
    yield calls
    events.unregister("provide-client-params.codebuild.StartBuild", unique_id=handler_id)


def build_backend(moto: MotoServer, harness: AwsHarness, root: Path) -> AwsBackend:
    """What ``backend_from_environ(role="long_step")`` makes in a build: no runner of its own."""
    base_env = {**step_environment(os.environ, root), "TEST_DIR": str(root.parent)}
    return aws_backend(harness.settings, moto.metered, workspace_root=root, base_env=base_env,
                       lease_seconds=60, recheck_seconds=2, with_long_runner=False)  # fmt: skip


def settle(harness: AwsHarness) -> None:
    """Feed the workers until the queue has nothing for them (the build holds the rest)."""
    quiet = 0
    while quiet < 2:
        messages = harness.receive(wait_seconds=1)
        if messages:
            harness.deliver(messages)
            quiet = 0
        else:
            quiet += 1


def job_of(call: dict[str, Any]) -> dict[str, str]:
    """The job variables a build was started with."""
    return {v["name"]: v["value"] for v in call["environmentVariablesOverride"]}


def test_a_worker_hands_a_long_step_to_a_build_and_the_build_hands_the_execution_back(
    moto: MotoServer, long_harness: AwsHarness, project: str, started_builds: list[dict[str, Any]], tmp_path: Path
) -> None:
    harness = long_harness
    assert harness.upload("soak.yaml", WORKFLOW.format(retry=""))["status"] == "registered"
    execution_id = harness.start("soak")

    settle(harness)

    # The worker ran prep, claimed soak for a build and started it, and ran nothing more.
    (call,) = started_builds
    record = harness.backend.store.get_steps(execution_id)["soak"]
    assert record.status == RUNNING
    assert record.lease_owner == f"long:{execution_id}/soak/1"
    assert record.lease_expires_at is not None
    held_for = (record.lease_expires_at - datetime.now(UTC)).total_seconds()
    assert LONG_HOLD_SECONDS - 60 < held_for <= LONG_HOLD_SECONDS
    assert not (tmp_path / "soak-ran").exists()
    job = job_of(call)
    assert job == {"BATON_LONG_EXECUTION_ID": execution_id, "BATON_LONG_UNIT": "soak",
                   "BATON_LONG_OWNER": record.lease_owner, "BATON_LONG_BUDGET_SECONDS": "7275"}  # fmt: skip
    assert call["projectName"] == project
    assert call["timeoutInMinutesOverride"] == math.ceil((7275 + 300) / 60)
    assert call["queuedTimeoutInMinutesOverride"] == LONG_QUEUED_MINUTES
    assert len(moto.clients()("codebuild").list_builds_for_project(projectName=project)["ids"]) == 1
    assert harness.execution(execution_id).status == RUNNING

    # The build runs the entry point: the unit is run, committed, and the next message sent.
    assert long_step.main(job, backend=build_backend(moto, harness, tmp_path / "build")) == 0
    record = harness.backend.store.get_steps(execution_id)["soak"]
    assert record.status == SUCCEEDED
    assert record.outputs["stdout"] == "soaked warm"
    assert record.lease_owner is None
    assert record.tries == 1
    assert record.attempt == 1  # the build went on with the attempt the worker claimed for it
    assert (tmp_path / "soak-ran").read_text() == "ran\n"

    finished = harness.run_concurrently(execution_id)
    assert finished.status == SUCCEEDED, finished
    assert finished.outputs == {"said": "after soaked warm"}
    assert len(started_builds) == 1
    assert (tmp_path / "soak-ran").read_text() == "ran\n"  # run once


def expire_lease(harness: AwsHarness, execution_id: str, key: str) -> None:
    """What a killed build leaves: a lease nobody renews, now run out."""
    record = harness.backend.store.get_steps(execution_id)[key]
    assert harness.backend.store.renew_lease(record, datetime.now(UTC) - timedelta(seconds=1))


def test_a_killed_build_fails_its_attempt_and_the_retry_runs_in_a_new_build(
    moto: MotoServer, long_harness: AwsHarness, started_builds: list[dict[str, Any]], tmp_path: Path
) -> None:
    harness = long_harness
    harness.upload("soak.yaml", WORKFLOW.format(retry=RETRY_ONCE))
    execution_id = harness.start("soak")
    settle(harness)
    (first,) = started_builds

    expire_lease(harness, execution_id, "soak")  # the build died before it took the unit over
    harness.backend.queue.send(execution_id, ["soak"])  # what the sweeper sends for an expired lease
    settle(harness)

    assert len(started_builds) == 2
    record = harness.backend.store.get_steps(execution_id)["soak"]
    assert record.status == RUNNING
    assert record.lease_owner == f"long:{execution_id}/soak/2"
    assert record.tries == 2
    assert record.error is None
    second = job_of(started_builds[1])
    assert second["BATON_LONG_OWNER"] == record.lease_owner

    # The first build, started late after all, finds the unit moved on and does nothing.
    backend = build_backend(moto, harness, tmp_path / "build")
    assert long_step.main(job_of(first), backend=backend) == 0
    assert harness.backend.store.get_steps(execution_id)["soak"].version == record.version

    assert long_step.main(second, backend=build_backend(moto, harness, tmp_path / "build-2")) == 0
    finished = harness.run_concurrently(execution_id)
    assert finished.status == SUCCEEDED, finished
    assert (tmp_path / "soak-ran").read_text() == "ran\n"


def test_a_killed_build_without_a_retry_fails_the_step_with_the_reason(
    long_harness: AwsHarness, started_builds: list[dict[str, Any]]
) -> None:
    harness = long_harness
    harness.upload("soak.yaml", WORKFLOW.format(retry=""))
    execution_id = harness.start("soak")
    settle(harness)
    expire_lease(harness, execution_id, "soak")
    harness.backend.queue.send(execution_id, ["soak"])

    finished = harness.run_concurrently(execution_id)

    assert finished.status == FAILED
    record = harness.backend.store.get_steps(execution_id)["soak"]
    assert record.status == FAILED
    assert record.error == RUNNER_STOPPED
    assert len(started_builds) == 1


def test_a_build_codebuild_refuses_fails_the_attempt_with_codebuilds_answer(
    moto: MotoServer, stack: Stack, tmp_path: Path
) -> None:
    settings = dataclasses.replace(stack.settings, long_step_project="no-such-project", long_runner="codebuild")
    harness = AwsHarness(moto, settings, tmp_path, env={"TEST_DIR": str(tmp_path)})
    harness.upload("soak.yaml", WORKFLOW.format(retry=""))
    execution_id = harness.start("soak")

    finished = harness.run_concurrently(execution_id)

    assert finished.status == FAILED
    error = harness.backend.store.get_steps(execution_id)["soak"].error or ""
    assert error.startswith("CodeBuild did not start a build of 'no-such-project' for this step: "), error


def test_the_entry_point_without_a_job_says_what_it_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert long_step.main({}) == 2
    assert "it needs BATON_LONG_EXECUTION_ID, BATON_LONG_UNIT" in capsys.readouterr().err


def test_a_job_asks_for_the_step_time_and_stays_within_codebuild_limits() -> None:
    assert LongStepJob.for_step("e", "u", "o", 60).timeout_minutes == 8
    assert LongStepJob.for_step("e", "u", "o", 8 * 3600).timeout_minutes == 480


def test_a_message_for_a_unit_a_build_holds_starts_nothing_and_sends_nothing(
    long_harness: AwsHarness, started_builds: list[dict[str, Any]]
) -> None:
    harness = long_harness
    harness.upload("soak.yaml", WORKFLOW.format(retry=""))
    execution_id = harness.start("soak")
    settle(harness)
    held = harness.backend.store.get_steps(execution_id)["soak"]

    harness.backend.queue.send(execution_id, ["soak"])  # a duplicate of the hand-over's message
    messages = harness.receive(wait_seconds=1)
    harness.deliver(messages)

    assert len(started_builds) == 1
    assert harness.backend.store.get_steps(execution_id)["soak"].version == held.version
    assert harness.receive(wait_seconds=1) == []  # no watch of the build's lease: the sweeper has it
