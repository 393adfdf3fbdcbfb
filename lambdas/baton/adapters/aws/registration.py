"""``Registrar``: a definition uploaded to (or deleted from) the definitions bucket.

An upload is validated (including what AWS would refuse: schedule expressions, secrets
outside the workflow's names); a valid one is compiled, stored by digest, given its
triggers and only then made the workflow's current version; an invalid one, or one whose
triggers AWS refuses, is rejected with every
``FILE:LINE:COL`` problem (returned, published as ``Baton Definition Rejected`` and tagged
on the object version) and never replaces the last good version.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from baton import __version__
from baton.adapters.aws.definitions import SEQUENCER_WIDTH, DefinitionRegistry, WorkflowVersion
from baton.adapters.aws.events import DEFINITION_REGISTERED, DEFINITION_REJECTED, EventBridgePublisher
from baton.adapters.aws.long_steps import StepNeed, registration_problems
from baton.adapters.aws.schedule_check import schedule_problem
from baton.adapters.aws.secret_scope import out_of_scope
from baton.adapters.aws.triggers import TriggerManager, TriggerSpec, s3_pattern
from baton.engine.definition import DEFINITION_FORMAT
from baton.errors import BatonError, DefinitionError
from baton.ports import StateStore

if TYPE_CHECKING:
    from baton.spec.models import Workflow

MAX_TAG_VALUE = 256
_TAG_UNSAFE = re.compile(r"[^\w\s+\-=.:/@]")


@dataclass
class Registration:
    """What became of one uploaded or deleted object."""

    status: str
    """``registered``, ``rejected``, ``stale`` (an older upload than the current one),
    ``removed`` or ``ignored``."""
    workflow: str | None = None
    errors: list[str] = field(default_factory=list)
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class S3Object:
    """The object an S3 event is about."""

    bucket: str
    key: str
    version_id: str | None
    sequencer: str


def definition_digest(raw: bytes) -> str:
    """The digest a compiled definition is stored under (the engine's, for the same text)."""
    salt = f"baton {__version__} definition {DEFINITION_FORMAT}\n".encode()
    return hashlib.sha256(salt + raw).hexdigest()


class Registrar:
    """Registers definitions from the definitions bucket."""

    def __init__(
        self,
        s3: Any,
        store: StateStore,
        registry: DefinitionRegistry,
        triggers: TriggerManager,
        publisher: EventBridgePublisher,
        *,
        secrets_prefix: str = "baton",
        worker_timeout_seconds: float = 900,
        long_runner_available: bool = False,
    ) -> None:
        self._s3 = s3
        self.worker_timeout_seconds = worker_timeout_seconds
        self.long_runner_available = long_runner_available
        """The deployment has a long-step runner: ``runner: long`` steps are accepted."""
        self.secrets_prefix = secrets_prefix
        self.store = store
        self.registry = registry
        self.triggers = triggers
        self.publisher = publisher

    def object_created(self, obj: S3Object) -> Registration:
        """Validate an uploaded definition, give it its triggers, then make it current.

        All or nothing: a definition whose triggers AWS refuses is rejected and the last
        good version stays current with its triggers as they were.
        """
        request: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            request["VersionId"] = obj.version_id
        raw = self._s3().get_object(**request)["Body"].read()
        where = f"s3://{obj.bucket}/{obj.key}"
        try:
            workflow, compiled = _compile(raw, where)
        except DefinitionError as exc:
            return self._reject(obj, [str(d) for d in exc.diagnostics])
        except BatonError as exc:
            return self._reject(obj, [f"{where}:1:1: {exc}"])
        specs = self.trigger_specs(workflow)
        problems = self._aws_problems(workflow, specs) + self._fit_problems(workflow, compiled)
        if problems:
            return self._reject(obj, [f"{where}:1:1: {problem}" for problem in problems])
        digest = definition_digest(raw)
        previous = self.registry.current(workflow.name)
        if previous is not None and _is_newer(previous, obj):
            return Registration("stale", workflow.name, digest=digest)
        self.store.put_definition(digest, compiled)
        version = WorkflowVersion(
            name=workflow.name, digest=digest, content_sha256=hashlib.sha256(raw).hexdigest(),
            bucket=obj.bucket, key=obj.key, version_id=obj.version_id, sequencer=obj.sequencer,
            registered_at=datetime.now(UTC).isoformat(), version=workflow.version,
            triggers=[spec.name for spec in specs], trigger_inputs=[t.inputs for t in workflow.triggers],
            concurrency=workflow.concurrency.model_dump(mode="json") if workflow.concurrency else None,
        )  # fmt: skip
        renamed_from = self.registry.name_of(obj.bucket, obj.key)
        try:
            self.triggers.put(workflow.name, specs)
        except (ClientError, ValueError) as exc:
            self._restore(workflow.name, previous, specs)
            return self._reject(obj, [f"{where}:1:1: triggers refused: {exc}"])
        if not self.registry.register(version):  # a newer upload won the race meanwhile
            self._restore(workflow.name, self.registry.current(workflow.name), specs)
            return Registration("stale", workflow.name, digest=digest)
        self.triggers.remove([name for name in (previous.triggers if previous else []) if name not in version.triggers])
        if renamed_from is not None and renamed_from != workflow.name:
            self._retire_renamed(renamed_from, obj)
        self._tag(obj, {"baton-status": "registered", "baton-workflow": workflow.name})
        detail = {"workflow": workflow.name, "version": workflow.version, "digest": digest,
                  "bucket": obj.bucket, "key": obj.key, "version_id": obj.version_id}  # fmt: skip
        self.publisher.publish(DEFINITION_REGISTERED, detail)
        return Registration("registered", workflow.name, digest=digest)

    def _aws_problems(self, workflow: Workflow, specs: list[TriggerSpec]) -> list[str]:
        """What AWS or this deployment would refuse: schedules, secrets out of scope."""
        problems = [
            f"trigger {spec.index}: {problem}"
            for spec in specs
            if spec.is_schedule and (problem := schedule_problem(spec.expression or "", spec.timezone))
        ]
        secrets = {name: ref.model_dump(mode="json", exclude_none=True) for name, ref in workflow.secrets.items()}
        return problems + out_of_scope(workflow.name, secrets, self.secrets_prefix) + _file_references(workflow)

    def _fit_problems(self, workflow: Workflow, compiled: dict[str, Any]) -> list[str]:
        """Steps too long for a worker that name no other runner, and long steps this
        deployment cannot run (``long_steps``)."""
        from baton.engine.definition import Definition

        needs = []
        for step in Definition.from_data(compiled).steps:
            needs.append(StepNeed(step.id, step.type, step.body.timeout_seconds, step.runner))
            if step.compensate is not None:
                needs.append(StepNeed(f"{step.id} (compensate)", step.compensate.type,
                                      step.compensate.timeout_seconds))  # fmt: skip
        return registration_problems(needs, self.worker_timeout_seconds,
                                     long_runner_available=self.long_runner_available)  # fmt: skip

    def _restore(self, name: str, current: WorkflowVersion | None, attempted: list[TriggerSpec]) -> None:
        """Put the triggers of ``current`` back after a failed or lost registration."""
        kept = set(current.triggers) if current else set()
        self.triggers.remove([spec.name for spec in attempted if spec.name not in kept])
        if current is None or not current.triggers:
            return
        source: dict[str, Any] = {"Bucket": current.bucket, "Key": current.key}
        if current.version_id:
            source["VersionId"] = current.version_id
        raw = self._s3().get_object(**source)["Body"].read()
        workflow, _ = _compile(raw, f"s3://{current.bucket}/{current.key}")
        self.triggers.put(name, self.trigger_specs(workflow))

    def _retire_renamed(self, old_name: str, obj: S3Object) -> None:
        """The file now defines another workflow: the old name and its triggers go."""
        retired = self.registry.retire(old_name, bucket=obj.bucket, key=obj.key, sequencer=obj.sequencer,
                                       forget_source=False)  # fmt: skip
        if retired is not None:
            self.triggers.remove(retired.triggers)

    def object_deleted(self, obj: S3Object) -> Registration:
        """Remove the workflow a deleted definition registered, and its triggers."""
        name = self.registry.name_of(obj.bucket, obj.key)
        if name is None:
            return Registration("ignored")
        retired = self.registry.retire(name, bucket=obj.bucket, key=obj.key, sequencer=obj.sequencer)
        if retired is None:
            return Registration("stale", name)
        self.triggers.remove(retired.triggers)
        return Registration("removed", name)

    def trigger_specs(self, workflow: Workflow) -> list[TriggerSpec]:
        """The AWS resources of the workflow's ``triggers:``."""
        from baton.spec.models import EventTrigger, S3Trigger

        specs = []
        for index, trigger in enumerate(workflow.triggers):
            if isinstance(trigger, EventTrigger):
                pattern = trigger.event.model_dump(mode="json", by_alias=True, exclude_none=True)
                specs.append(TriggerSpec(self.triggers.rule_name(workflow.name, index), index, "event", pattern))
            elif isinstance(trigger, S3Trigger):
                where = trigger.s3
                pattern = s3_pattern(where.bucket, where.prefix, where.suffix)
                specs.append(TriggerSpec(self.triggers.rule_name(workflow.name, index), index, "s3", pattern))
            else:
                name = self.triggers.schedule_name(workflow.name, index)
                specs.append(TriggerSpec(name, index, "schedule", expression=trigger.schedule,
                                         timezone=trigger.timezone))  # fmt: skip
        return specs

    def _reject(self, obj: S3Object, errors: list[str]) -> Registration:
        self._tag(obj, {"baton-status": "rejected", "baton-error": errors[0] if errors else "invalid"})
        self.publisher.publish(DEFINITION_REJECTED, {"bucket": obj.bucket, "key": obj.key,
                                                     "version_id": obj.version_id, "errors": errors})  # fmt: skip
        return Registration("rejected", errors=errors)

    def _tag(self, obj: S3Object, tags: dict[str, str]) -> None:
        tag_set = [{"Key": key, "Value": tag_value(value)} for key, value in tags.items()]
        request: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key, "Tagging": {"TagSet": tag_set}}
        if obj.version_id:
            request["VersionId"] = obj.version_id
        self._s3().put_object_tagging(**request)


