"""The ``aws`` step through ``baton run``, calling S3 on a moto server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from baton_cli import Workspace

from baton.steps.aws import json_safe

WORKFLOW = """
name: s3-round-trip
inputs:
  who: {type: string, default: world}
  key: {type: string, default: greeting.txt}
steps:
  - id: bucket
    type: aws
    service: s3
    action: create_bucket
    params: {Bucket: baton-step-test}
  - id: put
    type: aws
    service: s3
    action: put_object
    params: {Bucket: baton-step-test, Key: greeting.txt, Body: "hello, {{ inputs.who }}"}
  - id: get
    type: aws
    service: s3
    action: get_object
    params: {Bucket: baton-step-test, Key: "{{ inputs.key }}"}
    retry: {max_attempts: 3, backoff: {initial: 10ms}}
  - id: check
    type: assert
    condition: "steps.get.outputs.response.Body == 'hello, ' ~ inputs.who"
"""


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def workspace(tmp_path: Path, moto_endpoint: str) -> Workspace:
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    space = Workspace(tmp_path, env=env)
    space.write("s3.yaml", WORKFLOW)
    return space


def test_calls_run_in_order_and_their_responses_are_outputs(workspace: Workspace) -> None:
    record = workspace.run_json("run", "s3.yaml", "--input", "who=Ada")
    assert record["status"] == "succeeded"
    assert record["steps"]["get"]["outputs"]["response"]["Body"] == "hello, Ada"
    assert record["steps"]["put"]["outputs"]["response"]["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_client_error_fails_without_retrying(workspace: Workspace) -> None:
    record = workspace.run_json("run", "s3.yaml", "--input", "key=absent.txt", expect=1)
    get = record["steps"]["get"]
    assert get["status"] == "failed"
    assert get["attempts"] == 1
    assert "NoSuchKey" in get["error"]


def test_an_unknown_action_is_a_clear_error(workspace: Workspace) -> None:
    workspace.write(
        "bad.yaml", "name: bad\nsteps:\n  - id: a\n    type: aws\n    service: s3\n    action: frobnicate\n"
    )
    record = workspace.run_json("run", "bad.yaml", expect=1)
    assert "s3 has no action 'frobnicate'" in record["steps"]["a"]["error"]


def test_responses_become_json_data() -> None:
    class Stream:
        def read(self, size: int) -> bytes:
            return b"\xff\x00"

    value = {"when": datetime(2026, 1, 2, tzinfo=UTC), "text": b"ok", "blob": Stream()}
    assert json_safe(value) == {"when": "2026-01-02T00:00:00+00:00", "text": "ok", "blob": "/wA="}
