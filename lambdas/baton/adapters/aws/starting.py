"""``Starter``: a request to start a workflow becomes an execution and its first message.

Requests come from the ``Start Baton Execution`` event, trigger rules (events and S3
objects), schedules and direct invocations (``baton start --stack``); the handler turns
each into a ``StartRequest``. The registered current version is started; a trigger's
``inputs:`` are rendered over the triggering event; ``concurrency:`` is honoured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton.adapters.aws.concurrency import ConcurrencyGate
from baton.adapters.aws.definitions import DefinitionRegistry, WorkflowVersion
from baton.adapters.aws.events import EventBridgePublisher
from baton.adapters.aws.relay_support import StepQueue
from baton.adapters.aws.sqs_dispatcher import StepMessage
from baton.engine.definition import Definition
from baton.engine.expressions import Expressions
from baton.engine.inputs import resolve_inputs
from baton.engine.service import Engine
from baton.errors import BatonError, ResumeError


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


class Starter:
    """Creates executions and hands them to the workers."""

    def __init__(
        self,
        engine: Engine,
        registry: DefinitionRegistry,
        queue: StepQueue,
        publisher: EventBridgePublisher,
        gate: ConcurrencyGate,
        *,
        workspace: Path,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.queue = queue
        self.publisher = publisher
        self.gate = gate
        self.workspace = workspace

    def start(self, request: StartRequest) -> dict[str, Any]:
        """Start the request's workflow; return ``{execution_id, workflow, status}``."""
        version = self.registry.current(request.workflow)
        if version is None:
            raise StartError(f"no workflow named {request.workflow!r} is registered; upload its definition first")
        data = self.engine.ports.store.get_definition(version.digest)
        if data is None:
            raise StartError(f"workflow {request.workflow}: its compiled definition {version.digest} is missing")
        definition = Definition.from_data(data)
        inputs = self._inputs(request, version)
        trigger = dict(request.trigger)
        trigger["env"] = {name: request.env[name] for name in definition.environment_names() if name in request.env}
        if version.concurrency is not None:
            settings = self._concurrency(definition, version, inputs)
            trigger["concurrency"] = settings
            skipped = self._settle_conflicts(request.workflow, settings)
            if skipped is not None:
                return skipped
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

    def _concurrency(self, definition: Definition, version: WorkflowVersion, inputs: dict[str, Any]) -> dict[str, Any]:
        settings = dict(version.concurrency or {})
        resolved = resolve_inputs(definition.inputs, inputs)
        expressions = Expressions(self.workspace, self.engine.ports.clock.now)
        context = {"inputs": resolved, "workflow": definition.name}
        settings["key"] = str(expressions.render(str(settings.get("key", "{{ workflow }}")), context))
        return settings

    def _settle_conflicts(self, workflow: str, settings: dict[str, Any]) -> dict[str, Any] | None:
        """``skip``: the answer when the key is taken; ``cancel-running``: cancel holders."""
        holders = self.gate.holders(workflow, settings["key"])
        if len(holders) < int(settings.get("limit", 1)):
            return None
        policy = settings.get("on_conflict", "queue")
        if policy == "skip":
            running = ", ".join(h.execution_id for h in holders)
            return {"execution_id": None, "workflow": workflow, "status": "skipped",
                    "reason": f"concurrency key {settings['key']!r} is held by {running}"}  # fmt: skip
        if policy == "cancel-running":
            for holder in holders:
                try:
                    self.engine.cancel(holder.execution_id)
                except ResumeError:
                    continue  # it ended meanwhile
                self.queue.dispatch([StepMessage(holder.execution_id)])
        return None
