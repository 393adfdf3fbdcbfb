"""``LocalChildWorkflows``: child executions on a laptop, run in the parent's process.

A ``workflow:`` reference is a file or a name found beside the parent's file or on
``BATON_WORKFLOWS_PATH``; a pinned one (``name@1.2``, ``name@sha256:...``) may also be a
definition run here before (kept by digest in the state). A launched child is driven by the
same engine ``Driver`` in a thread of this process, so the children of a ``for_each`` run
side by side; the parent's driver keeps looking while any of its children runs here, and
wakes the waiting unit when the child's end says so.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from baton.engine.children import notify_parent, parent_link
from baton.engine.queue import InProcessStepQueue
from baton.engine.records import TERMINAL_EXECUTION
from baton.errors import BatonError, StepFailedError
from baton.ports import ChildDefinition, DefinitionVersion, ExecutionRecord
from baton.spec.subworkflows import find_file, not_found_message
from baton.spec.workflow_refs import WorkflowRef, WorkflowRefError, parse_reference

if TYPE_CHECKING:
    from baton.engine.service import Engine


class LocalChildWorkflows:
    """Finds child definitions on disk (or in the state) and drives children in threads."""

    def __init__(self, search: Sequence[Path]) -> None:
        self.search = list(search)
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._running: dict[str, tuple[str, threading.Thread]] = {}
        """Child id -> (parent id, the thread driving it)."""

    def bind(self, engine: Engine) -> None:
        """The engine children are driven with (built after the ports that hold this)."""
        self._engine = engine

    @property
    def engine(self) -> Engine:
        """The bound engine."""
        assert self._engine is not None, "LocalChildWorkflows.bind was not called"
        return self._engine

    # -- finding definitions --------------------------------------------------------------

    def resolve(self, reference: str, parent: ExecutionRecord) -> ChildDefinition:
        """The definition ``reference`` names, for a step of ``parent``."""
        parent_file = parent.trigger.get("file")
        beside = Path(parent_file).parent if isinstance(parent_file, str) else Path(parent.workspace)
        return self.find(reference, beside)

    def find(self, reference: str, beside: Path) -> ChildDefinition:
        """The definition ``reference`` names, looked up from the folder ``beside`` (also what
        ``baton run NAME@VERSION`` runs)."""
        try:
            ref = parse_reference(reference)
        except WorkflowRefError as exc:
            raise StepFailedError(str(exc), retryable=False) from exc
        path = find_file(ref, beside, self.search)
        if path is not None:
            definition, digest = self.engine.load(path)
            if _matches(ref, definition.version, digest):
                return ChildDefinition(definition.to_data(), digest, str(path.resolve()))
            name = definition.name
        elif ref.name is not None and ref.pinned:
            name = ref.name
        else:
            raise StepFailedError(not_found_message(ref, beside, self.search), retryable=False)
        return self._stored(ref, name)

    def _stored(self, ref: WorkflowRef, name: str) -> ChildDefinition:
        """A pinned definition among those run here."""
        versions = self.engine.ports.versions
        kept = [v for v in (versions.versions(name) if versions else []) if _matches(ref, v.version, v.digest)]
        if not kept:
            raise StepFailedError(f"no definition {ref} has run here; see: baton versions {name}", retryable=False)
        if ref.digest is not None and len({v.digest for v in kept}) > 1:
            raise StepFailedError(f"{ref}: the digest prefix is ambiguous; give more of it", retryable=False)
        chosen: DefinitionVersion = kept[-1]
        data = self.engine.ports.store.get_definition(chosen.digest)
        if data is None:
            raise StepFailedError(f"{ref}: its compiled definition is no longer stored", retryable=False)
        source = Path(chosen.source)
        return ChildDefinition(data, chosen.digest, str(source) if source.is_file() else None)

    # -- driving --------------------------------------------------------------------------

    def launch(self, execution: ExecutionRecord) -> None:
        """Drive the child in a thread of this process, unless one already does."""
        link = parent_link(execution)
        parent_id = str(link["execution_id"]) if link else ""
        with self._lock:
            running = self._running.get(execution.execution_id)
            if running is not None and running[1].is_alive():
                return
            thread = threading.Thread(
                target=self._drive, args=(execution.execution_id,), name=f"child-{execution.execution_id}", daemon=True
            )
            self._running[execution.execution_id] = (parent_id, thread)
        thread.start()

    def _drive(self, execution_id: str) -> None:
        engine = self.engine
        try:
            engine.drive(execution_id)
        except BatonError as exc:
            engine.interrupt(execution_id, f"the child stopped: {exc}")
        except Exception as exc:  # a defect must end the child, not leave its parent waiting
            engine.interrupt(execution_id, f"internal error: {exc!r}")
        finally:
            # Before this child stops counting as active: its parent's driver must find the
            # unit woken when it looks again, or it would leave.
            ended = engine.ports.store.get_execution(execution_id)
            if ended.status in TERMINAL_EXECUTION:
                notify_parent(engine.ports, InProcessStepQueue(), ended, engine.ports.clock.now())
            with self._lock:
                self._running.pop(execution_id, None)

    def active(self, parent_id: str) -> bool:
        """True while a child of ``parent_id`` is driven here."""
        with self._lock:
            return any(parent == parent_id and thread.is_alive() for parent, thread in self._running.values())


def _matches(ref: WorkflowRef, version: str | None, digest: str) -> bool:
    """True when a definition labelled ``version`` with ``digest`` is the one ``ref`` pins."""
    if ref.digest is not None:
        return digest.startswith(ref.digest)
    return ref.version is None or ref.version == version
