"""``DeployedStack``: a Baton stack on AWS, found by name through its CloudFormation outputs.

What ``baton ... --stack NAME`` does there: upload definitions to the definitions bucket,
invoke the starter and approver functions, read executions with the engine over the AWS
adapters, request cancellation, and read the functions' logs from CloudWatch Logs.
Region and credentials are boto3's usual ones (``AWS_PROFILE``, ``AWS_REGION``...).
"""

from __future__ import annotations

import getpass
import json
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from baton import resource_names as names
from baton.adapters.aws.bootstrap import AwsBackend, aws_backend
from baton.adapters.aws.caller_proof import presign
from baton.adapters.aws.clients import AwsClients, error_code
from baton.adapters.aws.settings import AwsSettings
from baton.engine.records import TERMINAL_EXECUTION, WAITING, ExecutionRecord
from baton.engine.service import Engine
from baton.errors import BatonError
from baton.ports import ArtifactRef

if TYPE_CHECKING:
    from baton.cli.stack_api import StackApi

SETTINGS_OUTPUTS = {
    "executions_table": "ExecutionsTableName",
    "definitions_table": "DefinitionsTableName",
    "idempotency_table": "IdempotencyTableName",
    "definitions_bucket": "DefinitionsBucketName",
    "artifacts_bucket": "ArtifactsBucketName",
    "cache_bucket": "CacheBucketName",
    "step_queue_url": "StepQueueUrl",
    "event_bus": "EventBusName",
    "resource_prefix": "ResourcePrefix",
}
"""``AwsSettings`` field -> the stack output that holds it."""
FUNCTION_OUTPUTS = {role: f"{role.capitalize()}FunctionName" for role in names.FUNCTION_ROLES}
STATUS_TAG = "baton-status"
ERROR_TAG = "baton-error"
WORKFLOW_TAG = "baton-workflow"
POLL_SECONDS = 1.0


class StackError(BatonError):
    """The stack cannot be found or used, or a function refused the request."""


@dataclass(frozen=True)
class Registration:
    """What the registrar made of an upload (read back from the object's tags)."""

    status: str
    """``registered``, ``rejected``, or ``uploaded`` when not (yet) known."""
    workflow: str | None = None
    error: str | None = None
    version_id: str | None = None


@dataclass(frozen=True)
class LogEvent:
    """One line a function logged about an execution."""

    timestamp_ms: int
    function: str
    message: str


