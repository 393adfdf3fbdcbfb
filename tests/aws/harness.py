"""Drives the real handlers the way AWS would, against a moto server over HTTP.

Uploads go to the definitions bucket and reach the registrar as the S3 event EventBridge
delivers; starts reach the starter as a ``Start Baton Execution`` event; the worker is fed
from the real step queue like Lambda's event source mapping does it (receive a batch,
invoke the handler with an ``aws:sqs`` event, delete what did not fail). The functions'
own AWS calls go through a metered session; the harness's plumbing does not.
"""

from __future__ import annotations

import copy
import json
import os
import random
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from tests.aws.moto_stack import ACCOUNT, REGION, MotoServer

from baton.adapters.aws.bootstrap import AwsBackend, aws_backend
from baton.adapters.aws.caller_proof import presign
from baton.adapters.aws.metering import Usage
from baton.adapters.aws.runtime import step_environment
from baton.adapters.aws.settings import AwsSettings
from baton.engine.records import TERMINAL_EXECUTION, WAITING, ExecutionRecord
from baton.handlers import approver, registrar, starter, worker
from baton.ports import ArtifactRef
from baton.resource_names import START_EXECUTION_DETAIL_TYPE

EVENTS = Path(__file__).parent / "events"
CALLER_ARN = f"arn:aws:sts::{ACCOUNT}:user/moto"
"""Who moto's STS says the harness's (fake) credentials are."""


def moto_sts(endpoint: str) -> Callable[[str, Mapping[str, str]], str]:
    """Fetch a presigned official-STS URL from moto instead. moto's server picks a backend
    from the credential scope of an ``Authorization`` header, not from a presigned query, so
    the query's own scope is repeated there (moto does not check signatures here)."""

    def get(url: str, headers: Mapping[str, str]) -> str:
        query = urllib.parse.urlsplit(url).query
        scope = urllib.parse.parse_qs(query)["X-Amz-Credential"][0]
        authorization = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=presigned"
        request = urllib.request.Request(f"{endpoint}/?{query}", headers={**headers, "Authorization": authorization})
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.read().decode())

    return get


def aws_event(name: str) -> dict[str, Any]:
    """A copy of one of the AWS-shaped sample events."""
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


@dataclass
class FakeLambdaContext:
    """The attributes of Lambda's context object that Baton and Powertools read."""

    function_name: str = "baton-worker"
    timeout_seconds: float = 900.0
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000)


@dataclass
class Invocation:
    """One worker invocation: the calls it made and what it answered."""

    usage: Usage
    messages: int
    response: dict[str, Any]
    seconds: float = 0.0