def _file_references(workflow: Workflow) -> list[str]:
    """``workflow:`` steps that name a file: on AWS a child is a registered workflow."""
    from baton.spec.steps import WorkflowStep
    from baton.spec.workflow_refs import is_path

    return [
        f"step {step.id}: workflow: {step.workflow!r} is a file; on AWS name a registered workflow "
        "(upload the child and use its name)"
        for steps in workflow.step_lists().values()
        for step in steps
        if isinstance(step, WorkflowStep) and is_path(step.workflow.partition("@")[0])
    ]


def _is_newer(current: WorkflowVersion, obj: S3Object) -> bool:
    """True when ``current`` came from a later upload of the same object (a stale event)."""
    same_source = (current.bucket, current.key) == (obj.bucket, obj.key)
    return same_source and current.sequencer.zfill(SEQUENCER_WIDTH) > obj.sequencer.zfill(SEQUENCER_WIDTH)


def tag_value(text: str) -> str:
    """``text`` as an S3 tag value: only the characters S3 allows, at most 256 of them."""
    return _TAG_UNSAFE.sub(" ", text)[:MAX_TAG_VALUE]


def _compile(raw: bytes, filename: str) -> tuple[Workflow, dict[str, Any]]:
    """Validate, compile, and check that every step type can run here."""
    from baton.engine.definition import compile_workflow
    from baton.spec.loader import load_workflow_text
    from baton.steps import step_type

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BatonError(f"not UTF-8 text: {exc}") from exc
    workflow = load_workflow_text(text, filename)
    definition = compile_workflow(workflow)
    for step in definition.steps:
        step_type(step.type)
        if step.compensate is not None:
            step_type(step.compensate.type)
    return workflow, definition.to_data()
