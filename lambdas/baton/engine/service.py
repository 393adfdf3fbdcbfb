"""The engine's operations, as the CLI (and later the Lambda handlers) call them: load a
definition, start, drive, resume, answer an approval, cancel, and inspect."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from baton import __version__
from baton.engine.attempt import OutputResolver
from baton.engine.children import reattach
from baton.engine.context import Observer
from baton.engine.definition import DEFINITION_FORMAT, Definition
from baton.engine.driver import Driver, DriveRequest, DriveResult
from baton.engine.executor import Executor
from baton.engine.inputs import resolve_inputs
from baton.engine.queue import InProcessStepQueue
from baton.engine.records import (
    PENDING,
    RUNNING,
    SUCCEEDED,
    TERMINAL_EXECUTION,
    WAITING,
    ExecutionRecord,
    StepRecord,
)
from baton.engine.resume import changed_steps, reset, resets_for
from baton.engine.views import execution_document
from baton.errors import DefinitionError, Diagnostic, ExecutionNotFoundError, ResumeError, StateConflictError
from baton.ports import DefinitionVersion, LogEntry, Ports, StepQueue
from baton.steps import step_type

_CONFLICT_RETRIES = 20


_COMPILING = threading.RLock()
"""The language's models are built on first use (``defer_build``), and child workflows are
loaded in threads of their own: one file is validated and compiled at a time, so no thread
uses a model another one is still building."""


def new_execution_id(now: datetime) -> str:
    """A sortable, unique id: ``20260131-090000-a1b2c3``."""
    return f"{now:%Y%m%d-%H%M%S}-{os.urandom(3).hex()}"


class Engine:
    """Runs workflows on one set of ports."""

    def __init__(
        self,
        ports: Ports,
        *,
        base_env: Mapping[str, str],
        lease_seconds: float = 60.0,
        new_id: Callable[[datetime], str] = new_execution_id,
        room: int | None = None,
    ) -> None:
        self.ports = ports
        self.room = room
        """Units run at once by one drive (None: as many as are ready)."""
        self.base_env = dict(base_env)
        self.lease_seconds = lease_seconds
        self.new_id = new_id
        self._loaded: tuple[str, Definition] | None = None
        """The digest and definition :meth:`load` gave last: a run reads its own back at once."""

    # -- definitions ----------------------------------------------------------------------

    def load(self, path: Path) -> tuple[Definition, str]:
        """Validate and compile a workflow file, reusing the stored copy of the same text."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise DefinitionError(
                [Diagnostic(str(path), 1, 1, f"cannot read the file: {exc.strerror or exc}")]
            ) from exc
        salt = f"baton {__version__} definition {DEFINITION_FORMAT}\n".encode()
        digest = hashlib.sha256(salt + raw).hexdigest()
        stored = self.ports.store.get_definition(digest)
        if stored is not None:
            definition = Definition.from_data(stored)
        else:
            definition = self._compile(path)
            self.ports.store.put_definition(digest, definition.to_data())
        self._loaded = (digest, definition)
        if self.ports.versions is not None:
            seen = DefinitionVersion(definition.name, digest, definition.version, self.ports.clock.now(),
                                     str(path.resolve()))  # fmt: skip
            self.ports.versions.remember(seen)
        return definition, digest

    def _compile(self, path: Path) -> Definition:
        """Validate a file (and the files its ``workflow`` steps name) and compile it."""
        from baton.engine.definition import compile_workflow
        from baton.spec.loader import load_workflow
        from baton.spec.subworkflows import check_children, search_path

        with _COMPILING:
            definition = compile_workflow(load_workflow(path))
        check_children(path, search_path(self.base_env))
        for step in definition.steps:
            step_type(step.type)
            if step.compensate is not None:
                step_type(step.compensate.type)
        return definition

    def definition_of(self, execution: ExecutionRecord) -> Definition:
        """The compiled definition an execution runs."""
        if self._loaded is not None and self._loaded[0] == execution.definition_digest:
            return self._loaded[1]
        data = self.ports.store.get_definition(execution.definition_digest)
        if data is None:
            raise ResumeError(f"execution {execution.execution_id}: its definition is no longer stored")
        return Definition.from_data(data)

    def resolve_secrets(self, definition: Definition) -> dict[str, str]:
        """Every secret's value (never stored; resolved by each process that runs steps)."""
        return {name: self.ports.secrets.resolve(name, source) for name, source in definition.secrets.items()}

    # -- running --------------------------------------------------------------------------

    def start(
        self,
        definition: Definition,
        digest: str,
        inputs: Mapping[str, Any],
        *,
        text_inputs: frozenset[str] = frozenset(),
        workspace: Path,
        no_cache: bool = False,
        trigger: dict[str, Any] | None = None,
    ) -> ExecutionRecord:
        """Check inputs and secrets, then create the execution with every step pending."""
        from baton.engine.creation import new_execution

        execution, records = new_execution(
            self.ports, definition, digest, inputs, execution_id=self.new_id(self.ports.clock.now()),
            workspace=workspace, trigger=trigger or {"source": "cli"}, text_inputs=text_inputs, no_cache=no_cache,
        )  # fmt: skip
        return self.ports.store.create_execution(execution, records)

    def drive(self, execution_id: str, observer: Observer | None = None) -> ExecutionRecord:
        """Run the execution in this process until it ends or waits for an answer."""
        queue = InProcessStepQueue()
        records = self.ports.store.get_steps(execution_id)
        if reattach(self.ports, queue, records):  # children a dead process was running
            records = self.ports.store.get_steps(execution_id)
        execution = self.ports.store.get_execution(execution_id)
        driver = self.driver(execution, records, queue, observer=observer, room=self.room)
        ended = self.run_driver(driver).execution
        while self.ports.children.active(execution_id):  # children winding down (a cancel)
            self.ports.clock.sleep(0.05)
        return ended

    def driver(
        self,
        execution: ExecutionRecord,
        records: Mapping[str, StepRecord],
        queue: StepQueue,
        *,
        observer: Observer | None = None,
        workspace: Path | None = None,
        **settings: Any,
    ) -> Driver:
        """A driver for one execution read as ``execution`` and ``records``; ``workspace``
        is where its steps run when that is not the folder the record names (a sandbox)."""
        definition = self.definition_of(execution)
        executor = Executor(
            definition,
            execution if workspace is None else execution.evolve(workspace=str(workspace)),
            records,
            self.ports,
            self.ports.new_dispatcher(),
            secrets=self.resolve_secrets(definition),
            base_env=self.base_env,
            observer=observer,
            lease_seconds=self.lease_seconds,
        )
        return Driver(executor, queue, stored_workspace=execution.workspace, **settings)

    @staticmethod
    def run_driver(driver: Driver, request: DriveRequest | None = None) -> DriveResult:
        """Run a driver made by :meth:`driver`, then drop its scratch folder."""
        try:
            return driver.run(request)
        finally:
            shutil.rmtree(driver.executor.scratch, ignore_errors=True)

    def resume(
        self,
        execution_id: str,
        *,
        from_step: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        text_inputs: frozenset[str] = frozenset(),
        edited: tuple[Definition, str] | None = None,
    ) -> ExecutionRecord:
        """Make a stopped execution runnable again (then call :meth:`drive`).

        ``edited`` (a definition and its digest, from :meth:`load`) resumes with an edited
        file: steps whose definition changed run again with everything that needs them,
        new steps are added, and the others keep their results.
        """
        for _ in range(_CONFLICT_RETRIES):
            execution = self.ports.store.get_execution(execution_id)
            definition = self.definition_of(execution)
            changed: set[str] = set()
            if edited is not None:
                if edited[0].name != definition.name:
                    raise ResumeError(f"--file defines workflow {edited[0].name!r}, not {definition.name!r}")
                changed = changed_steps(definition, edited[0])
                definition = edited[0]
            if from_step is not None and from_step not in {s.id for s in definition.steps}:
                raise ResumeError(f"--from {from_step}: the workflow {definition.name} has no such step")
            if execution.status == RUNNING and from_step is None and not inputs and edited is None:
                return execution  # join the workers on it, or take over from a dead one
            if execution.status == RUNNING:
                raise ResumeError(f"execution {execution_id} is running; wait for it or cancel it first")
            if execution.status == SUCCEEDED and from_step is None and not changed:
                raise ResumeError(
                    f"execution {execution_id} already succeeded; use --from STEP to run part of it again"
                )
            merged = {**execution.inputs, **(inputs or {})}
            workspace = Path(execution.workspace)
            resolved = resolve_inputs(definition.inputs, merged, from_text=text_inputs, workspace=workspace)
            records = self.ports.store.get_steps(execution_id)
            restarted = execution.evolve(
                status=RUNNING, error=None, finished_at=None, outputs={}, inputs=resolved, cancel_requested=False
            )
            resets = resets_for(definition, records, from_step)
            added: list[StepRecord] = []
            if edited is not None:
                restarted = restarted.evolve(definition_digest=edited[1], workflow_version=definition.version)
                reset_keys = {r.key for r in resets}
                resets += [reset(r, keep_child=False) for r in records.values()
                           if r.step_id in changed and r.key not in reset_keys and r.status != PENDING]  # fmt: skip
                added = [StepRecord(execution_id, s.id, s.id) for s in definition.steps if s.id not in records]
            try:
                _, stored = self.ports.store.commit(resets, added, execution=restarted)
            except StateConflictError:
                continue  # another resume or worker moved first: look again
            assert stored is not None
            return stored
        raise ResumeError(f"execution {execution_id} keeps changing; try again")

    def answer(
        self, execution_id: str, step_key: str, *, approve: bool, comment: str | None, by: str
    ) -> ExecutionRecord:
        """Record the answer to a waiting approval (then call :meth:`drive`)."""
        from baton.steps.approval import APPROVED, REJECTED, answer

        for _ in range(_CONFLICT_RETRIES):
            execution = self.ports.store.get_execution(execution_id)
            definition = self.definition_of(execution)
            record = self.ports.store.get_steps(execution_id).get(step_key)
            if record is None:
                raise ResumeError(f"execution {execution_id} has no step {step_key}")
            step = definition.step(record.step_id)
            body_type = step.compensate.type if record.key.endswith("~compensate") and step.compensate else step.type
            if record.child is not None and record.status == WAITING:
                waiting = ", ".join(f"baton approve {e} {k}" for e, k in self.waiting_steps(record.child))
                raise ResumeError(f"step {step_key} waits for its child execution {record.child}"
                                  + (f"; answer it: {waiting}" if waiting else ""))  # fmt: skip
            if body_type != "approval" or record.status != WAITING:
                raise ResumeError(f"step {step_key} is {record.status}, not an approval waiting for an answer")
            result = answer(APPROVED if approve else REJECTED, comment, by)
            ended = record.evolve(
                status=SUCCEEDED if result.ok else "failed", outputs=result.outputs, error=result.error,
                finished_at=self.ports.clock.now(), wake_at=None,
            )  # fmt: skip
            running = execution.evolve(status=RUNNING) if execution.status == WAITING else None
            try:
                _, stored = self.ports.store.commit([ended], execution=running)
            except StateConflictError:
                continue
            return stored or execution
        raise ResumeError(f"execution {execution_id} keeps changing; try again")

    def interrupt(self, execution_id: str, reason: str) -> ExecutionRecord | None:
        """Record that the process driving an execution was stopped (Ctrl-C, SIGTERM): the
        units this process held and the execution fail with ``reason``, so ``resume`` runs
        them again. Units other processes hold are left to them; None if it had ended."""
        owner = self.ports.supervisor.owner
        now = self.ports.clock.now()
        ended_children = self._interrupt_children(execution_id, reason)
        for _ in range(_CONFLICT_RETRIES):
            execution = self.ports.store.get_execution(execution_id)
            if execution.status in TERMINAL_EXECUTION:
                return None
            records = self.ports.store.get_steps(execution_id).values()
            held = [r for r in records if r.status == RUNNING and r.lease_owner == owner]
            for record in held:  # the main loop stops its own; a child's loop runs in a thread
                self.ports.supervisor.reap(execution_id, record.key)
            # A unit whose child stopped with this process fails with it, so resume resumes the child.
            held += [r for r in records if r.status == WAITING and r.child in ended_children]
            stopped = [r.evolve(status="failed", error=reason, finished_at=now, lease_owner=None,
                                lease_expires_at=None, wake_at=None) for r in held]  # fmt: skip
            others = [r for r in records if r.status == RUNNING and r.lease_owner not in (None, owner)]
            ended = None if others else execution.evolve(status="failed", error=reason, finished_at=now)
            try:
                _, stored = self.ports.store.commit(stopped, execution=ended)
            except StateConflictError:
                continue
            return stored or execution
        return None

    def _interrupt_children(self, execution_id: str, reason: str) -> set[str]:
        """Interrupt the children this process runs for ``execution_id``; the ids of those
        that ended by it."""
        if not self.ports.children.active(execution_id):
            return set()
        ended = set()
        for record in self.ports.store.get_steps(execution_id).values():
            if record.status != WAITING or record.child is None:
                continue
            self.interrupt(record.child, reason)
            child = self.ports.store.get_execution(record.child)
            if child.status in TERMINAL_EXECUTION and child.status != SUCCEEDED:  # by this or by its own loop
                ended.add(record.child)
        return ended

    def cancel(self, execution_id: str) -> ExecutionRecord:
        """Ask an execution to stop (then :meth:`drive` it to run its ``finally`` steps)."""
        for _ in range(_CONFLICT_RETRIES):
            execution = self.ports.store.get_execution(execution_id)
            if execution.status in TERMINAL_EXECUTION:
                raise ResumeError(f"execution {execution_id} already ended: {execution.status}")
            try:
                return self.ports.store.update_execution(execution.evolve(cancel_requested=True, status=RUNNING))
            except StateConflictError:
                continue
        raise ResumeError(f"execution {execution_id} keeps changing; try again")

    # -- inspecting -----------------------------------------------------------------------

    def document(self, execution_id: str) -> dict[str, Any]:
        """The execution record: its status, inputs, outputs and every step with its attempts."""
        execution = self.ports.store.get_execution(execution_id)
        definition = self.definition_of(execution)
        records = self.ports.store.get_steps(execution_id)
        document = execution_document(definition, execution, records, OutputResolver(self.ports.artifacts))
        for step in document["steps"].values():
            for view in [step, *(step["items"] or [])]:
                if "child" in view:
                    view["child"] = self._child_summary(view["child"]["execution_id"])
        if "parent" in execution.trigger:
            document["parent"] = dict(execution.trigger["parent"])
        return document

    def _child_summary(self, child_id: str) -> dict[str, Any]:
        """What the execution record shows of a ``workflow`` unit's child."""
        try:
            child = self.ports.store.get_execution(child_id)
        except ExecutionNotFoundError:
            return {"execution_id": child_id, "status": "unknown"}
        return {"execution_id": child_id, "workflow": child.workflow, "status": child.status, "error": child.error}

    def list_executions(self, limit: int = 50) -> list[ExecutionRecord]:
        """Recent executions, newest first."""
        return self.ports.store.list_executions(limit)

    def waiting_steps(self, execution_id: str) -> list[tuple[str, str]]:
        """The approvals an execution waits on, as (execution id, step key): its own, and
        those of the children its ``workflow`` steps wait on."""
        execution = self.ports.store.get_execution(execution_id)
        if execution.status != WAITING:
            return []
        found: list[tuple[str, str]] = []
        for key, record in sorted(self.ports.store.get_steps(execution_id).items()):
            if record.status != WAITING:
                continue
            found += self.waiting_steps(record.child) if record.child else [(execution_id, key)]
        return found

    def carry_parents(self, execution: ExecutionRecord, observer: Observer | None = None) -> None:
        """After a child was driven to its end here (``baton approve`` or ``resume`` of the
        child), drive the parents its end woke, up to the top."""
        from baton.engine.children import parent_link

        link = parent_link(execution)
        while link is not None and execution.status in TERMINAL_EXECUTION:
            parent = self.ports.store.get_execution(str(link["execution_id"]))
            if parent.status != RUNNING:
                return
            execution = self.drive(parent.execution_id, observer)
            link = parent_link(execution)

    def logs(self, execution_id: str, step_id: str | None = None) -> list[LogEntry]:
        """Logs of an execution (``ExecutionNotFoundError`` if unknown): the stored ones, and
        the streams a step record holds whole where none was stored (a store may keep short
        logs only in the record)."""
        self.ports.store.get_execution(execution_id)
        entries = self.ports.artifacts.read_logs(execution_id, step_id)
        stored = {(entry.step_key, entry.attempt, entry.stream) for entry in entries}
        for record in self.ports.store.get_steps(execution_id).values():
            if step_id is not None and record.step_id != step_id:
                continue
            outputs = record.outputs if isinstance(record.outputs, dict) else {}
            for stream in ("stdout", "stderr"):
                text = outputs.get(stream)
                if isinstance(text, str) and text and (record.key, record.attempt, stream) not in stored:
                    entries.append(LogEntry(record.key, record.attempt, stream, text))
        return entries
