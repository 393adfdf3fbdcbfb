"""What the executor knows about one execution: its records, the expression context of each
unit, the full cache key, and the invocation handed to a step type."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from baton.engine.attempt import AttemptPlan, OutputResolver
from baton.engine.cache import full_cache_key
from baton.engine.definition import BodyDef, Definition, StepDef
from baton.engine.expressions import Expressions
from baton.engine.masking import Masker
from baton.engine.planner import PlanIndex
from baton.engine.records import KIND_ITEM, RUNNING, WAITING, ExecutionRecord, StepRecord, item_key
from baton.engine.views import expression_context, step_view
from baton.ports import Dispatcher, Ports
from baton.steps.base import Invocation, StepType


class Observer(Protocol):
    """Told about every record the engine writes (the CLI draws progress from it)."""

    def step_changed(self, unit: UnitContext, record: StepRecord) -> None:
        """A step, item or compensation record was written."""
        ...

    def execution_changed(self, execution: ExecutionRecord) -> None:
        """The execution record was written."""
        ...


class NullObserver:
    """Observes nothing."""

    def step_changed(self, unit: UnitContext, record: StepRecord) -> None:
        """Ignore."""

    def execution_changed(self, execution: ExecutionRecord) -> None:
        """Ignore."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A unit's rendered body, before it is claimed."""

    step_type: StepType
    fields: dict[str, Any]
    env: dict[str, str]
    output_paths: dict[str, str] = field(default_factory=dict)
    cache_key: str | None = None
    cache_ttl_seconds: float | None = None


