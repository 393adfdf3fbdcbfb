"""A step on the AWS backend acts as the step role, never as the worker.

A moto server of its own runs with IAM enforcement on (``INITIAL_NO_AUTH_ACTION_COUNT``):
every call is signed and checked against the caller's policies. The worker acts as an IAM
identity allowed everything; the step role carries the stack's own denials
(``infra.step_policy``). A real workflow goes through the real registrar, starter and
worker; its shell step reports what credentials it saw and tries to write the executions
table; its ``aws`` step tries the same through boto3.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from tests.aws.harness import AwsHarness
from tests.aws.moto_stack import ACCOUNT, REGION, create_stack

from baton.adapters.aws.clients import AwsClients
from baton.adapters.aws.metering import CallMeter
from baton.adapters.aws.settings import AwsSettings
from infra.step_policy import GuardedArns, guard_statements

# create_user, put_user_policy and create_access_key of the admin go unsigned; nothing else.
UNSIGNED_SETUP_CALLS = 3
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

PROBE = r"""
import json, os, boto3
table = os.environ["EXECUTIONS_TABLE"]
seen = {name: os.environ.get(name, "") for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
identity = boto3.client("sts").get_caller_identity()["Arn"]
try:
    boto3.client("dynamodb").put_item(TableName=table, Item={"pk": {"S": "EXEC#forged"}, "sk": {"S": "EXEC"}})
    write = "allowed"
except Exception as exc:
    # moto answers a JSON-protocol denial in XML: botocore sees the status, the text names it.
    status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    write = f"{status} AccessDenied" if "AccessDenied" in str(exc) else repr(exc)
with open(os.environ["BATON_OUTPUT"], "a") as out:
    out.write(f"key_id={seen['AWS_ACCESS_KEY_ID']}\nidentity={identity}\nwrite={write}\n")
"""

WORKFLOW = """\
name: probe
steps:
  - id: shell
    command: '"$PYTHON" "$TEST_DIR/probe.py"'
  - id: api
    needs: [shell]
    type: aws
    service: dynamodb
    action: put_item
    params:
      TableName: "{table}"
      Item: {{pk: {{S: "EXEC#forged"}}, sk: {{S: "EXEC"}}}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def enforcing_moto() -> Iterator[str]:
    """A moto server (its own process: enforcement is process-wide) that checks IAM."""
    port = _free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(UNSIGNED_SETUP_CALLS)}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto server did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _user(iam: Any, name: str, policy: dict[str, Any]) -> dict[str, str]:
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"arn": arn, "aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def _clients(endpoint: str, identity: dict[str, str]) -> tuple[AwsClients, Any]:
    session = boto3.session.Session(region_name=REGION, aws_access_key_id=identity["aws_access_key_id"],
                                    aws_secret_access_key=identity["aws_secret_access_key"])  # fmt: skip
    return AwsClients(region=REGION, endpoint_url=endpoint, session=session), session


def _guarded(settings: AwsSettings) -> GuardedArns:
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"
    prefix = settings.resource_prefix
    return GuardedArns(
        tables=[table + name for name in (settings.executions_table, settings.definitions_table,
                                          settings.idempotency_table)],
        buckets=[f"arn:aws:s3:::{name}" for name in (settings.definitions_bucket, settings.artifacts_bucket,
                                                    settings.cache_bucket)],
        queues=[settings.step_queue_arn or ""],
        bus=f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{settings.event_bus}",
        rules=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{prefix}-rule-*",
        schedules=[f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{prefix}/{prefix}-schedule-*"],
        functions=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{prefix}-*",
        secrets=[f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{prefix}/*"],
        roles=[settings.scheduler_role_arn or ""],
    )  # fmt: skip


@pytest.fixture
def deployment(enforcing_moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The stack's resources, a worker identity, the step role, and a harness as the worker."""
    unsigned = boto3.client("iam", region_name=REGION, endpoint_url=enforcing_moto,
                            aws_access_key_id="unsigned", aws_secret_access_key="unsigned")  # fmt: skip
    admin, _ = _clients(enforcing_moto, _user(unsigned, f"admin-{tmp_path.name}"[:64], ALLOW_ALL))
    settings = create_stack(admin)
    worker_identity = _user(admin("iam"), f"worker-{settings.resource_prefix}", ALLOW_ALL)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": worker_identity["arn"]},
                                                     "Action": ["sts:AssumeRole", "sts:TagSession"]}]}  # fmt: skip
    role_name = f"{settings.resource_prefix}-steps"
    role_arn = admin("iam").create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    denials = {"Version": "2012-10-17", "Statement": guard_statements(_guarded(settings))}
    admin("iam").put_role_policy(RoleName=role_name, PolicyName="DenyBatonResources",
                                 PolicyDocument=json.dumps(denials))  # fmt: skip
    worker_clients, worker_session = _clients(enforcing_moto, worker_identity)
    meter = CallMeter()
    meter.attach(worker_session)
    server = SimpleNamespace(metered=worker_clients, shared=admin, meter=meter, endpoint_url=enforcing_moto)
    # The worker's credentials are in its environment, as Lambda puts them there.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", worker_identity["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", worker_identity["aws_secret_access_key"])
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    (tmp_path / "probe.py").write_text(PROBE)
    env = {"TEST_DIR": str(tmp_path), "PYTHON": sys.executable, "AWS_ENDPOINT_URL": enforcing_moto,
           "AWS_DEFAULT_REGION": REGION,
           "EXECUTIONS_TABLE": settings.executions_table}  # fmt: skip
    harness = AwsHarness(server, dataclasses.replace(settings, step_role_arn=role_arn), tmp_path, env=env)  # type: ignore[arg-type]
    return SimpleNamespace(harness=harness, worker=worker_identity, role_arn=role_arn, settings=settings)


def test_a_step_sees_no_engine_credentials_and_cannot_write_the_executions_table(deployment: SimpleNamespace) -> None:
    harness: AwsHarness = deployment.harness
    registered = harness.upload("probe.yaml", WORKFLOW.format(table=deployment.settings.executions_table))
    assert registered["status"] == "registered", registered
    execution_id = harness.start("probe")
    final = harness.drain(execution_id)

    steps = harness.document(execution_id)["steps"]
    shell = steps["shell"]["outputs"]
    assert shell["key_id"]
    assert shell["key_id"] != deployment.worker["aws_access_key_id"]
    assert deployment.worker["aws_secret_access_key"] not in json.dumps(steps)
    assert (
        shell["identity"]
        == f"arn:aws:sts::{ACCOUNT}:assumed-role/{deployment.settings.resource_prefix}-steps/baton-probe"
    )
    assert shell["write"] == "403 AccessDenied"
    # The aws step runs inside the worker process, next to the worker's keys: still denied.
    assert final.status == "failed"
    api_error = steps["api"].get("error") or ""
    assert "AccessDenied" in api_error, steps["api"]
    assert f"assumed-role/{deployment.settings.resource_prefix}-steps/baton-probe" in api_error
    forged = harness.backend.clients("dynamodb").get_item(
        TableName=deployment.settings.executions_table, Key={"pk": {"S": "EXEC#forged"}, "sk": {"S": "EXEC"}}
    )
    assert "Item" not in forged