class AwsHarness:
    """One stack's functions, run in-process, and the plumbing around them."""

    def __init__(
        self,
        server: MotoServer,
        settings: AwsSettings,
        root: Path,
        *,
        env: dict[str, str] | None = None,
        lease_seconds: float = 60.0,
    ) -> None:
        self.settings = settings
        self.meter = server.meter
        clients = server.metered
        workspace = root / "lambda"
        base_env = {**step_environment(os.environ, workspace), **(env or {})}

        def backend(root: Path = workspace) -> AwsBackend:
            # One per function, as in separate Lambda sandboxes (no shared caches).
            return aws_backend(settings, clients, workspace_root=root, base_env=base_env,
                               lease_seconds=lease_seconds, recheck_seconds=2)  # fmt: skip

        self._backend_in = backend
        self._workspace = workspace

        self.backend = backend()
        self.plumbing = server.shared
        self.registrar = registrar.make_handler(backend)
        self.starter = starter.make_handler(backend)
        self.worker = worker.make_handler(backend)
        self.sts_answers = moto_sts(server.endpoint_url)
        """Fetches a caller token's answer (from moto, for the official STS endpoint)."""
        self.approver = approver.make_handler(backend, get=self.sts_answers)
        self.sts = boto3.client("sts", region_name=REGION, endpoint_url=f"https://sts.{REGION}.amazonaws.com")
        """Signs caller tokens for the official STS endpoint (``moto_sts`` routes them to moto)."""
        self.invocations: list[Invocation] = []
        self._sequencer = time.time_ns()

    # -- definitions ----------------------------------------------------------------------

    def upload(self, key: str, text: str) -> dict[str, Any]:
        """Put a definition in the bucket and hand the registrar the resulting event."""
        bucket = self.settings.definitions_bucket
        put = self.plumbing("s3").put_object(Bucket=bucket, Key=key, Body=text.encode())
        event = aws_event("s3-object-created")
        self._s3_event(event, key, version_id=put.get("VersionId"))
        event["detail"]["object"].update({"size": len(text.encode()), "etag": put["ETag"].strip('"')})
        return self.registrar(event, FakeLambdaContext("baton-registrar"))

    def delete(self, key: str) -> dict[str, Any]:
        """Delete a definition and hand the registrar the resulting event."""
        deleted = self.plumbing("s3").delete_object(Bucket=self.settings.definitions_bucket, Key=key)
        event = aws_event("s3-object-deleted")
        self._s3_event(event, key, version_id=deleted.get("VersionId"))
        return self.registrar(event, FakeLambdaContext("baton-registrar"))

    def _s3_event(self, event: dict[str, Any], key: str, *, version_id: str | None) -> None:
        bucket = self.settings.definitions_bucket
        self._sequencer += 1
        event.update({"id": str(uuid.uuid4()), "account": ACCOUNT, "region": REGION,
                      "resources": [f"arn:aws:s3:::{bucket}"]})  # fmt: skip
        event["detail"]["bucket"]["name"] = bucket
        event["detail"]["object"].update({"key": key, "version-id": version_id, "sequencer": f"{self._sequencer:X}"})

    # -- executions -----------------------------------------------------------------------

    def start_event(
        self, workflow: str, inputs: dict[str, Any] | None = None, *, workspace: ArtifactRef | None = None
    ) -> dict[str, Any]:
        """The ``Start Baton Execution`` event as the bus delivers it to the starter."""
        event = aws_event("eventbridge-custom")
        detail: dict[str, Any] = {"workflow": workflow, "inputs": inputs or {}}
        if workspace is not None:
            detail["workspace"] = workspace.to_data()
        event.update({"id": str(uuid.uuid4()), "account": ACCOUNT, "region": REGION,
                      "detail-type": START_EXECUTION_DETAIL_TYPE, "detail": detail})  # fmt: skip
        return event

    def start(
        self, workflow: str, inputs: dict[str, Any] | None = None, *, workspace: ArtifactRef | None = None
    ) -> str:
        """Start an execution through the starter (from a stored ``workspace``); return its id."""
        event = self.start_event(workflow, inputs, workspace=workspace)
        response = self.starter(event, FakeLambdaContext("baton-starter"))
        assert response["execution_id"], response
        return str(response["execution_id"])

    def approve(self, execution_id: str, step: str, *, approve: bool = True, comment: str = "") -> dict[str, Any]:
        """Answer an approval through the approver."""
        return self.operate({"execution_id": execution_id, "step": step, "approve": approve, "comment": comment})

    def operate(self, payload: dict[str, Any], *, token: str | None = None) -> dict[str, Any]:
        """Invoke the approver as ``baton ... --stack`` does: with a freshly signed caller token."""
        request = {**payload, "caller_token": token or presign(self.sts)}
        return self.approver(request, FakeLambdaContext("baton-approver"))

    def execution(self, execution_id: str) -> ExecutionRecord:
        """The stored execution."""
        return self.backend.store.get_execution(execution_id)

    def document(self, execution_id: str) -> dict[str, Any]:
        """The execution record (as `baton run --json` prints it)."""
        return self.backend.engine("inspect").document(execution_id)

    # -- the event source mapping ---------------------------------------------------------

    def receive(self, *, wait_seconds: int = 1, visibility: int = 30, batch: int = 10) -> list[dict[str, Any]]:
        """Receive messages from the step queue as Lambda's poller does."""
        response = self.plumbing("sqs").receive_message(
            QueueUrl=self.settings.step_queue_url,
            MaxNumberOfMessages=batch,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility,
            MessageSystemAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def sqs_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The ``aws:sqs`` event of a received batch."""
        template = aws_event("sqs-receive")["Records"][0]
        records = []
        for message in messages:
            record = copy.deepcopy(template)
            attributes = message.get("Attributes", {})
            record.update({"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                           "body": message["Body"], "md5OfBody": message["MD5OfBody"],
                           "eventSourceARN": self.settings.step_queue_arn, "awsRegion": REGION})  # fmt: skip
            record["attributes"].update(
                {name: str(attributes[name]) for name in record["attributes"] if name in attributes}
            )
            records.append(record)
        return {"Records": records}

    def sandboxes(self, count: int) -> list[Any]:
        """``count`` more worker functions, each in a sandbox of its own (own backend and
        workspace), for invocations that run at the same time."""
        return [
            worker.make_handler(lambda i=i: self._backend_in(self._workspace.with_name(f"lambda-{i}")))
            for i in range(count)
        ]

    def deliver(
        self, messages: list[dict[str, Any]], context: FakeLambdaContext | None = None, *, function: Any = None
    ) -> dict[str, Any]:
        """Invoke the worker with a batch; delete the messages it did not report failed."""
        before, started = self.meter.snapshot(), time.perf_counter()
        try:
            response = (function or self.worker)(self.sqs_event(messages), context or FakeLambdaContext())
        except Exception:  # the whole batch failed: every message comes back
            response = {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages]}
        elapsed = time.perf_counter() - started
        self.invocations.append(Invocation(self.meter.snapshot().minus(before), len(messages), response, elapsed))
        failed = {failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.plumbing("sqs").delete_message_batch(
                QueueUrl=self.settings.step_queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return response

    def drain(self, execution_id: str, *, timeout: float = 60.0, batch: int = 10) -> ExecutionRecord:
        """Feed the worker until the execution ends (or waits with nothing queued)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.receive(batch=batch, wait_seconds=0)
            if messages:
                self.deliver(messages)
                continue
            execution = self.execution(execution_id)
            if execution.status in TERMINAL_EXECUTION or execution.status == WAITING:
                return execution
            messages = self.receive(batch=batch)  # delayed messages (backoff, held starts)
            if messages:
                self.deliver(messages)
        raise AssertionError(f"execution {execution_id} did not settle in {timeout}s: {self.execution(execution_id)}")

    def run_concurrently(self, execution_id: str, *, workers: int = 3, seed: int = 0,
                         timeout: float = 60.0) -> ExecutionRecord:  # fmt: skip
        """Poll the step queue from ``workers`` sandboxes at once (threads), with random batch
        sizes and pauses, until the execution ends or waits for an answer with nothing queued."""
        functions = self.sandboxes(workers)
        done = threading.Event()
        errors: list[BaseException] = []

        def poll(function: Any, rng: random.Random) -> None:
            try:
                while not done.is_set():
                    messages = self.receive(batch=rng.randint(1, 3), wait_seconds=0, visibility=30)
                    if not messages:
                        time.sleep(rng.uniform(0.01, 0.05))
                        continue
                    time.sleep(rng.uniform(0.0, 0.02))
                    self.deliver(messages, function=function)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=poll, args=(f, random.Random(seed * 100 + i)), daemon=True)
                   for i, f in enumerate(functions)]  # fmt: skip
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and not errors:
                execution = self.execution(execution_id)
                if execution.status in TERMINAL_EXECUTION:
                    return execution
                if execution.status == WAITING and self._queue_is_empty():
                    return execution
                time.sleep(0.1)
        finally:
            done.set()
            for thread in threads:
                thread.join(30)
        assert not errors, errors
        raise AssertionError(f"execution {execution_id} did not settle in {timeout}s: {self.execution(execution_id)}")

    def _queue_is_empty(self) -> bool:
        attributes = self.plumbing("sqs").get_queue_attributes(
            QueueUrl=self.settings.step_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                            "ApproximateNumberOfMessagesDelayed"],
        )["Attributes"]  # fmt: skip
        return all(int(value) == 0 for value in attributes.values())