class UnitContext:
    """The records of one execution and everything derived from them."""

    def __init__(
        self,
        definition: Definition,
        execution: ExecutionRecord,
        records: Mapping[str, StepRecord],
        ports: Ports,
        dispatcher: Dispatcher,
        *,
        secrets: Mapping[str, str],
        base_env: Mapping[str, str],
        observer: Observer | None = None,
        lease_seconds: float = 60.0,
    ) -> None:
        self.definition = definition
        self.execution = execution
        self.records: dict[str, StepRecord] = {}
        self.changes = 0
        """How many times a record was kept (``remember``): equal counts, the same records."""
        self.owner = ports.supervisor.owner
        self.foreign: set[str] = set()
        """Keys of units another worker is running."""
        self.waiting: set[str] = set()
        """Keys of units waiting for a time or an answer."""
        self.settled = 0
        """Counts writes that ended, skipped, rescheduled or suspended a unit."""
        self.ports = ports
        self.dispatcher = dispatcher
        self.secrets = dict(secrets)
        self.base_env = dict(base_env)
        self.observer: Observer = observer or NullObserver()
        self.lease_seconds = lease_seconds
        self.workspace = Path(execution.workspace)
        self.masker = Masker(self.secrets.values())
        self.expressions = Expressions(self.workspace, ports.clock.now)
        self.resolve = OutputResolver(ports.artifacts)
        self.scratch = Path(tempfile.mkdtemp(prefix="baton-"))
        self._views: dict[str, dict[str, Any]] = {}
        self._stale_views: set[str] = set()
        self._input_digests: dict[str, str] | None = None
        self.plan_index = PlanIndex(definition)
        """The planner's index of these records (kept up to date by :meth:`remember`)."""
        self._setup()
        for record in records.values():
            self.remember(record)

    def _setup(self) -> None:
        """Hook for subclasses."""

    def remember(self, record: StepRecord) -> None:
        """Keep a record just read or written; views of its step are recomputed.

        An item of a running ``for_each`` leaves its step's view as it is: the view (every
        item's status and outputs) is redrawn when the step's own record changes, at the
        latest when it ends. Nothing reads it before then: a step may only read the steps it
        runs after, and a step cannot read its own results.
        """
        key = record.key
        self.plan_index.update(self.records.get(key), record)
        self.records[key] = record
        self.changes += 1
        parent = self.records.get(record.step_id) if record.kind == KIND_ITEM else None
        if parent is None or parent.status != RUNNING:
            self._stale_views.add(record.step_id)
        if record.status == RUNNING and record.lease_owner not in (None, self.owner):
            self.foreign.add(key)
        else:
            self.foreign.discard(key)
        if record.status == WAITING:
            self.waiting.add(key)
        else:
            self.waiting.discard(key)

    # -- expression context ---------------------------------------------------------------

    def step_views(self) -> dict[str, dict[str, Any]]:
        """``steps.<id>`` for every step that has a record."""
        # Only the steps whose records changed are redrawn: a long chain stays linear.
        for step_id in self._stale_views:
            if step_id in self.records:
                self._views[step_id] = step_view(self.definition.step(step_id), self.records, self.resolve)
        self._stale_views.clear()
        return self._views

    def context_for(self, record: StepRecord | None) -> dict[str, Any]:
        """The expression context of one unit (``item``/``index`` for ``for_each`` items),
        or of the workflow as a whole when ``record`` is None."""
        context = expression_context(self.definition, self.execution, self.step_views(), self.secrets)
        if record is not None and record.index is not None:
            context["item"], context["index"] = record.item, record.index
        return context

    # -- cache ----------------------------------------------------------------------------

    def cache_key_for(
        self,
        step: StepDef,
        *,
        fields: dict[str, Any],
        env: dict[str, str],
        outputs: dict[str, str],
        context: dict[str, Any],
        record: StepRecord,
    ) -> str:
        """The full cache key of one run of ``step`` (one item of a ``for_each``)."""
        rendered_key = str(self.expressions.render(step.cache_key, context)) if step.cache_key else None
        body: dict[str, Any] = fields
        if record.index is not None:
            # An item whose body does not mention it still differs ($BATON_ITEM_INDEX).
            body = {"fields": fields, "item": record.item, "index": record.index}
        return full_cache_key(
            workflow=self.definition.name,
            step_id=step.id,
            step_type=step.type,
            body=body,
            env=env,
            output_paths=outputs,
            rendered_key=rendered_key,
            input_digests=self._digests_seen_by(step),
            cache_version=self.definition.cache_version,
        )

    def _digests_seen_by(self, step: StepDef) -> dict[str, str]:
        digests = dict(self._artifact_input_digests())
        for ancestor in self._ancestors(step):
            record = self.records.get(ancestor)
            if record is None:
                continue
            units = [record]
            if record.item_count:
                units += [self.records[item_key(ancestor, i)] for i in range(record.item_count)]
            for unit in units:
                for name, info in unit.artifacts.items():
                    digests[f"{unit.key}.{name}"] = info["ref"]["$artifact"]
        return digests

    def _artifact_input_digests(self) -> dict[str, str]:
        if self._input_digests is None:
            self._input_digests = {}
            for name, spec in self.definition.inputs.items():
                value = self.execution.inputs.get(name)
                if spec.get("type") == "artifact" and isinstance(value, str):
                    self._input_digests[f"inputs.{name}"] = _file_digest(self.workspace / value)
        return self._input_digests

    def _ancestors(self, step: StepDef) -> set[str]:
        found: set[str] = set()
        if step.list_name != "steps":
            found |= {s.id for s in self.definition.list_steps("steps")}
        pending = list(step.needs)
        while pending:
            need = pending.pop()
            if need not in found:
                found.add(need)
                pending.extend(self.definition.step(need).needs)
        return found

    # -- invocation -----------------------------------------------------------------------

    def attempt_plan(
        self,
        record: StepRecord,
        body: BodyDef,
        prepared: Prepared,
        *,
        watch: Callable[[], None] | None = None,
        started: Callable[[], None] | None = None,
        exited: Callable[[], None] | None = None,
    ) -> AttemptPlan:
        """The attempt a worker runs for a unit just claimed (``watch``, ``started``,
        ``exited``: see ``Invocation``)."""
        execution_id = self.execution.execution_id
        output_path = self.scratch / f"{record.key}.{record.attempt}.out"
        env = {
            **self.base_env,
            **self.ports.step_identity.environment(self.definition.name),
            **prepared.env,
            "BATON_OUTPUT": str(output_path),
            "BATON_EXECUTION_ID": execution_id,
            "BATON_STEP_ID": record.step_id,
            "BATON_STEP_KEY": record.key,
            "BATON_ATTEMPT": str(record.attempt),
            "BATON_WORKSPACE": str(self.workspace),
        }
        if record.index is not None:
            env["BATON_ITEM_INDEX"] = str(record.index)
        artifacts = self.ports.artifacts
        invocation = Invocation(
            execution_id=execution_id,
            step_key=record.key,
            attempt=record.attempt,
            workspace=self.workspace,
            env=env,
            stdout_path=artifacts.log_file(execution_id, record.key, record.attempt, "stdout"),
            stderr_path=artifacts.log_file(execution_id, record.key, record.attempt, "stderr"),
            output_path=output_path,
            masker=self.masker,
            clock=self.ports.clock,
            timeout_seconds=body.timeout_seconds,
            watch=watch,
            started=started,
            exited=exited,
        )
        return AttemptPlan(
            prepared.step_type,
            prepared.fields,
            invocation,
            prepared.output_paths,
            prepared.cache_key,
            prepared.cache_ttl_seconds,
        )


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return "missing"
    return digest.hexdigest()
