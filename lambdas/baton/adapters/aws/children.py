"""``AwsChildWorkflows``: child executions on AWS, each a real execution of its own.

A ``workflow:`` step names a registered workflow, optionally pinned (``name@1.2`` picks the
latest registration labelled ``version: "1.2"``, ``name@sha256:...`` one by digest). The
child is created by the engine like any start (its own record, events and ``concurrency:``)
and launched the way the starter launches an execution: a message on the step queue, so
the workers drive it. The parent's unit waits without holding a worker; the child's last
driver sends the message that wakes it.
"""

from __future__ import annotations

from baton.adapters.aws.definitions import DefinitionRegistry, WorkflowVersion
from baton.adapters.aws.events import EventBridgePublisher
from baton.adapters.aws.sqs_step_queue import SqsStepQueue, StepMessage
from baton.errors import BatonError, StepFailedError
from baton.ports import ChildDefinition, DefinitionVersion, ExecutionRecord, StateStore
from baton.spec.workflow_refs import WorkflowRef, WorkflowRefError, parse_reference


class UnknownWorkflowError(BatonError):
    """No registered definition matches a name (and its pin)."""


def pick_version(registry: DefinitionRegistry, reference: str) -> WorkflowVersion:
    """The registered version ``reference`` names: the current one, or the one it pins."""
    try:
        ref = parse_reference(reference)
    except WorkflowRefError as exc:
        raise UnknownWorkflowError(str(exc)) from exc
    if ref.name is None:
        raise UnknownWorkflowError(f"{reference!r} is a file; on AWS name a registered workflow (baton push it first)")
    if not ref.pinned:
        current = registry.current(ref.name)
        if current is None:
            raise UnknownWorkflowError(f"no workflow named {ref.name!r} is registered; upload its definition first")
        return current
    return _pinned(registry, ref)


def _pinned(registry: DefinitionRegistry, ref: WorkflowRef) -> WorkflowVersion:
    assert ref.name is not None
    history = registry.versions(ref.name)
    if ref.digest is not None:
        found = [v for v in history if v.digest.startswith(ref.digest)]
        if len({v.digest for v in found}) > 1:
            raise UnknownWorkflowError(f"{ref}: the digest prefix is ambiguous; give more of it")
    else:
        found = [v for v in history if v.version == ref.version]
    if not found:
        labels = ", ".join(sorted({str(v.version) for v in history})) or "none"
        raise UnknownWorkflowError(f"no registered definition {ref} (versions of {ref.name}: {labels})")
    return found[-1]


class AwsChildWorkflows:
    """Finds children in the registry and hands them to the workers."""

    def __init__(
        self, registry: DefinitionRegistry, store: StateStore, queue: SqsStepQueue, publisher: EventBridgePublisher
    ) -> None:
        self.registry = registry
        self.store = store
        self.queue = queue
        self.publisher = publisher

    def resolve(self, reference: str, parent: ExecutionRecord) -> ChildDefinition:
        """The registered definition ``reference`` names."""
        try:
            version = pick_version(self.registry, reference)
        except UnknownWorkflowError as exc:
            raise StepFailedError(str(exc), retryable=False) from exc
        data = self.store.get_definition(version.digest)
        if data is None:
            raise StepFailedError(f"workflow {reference}: its compiled definition {version.digest} is missing")
        return ChildDefinition(data, version.digest)

    def launch(self, execution: ExecutionRecord) -> None:
        """Send the execution's message, as the starter does for a new one."""
        self.queue.dispatch([StepMessage(execution.execution_id)])
        if execution.version == 1:  # just created: it starts now
            self.publisher.execution_started(execution)

    def active(self, parent_id: str) -> bool:
        """Children run on other workers, never in this driver's invocation."""
        return False


class RegistryVersions:
    """The ``DefinitionVersions`` port over the registry: what the registrar registered."""

    def __init__(self, registry: DefinitionRegistry) -> None:
        self.registry = registry

    def remember(self, version: DefinitionVersion) -> None:
        """Registration is the registrar's: nothing is kept at run time."""

    def versions(self, name: str) -> list[DefinitionVersion]:
        """Every registered version of ``name``, oldest first; the current one marked."""
        from datetime import datetime

        current = self.registry.current(name)
        return [
            DefinitionVersion(
                name, v.digest, v.version, datetime.fromisoformat(v.registered_at), f"s3://{v.bucket}/{v.key}",
                current=current is not None and (v.digest, v.registered_at) == (current.digest, current.registered_at),
            )
            for v in self.registry.versions(name)
        ]  # fmt: skip
