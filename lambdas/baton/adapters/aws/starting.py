"""``Starter``: a request to start a workflow becomes an execution and its first message.

Requests come from the ``Start Baton Execution`` event, trigger rules (events and S3
objects), schedules and direct invocations (``baton start --stack``); the handler turns
each into a ``StartRequest``. The registered current version is started, or the one the
name pins (``name@1.2``, ``name@sha256:...``); a trigger's
``inputs:`` are rendered over the triggering event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton.adapters.aws.children import UnknownWorkflowError, pick_version
from baton.adapters.aws.definitions import DefinitionRegistry, WorkflowVersion
from baton.adapters.aws.events import EventBridgePublisher
from baton.adapters.aws.sqs_step_queue import SqsStepQueue, StepMessage
from baton.adapters.aws.workspaces import WORKSPACE_KEY
from baton.engine.definition import Definition
from baton.engine.expressions import Expressions
from baton.engine.service import Engine
from baton.errors import BatonError


class StartError(BatonError):
    """The request cannot start anything: no such workflow, or bad inputs."""


@dataclass(frozen=True, slots=True)
class StartRequest:
    """What to start, with what, and what started it."""

    workflow: str
    inputs: dict[str, Any] = field(default_factory=dict)
    trigger: dict[str, Any] = field(default_factory=dict)
    """The ``trigger`` of the expression context: the event, or how it was started."""
    trigger_index: int | None = None
    """For a trigger rule or schedule: which trigger, whose ``inputs:`` templates apply."""
    env: dict[str, str] = field(default_factory=dict)
    """The start environment the request carried (only the names the workflow reads are kept)."""
    workspace: dict[str, Any] | None = None
    """The starting files' archive (``{"$artifact": sha256, "size": n}``), kept in the trigger."""


class Starter:
    """Creates executions and hands them to the workers."""

    def __init__(
        self,
        engine: Engine,
        registry: DefinitionRegistry,
        queue: SqsStepQueue,
        publisher: EventBridgePublisher,
        *,
        workspace: Path,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.queue = queue
        self.publisher = publisher
        self.workspace = workspace

    def start(self, request: StartRequest) -> dict[str, Any]:
        """Start the request's workflow; return ``{execution_id, workflow, status}``."""
        try:
            version = pick_version(self.registry, request.workflow)
        except UnknownWorkflowError as exc:
            raise StartError(str(exc)) from exc
        data = self.engine.ports.store.get_definition(version.digest)
        if data is None:
            raise StartError(f"workflow {request.workflow}: its compiled definition {version.digest} is missing")
        definition = Definition.from_data(data)
        inputs = self._inputs(request, version)
        trigger = dict(request.trigger)
        # ``concurrency:`` is the engine's admission: the first worker takes the key's slot,
        # and skips, queues or cancels holders as the workflow says.
        trigger["env"] = {name: request.env[name] for name in definition.environment_names() if name in request.env}
        if request.workspace is not None:
            trigger[WORKSPACE_KEY] = dict(request.workspace)
        execution = self.engine.start(definition, version.digest, inputs, workspace=self.workspace, trigger=trigger)
        self.queue.dispatch([StepMessage(execution.execution_id)])
        self.publisher.execution_started(execution)
        self.publisher.flush()
        return {"execution_id": execution.execution_id, "workflow": execution.workflow, "status": execution.status}

    def _inputs(self, request: StartRequest, version: WorkflowVersion) -> dict[str, Any]:
        if request.trigger_index is None:
            return dict(request.inputs)
        if request.trigger_index >= len(version.trigger_inputs):
            raise StartError(f"workflow {version.name} has no trigger {request.trigger_index} (re-uploaded since?)")
        templates = version.trigger_inputs[request.trigger_index]
        expressions = Expressions(self.workspace, self.engine.ports.clock.now)
        rendered = expressions.render_data(templates, {"trigger": request.trigger})
        return {**rendered, **request.inputs}