class DeployedStack:
    """A deployed Baton stack and the clients that reach it."""

    def __init__(self, name: str, outputs: Mapping[str, str], clients: AwsClients) -> None:
        self.name = name
        self.outputs = dict(outputs)
        self.clients = clients
        self.api: StackApi | None = None
        """Set (``use_api``): requests and reads of executions go through the stack's REST API."""
        missing = sorted({*SETTINGS_OUTPUTS.values(), *FUNCTION_OUTPUTS.values()} - set(self.outputs))
        if missing:
            raise StackError(f"stack {name} lacks the outputs {', '.join(missing)}: is it a Baton stack, up to date?")

    @classmethod
    def find(cls, name: str, clients: AwsClients | None = None) -> DeployedStack:
        """The stack named ``name`` in the current region (``StackError`` if there is none)."""
        from botocore.exceptions import ClientError

        clients = clients or AwsClients()
        try:
            stacks = clients("cloudformation").describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            region = clients("cloudformation").meta.region_name
            raise StackError(f"no stack {name!r} in {region}: {exc}; deploy it with `cdk deploy` first") from exc
        outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
        return cls(name, outputs, clients)

    @cached_property
    def settings(self) -> AwsSettings:
        """What the functions read from their environment, rebuilt from the outputs."""
        value = {field: self.outputs[output] for field, output in SETTINGS_OUTPUTS.items()}
        return AwsSettings(
            executions_table=value["executions_table"],
            definitions_table=value["definitions_table"],
            idempotency_table=value["idempotency_table"],
            definitions_bucket=value["definitions_bucket"],
            artifacts_bucket=value["artifacts_bucket"],
            cache_bucket=value["cache_bucket"],
            step_queue_url=value["step_queue_url"],
            event_bus=value["event_bus"],
            resource_prefix=value["resource_prefix"],
            scheduler_role_arn=self.outputs.get("SchedulerRoleArn"),
        )

    @cached_property
    def backend(self) -> AwsBackend:
        """The AWS adapters on this stack (the CLI runs no steps: the workspace is scratch)."""
        scratch = Path(tempfile.gettempdir()) / "baton-cli"
        return aws_backend(self.settings, self.clients, workspace_root=scratch)

    def engine(self) -> Engine:
        """The engine over the stack's state, for reading and for requests."""
        return self.backend.engine(f"cli-{getpass.getuser()}")

    def use_api(self) -> DeployedStack:
        """Send starts, answers and cancels, and read executions, through the REST API
        (SigV4-signed) instead of invoking the functions and reading the tables."""
        from baton.cli.stack_api import StackApi, api_base_url

        self.api = StackApi(api_base_url(self.outputs, self.clients), self.clients)
        return self

    # -- executions, as stored ------------------------------------------------------------

    def document(self, execution_id: str) -> dict[str, Any]:
        """The execution record (``baton status --json``)."""
        if self.api is not None:
            document: dict[str, Any] = self._api("GET", f"/executions/{quote(execution_id, safe='')}")
            return document
        return self.engine().document(execution_id)

    def list_executions(self, limit: int) -> list[ExecutionRecord]:
        """Recent executions, newest first (only the fields ``baton list`` shows, through the API)."""
        if self.api is None:
            return self.engine().list_executions(limit)
        rows = self._api("GET", "/executions", query={"limit": limit})["executions"]
        return [ExecutionRecord(row["execution_id"], row["workflow"], "", status=row["status"],
                                started_at=_time(row["started_at"]),
                                finished_at=_time(row["finished_at"])) for row in rows]  # fmt: skip

    def waiting_steps(self, execution_id: str) -> list[tuple[str, str]]:
        """The approvals the execution waits on, as (execution id, step); through the API its
        own only (``baton status CHILD --api`` shows a child's)."""
        if self.api is None:
            return self.engine().waiting_steps(execution_id)
        steps = self.document(execution_id)["steps"]
        return [(execution_id, key) for key, step in sorted(steps.items())
                if step["status"] == WAITING and not step.get("child")]  # fmt: skip

    def _api(self, method: str, path: str, *, body: Any = None, query: Mapping[str, Any] | None = None) -> Any:
        assert self.api is not None
        return self.api.call(method, path, body=body, query=query)

    def function_name(self, role: str) -> str:
        """The deployed name of the ``registrar``, ``starter``, ``worker`` or ``approver``."""
        return self.outputs[FUNCTION_OUTPUTS[role]]

    # -- definitions ----------------------------------------------------------------------

    def push(self, text: bytes, key: str) -> str | None:
        """Upload a definition; return the object version the registrar will read."""
        response = self.clients("s3").put_object(
            Bucket=self.settings.definitions_bucket, Key=key, Body=text, ContentType="application/yaml"
        )
        version: str | None = response.get("VersionId")
        return version

    def registration(self, key: str, version_id: str | None, timeout_seconds: float) -> Registration:
        """Wait for the registrar to tag the upload; ``uploaded`` if it has not within the timeout."""
        request: dict[str, Any] = {"Bucket": self.settings.definitions_bucket, "Key": key}
        if version_id:
            request["VersionId"] = version_id
        deadline = time.monotonic() + timeout_seconds
        while True:
            tags = {tag["Key"]: tag["Value"] for tag in self.clients("s3").get_object_tagging(**request)["TagSet"]}
            if STATUS_TAG in tags or time.monotonic() >= deadline:
                status = tags.get(STATUS_TAG, "uploaded")
                return Registration(status, tags.get(WORKFLOW_TAG), tags.get(ERROR_TAG), version_id)
            time.sleep(POLL_SECONDS)

    # -- executions -----------------------------------------------------------------------

    def start(
        self,
        workflow: str,
        inputs: Mapping[str, Any],
        request_id: str | None = None,
        *,
        workspace: ArtifactRef | None = None,
    ) -> dict[str, Any]:
        """Ask the starter for an execution (``request_id`` makes repeats start it once),
        starting from the files of ``workspace`` (see ``store_workspace``)."""
        payload: dict[str, Any] = {"workflow": workflow, "inputs": dict(inputs)}
        if request_id:
            payload["request_id"] = request_id
        if workspace is not None:
            payload["workspace"] = workspace.to_data()
        if self.api is None:
            return self._invoke("starter", payload)
        from baton.cli.stack_api import StackApiError

        try:
            answer: dict[str, Any] = self._api("POST", "/executions", body=payload)
        except StackApiError as exc:
            if exc.status != 400:
                raise
            return {"execution_id": None, "workflow": workflow, "status": "rejected", "error": str(exc)}
        return answer

    def store_workspace(self, folder: Path) -> tuple[ArtifactRef, int]:
        """Pack ``folder`` into the artifact bucket; return the archive and its file count."""
        from baton.adapters.aws.workspaces import WorkspaceSeeds

        with tempfile.TemporaryDirectory(prefix="baton-workspace-") as scratch:
            return WorkspaceSeeds(self.backend.artifacts).store(folder, Path(scratch))

    def answer(self, execution_id: str, step: str, *, approve: bool, comment: str | None) -> dict[str, Any]:
        """Answer a waiting approval through the approver function (or the API)."""
        if self.api is not None:
            path = f"/executions/{quote(execution_id, safe='')}/approvals/{quote(step, safe='')}"
            return self._refusal_as_answer(lambda: self._api("POST", path, body={"approve": approve,
                                                                                  "comment": comment}))  # fmt: skip
        return self._operate({"action": "answer", "execution_id": execution_id, "step": step,
                              "approve": approve, "comment": comment})  # fmt: skip

    def cancel(self, execution_id: str) -> dict[str, Any]:
        """Request cancellation through the approver function (or the API); a worker is woken."""
        if self.api is not None:
            path = f"/executions/{quote(execution_id, safe='')}/cancel"
            answer = self._refusal_as_answer(lambda: self._api("POST", path))
            return {"accepted": bool(answer.get("cancel_requested")), **answer}
        return self._operate({"action": "cancel", "execution_id": execution_id})

    @staticmethod
    def _refusal_as_answer(call: Callable[[], Any]) -> dict[str, Any]:
        """The API's answer; a 409 (refused) is an answer too, as the approver gives it."""
        from baton.cli.stack_api import StackApiError

        try:
            answer: dict[str, Any] = call()
        except StackApiError as exc:
            if exc.status != 409:
                raise
            return {"accepted": False, "error": exc.body.get("error") or exc.body.get("message") or str(exc),
                    **exc.body}  # fmt: skip
        return answer

    def resume(self, execution_id: str, *, from_step: str | None, inputs: Mapping[str, str]) -> dict[str, Any]:
        """Make a stopped execution run again, from ``from_step`` if given, through the approver."""
        return self._operate({"action": "resume", "execution_id": execution_id, "from_step": from_step,
                              "inputs": dict(inputs)})  # fmt: skip

    def _operate(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Invoke the approver with a one-time token proving who asks (``caller_proof``)."""
        return self._invoke("approver", {**payload, "caller_token": presign(self.clients("sts"))})

    def execution(self, execution_id: str) -> ExecutionRecord:
        """Where the execution stands (through the API: the fields its record shows)."""
        if self.api is None:
            return self.backend.store.get_execution(execution_id)
        document = self.document(execution_id)
        return ExecutionRecord(execution_id, document["workflow"], "", status=document["status"],
                               outputs=document.get("outputs") or {}, error=document.get("error"),
                               started_at=_time(document.get("started_at")),
                               finished_at=_time(document.get("finished_at")))  # fmt: skip

    def wait(self, execution_id: str, timeout_seconds: float) -> ExecutionRecord:
        """Poll until the execution ends or waits for an answer (or the timeout passes)."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            execution = self.execution(execution_id)
            if execution.status in TERMINAL_EXECUTION or execution.status == WAITING:
                return execution
            if time.monotonic() >= deadline:
                raise StackError(f"execution {execution_id} is still {execution.status} after {timeout_seconds:.0f}s")
            time.sleep(POLL_SECONDS)

    def _invoke(self, role: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        response = self.clients("lambda").invoke(FunctionName=self.function_name(role), Payload=json.dumps(payload))
        body = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            message = body.get("errorMessage") if isinstance(body, dict) else body
            raise StackError(f"the {role} function failed: {message}")
        if not isinstance(body, dict):
            raise StackError(f"the {role} function answered {body!r}, not an object")
        return body

    # -- logs -----------------------------------------------------------------------------

    def logs(self, execution_id: str, step: str | None = None) -> list[LogEvent]:
        """The functions' log lines that name the execution (and the step), oldest first."""
        events = [event for role in names.FUNCTION_ROLES for event in self._log_events(role, execution_id)]
        if step is not None:
            events = [event for event in events if _about_step(event.message, step)]
        return sorted(events, key=lambda event: event.timestamp_ms)

    def _log_events(self, role: str, execution_id: str) -> list[LogEvent]:
        from botocore.exceptions import ClientError

        function = self.function_name(role)
        paginator = self.clients("logs").get_paginator("filter_log_events")
        # A quoted term matches the id anywhere in the line, JSON or not. Emulators may
        # ignore the pattern, so the lines are checked here as well.
        pages = paginator.paginate(logGroupName=f"/aws/lambda/{function}", filterPattern=f'"{execution_id}"')
        try:
            return [LogEvent(event["timestamp"], role, event["message"].rstrip("\n"))
                    for page in pages for event in page.get("events", [])
                    if execution_id in event["message"]]  # fmt: skip
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return []  # the function has not logged anything yet
            raise


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _about_step(message: str, step: str) -> bool:
    try:
        record = json.loads(message)
    except ValueError:
        return False
    step_id = str(record.get("step_id") or "") if isinstance(record, dict) else ""
    return step_id == step or step_id.startswith((f"{step}[", f"{step}~"))
