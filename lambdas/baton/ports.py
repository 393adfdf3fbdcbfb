"""The ports: what the engine needs from the world, as small protocols.

The engine imports only these; ``bootstrap`` picks the adapters (SQLite and files on a
laptop, DynamoDB/S3/SQS on AWS). Every write a ``StateStore`` makes is conditional, so the
engine's correctness never depends on which adapter runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from baton.engine.records import ExecutionRecord, StepRecord
from baton.engine.summary import ExecutionSummary, StepSummary
from baton.errors import StepFailedError

__all__ = [
    "ArtifactRef",
    "ArtifactStore",
    "CacheEntry",
    "ChildDefinition",
    "ChildWorkflows",
    "Clock",
    "DefinitionVersion",
    "DefinitionVersions",
    "Dispatcher",
    "ExecutionRecord",
    "ExecutionSummary",
    "ItemJoin",
    "LogEntry",
    "LongRunner",
    "NullSupervisor",
    "Ports",
    "ProcessSupervisor",
    "SecretResolver",
    "StateStore",
    "StepQueue",
    "StepRecord",
    "StepSummary",
]


class Clock(Protocol):
    """Time, injected so the core never reads the wall clock (tests use a fake)."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for measuring durations."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (a fake clock advances instead)."""
        ...


class StateStore(Protocol):
    """Durable executions and step records; every change is a conditional write.

    ``update_execution`` and ``commit`` take records carrying the ``version`` they were read
    at, write them with ``version + 1`` only if the stored version still matches, and
    return the stored copies. A lost race raises ``StateConflictError``.
    """

    def put_definition(self, digest: str, definition: Mapping[str, Any]) -> None:
        """Store a compiled definition under its digest (idempotent)."""
        ...

    def get_definition(self, digest: str) -> dict[str, Any] | None:
        """The compiled definition stored under ``digest``, or None."""
        ...

    def create_execution(self, execution: ExecutionRecord, steps: Sequence[StepRecord]) -> ExecutionRecord:
        """Insert an execution and its first step records in one transaction.

        Raises ``StateConflictError`` if the execution id exists.
        """
        ...

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution; ``ExecutionNotFoundError`` if there is none."""
        ...

    def update_execution(self, execution: ExecutionRecord) -> ExecutionRecord:
        """Write a changed execution conditionally on its version."""
        ...

    def list_executions(self, limit: int = 50) -> list[ExecutionRecord]:
        """The most recently started executions, newest first."""
        ...

    def get_steps(self, execution_id: str) -> dict[str, StepRecord]:
        """Every record of the execution by key."""
        ...

    def commit(
        self,
        updates: Sequence[StepRecord],
        inserts: Sequence[StepRecord] = (),
        execution: ExecutionRecord | None = None,
    ) -> tuple[list[StepRecord], ExecutionRecord | None]:
        """Apply step updates (each conditional on its version), inserts (each conditional on
        the key being absent) and an optional execution update (conditional on its version)
        all together or not at all. Return the stored steps (updates, then inserts) and the
        stored execution."""
        ...

    # -- operating views: history reads (stats, report, ui) ---------------------------------

    def list_history(
        self, since: datetime | None = None, workflow: str | None = None
    ) -> list[tuple[ExecutionRecord, list[StepRecord]]]:
        """Executions started at or after ``since`` (all when None), of one workflow or of
        every one, each with all its step records, newest first, in as few reads as the
        backend allows (``baton stats`` reads thousands at once)."""
        ...

    def list_history_summaries(
        self, since: datetime | None = None, workflow: str | None = None
    ) -> list[tuple[ExecutionSummary, dict[str, StepSummary]]]:
        """The same executions as :meth:`list_history`, in the same order, as summaries with
        their records' summaries by key (hand-offs applied): what the figures of ``baton stats``
        read. A store that keeps summaries beside the records reads no whole record."""
        ...

    # -- end of operating views -------------------------------------------------------------

    def renew_lease(self, step: StepRecord, expires_at: datetime) -> bool:
        """Extend the lease of a running step its holder still owns at this version.

        Does not change the version (the holder's fence stays valid); False if the step
        moved on or changed hands.
        """
        ...

    # -- admission (``concurrency:``): a counted lock per key, shared by every process -----

    def take_slot(self, key: str, holder: str, limit: int) -> bool:
        """Make ``holder`` one of the holders of ``key`` if fewer than ``limit`` hold it (or it
        already does), atomically across processes; False when the key is full."""
        ...

    def release_slot(self, key: str, holder: str) -> None:
        """``holder`` no longer holds ``key`` (nothing happens if it did not)."""
        ...

    def slot_holders(self, key: str) -> list[str]:
        """Who holds ``key`` now, in no particular order."""
        ...


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """A stored blob, addressed by the SHA-256 of its content."""

    sha256: str
    size: int

    def to_data(self) -> dict[str, Any]:
        """The form kept in records: ``{"$artifact": sha256, "size": n}``."""
        return {"$artifact": self.sha256, "size": self.size}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ArtifactRef:
        """Inverse of :meth:`to_data`."""
        return cls(sha256=str(data["$artifact"]), size=int(data["size"]))

    @staticmethod
    def is_ref(value: Any) -> bool:
        """True when ``value`` is the record form of a reference."""
        return isinstance(value, dict) and "$artifact" in value and len(value) == 2


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """What a cached step left behind: its outputs and its declared output files."""

    outputs: dict[str, Any]
    artifacts: dict[str, Any] = field(default_factory=dict)
    """Output name -> ``{"path": relative path, "ref": ArtifactRef data}``."""
    created_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One stored log stream of one attempt."""

    step_key: str
    attempt: int
    stream: str
    text: str


class ArtifactStore(Protocol):
    """Content-addressed blobs, the step cache, and per-attempt logs."""

    def put_bytes(self, data: bytes) -> ArtifactRef:
        """Store a blob (idempotent: the same content gives the same reference)."""
        ...

    def put_file(self, path: Path) -> ArtifactRef:
        """Store a file's content."""
        ...

    def read_bytes(self, ref: ArtifactRef) -> bytes:
        """A stored blob's content."""
        ...

    def restore_file(self, ref: ArtifactRef, destination: Path) -> None:
        """Write a stored blob to ``destination`` (parents created, written atomically)."""
        ...

    def get_cached(self, key: str, now: datetime) -> CacheEntry | None:
        """The cache entry under ``key`` unless absent or expired at ``now``."""
        ...

    def put_cached(self, key: str, entry: CacheEntry) -> None:
        """Store a cache entry (the last writer wins; entries for one key are equivalent)."""
        ...

    def log_file(self, execution_id: str, step_key: str, attempt: int, stream: str) -> Path:
        """A local file one stream of one attempt is written to (its folder may not exist)."""
        ...

    def publish_log(self, execution_id: str, step_key: str, attempt: int, stream: str) -> None:
        """Make the finished log file durable where ``read_logs`` finds it."""
        ...

    def read_logs(self, execution_id: str, step_id: str | None = None) -> list[LogEntry]:
        """Stored logs of an execution (or of one step and its items), oldest attempt first;
        a stream that printed nothing is not listed."""
        ...


class Dispatcher(Protocol):
    """Runs units of work away from the planning loop and hands back their results."""

    def submit(self, key: str, task: Callable[[], Any]) -> None:
        """Start ``task`` for the unit ``key``."""
        ...

    def collect(self, timeout: float | None) -> list[tuple[str, Any]]:
        """Results (or raised exceptions) of finished tasks; waits up to ``timeout`` for one."""
        ...

    def in_flight(self) -> int:
        """Tasks submitted and not yet collected."""
        ...

    def shutdown(self) -> None:
        """Stop accepting work and release threads."""
        ...


class StepQueue(Protocol):
    """Where a driver puts ready units it does not start itself, and wake-ups for later.

    The in-process queue hands units back to the driver that sent them (``shared`` False);
    the SQS queue hands them to other worker invocations (``shared`` True), so a driver on
    Lambda leaves what it sent to them.
    """

    shared: bool

    def send(self, execution_id: str, units: Sequence[str], delay_seconds: int = 0) -> None:
        """Queue units of an execution, due after ``delay_seconds``."""
        ...

    def send_at(self, execution_id: str, unit: str | None, when: datetime) -> None:
        """Have a unit (None: the execution as a whole) looked at again at ``when``."""
        ...

    def receive(self, execution_id: str, now: datetime, limit: int) -> list[str]:
        """Up to ``limit`` units of the execution due at ``now`` that come back to this
        driver (always none from a shared queue)."""
        ...


class ItemJoin(Protocol):
    """Counts the ended items of one ``for_each`` expansion, so the worker whose item ends
    last knows it without reading the siblings (AWS workers; a laptop reads everything)."""

    def count_item_end(self, parent: StepRecord, *, failed: bool) -> tuple[int, bool] | None:
        """Count one more ended item of ``parent`` (as read, at its version): the items
        counted so far and whether any of them failed; None when the parent has moved on
        (expanded again or closed) since it was read."""
        ...


class SecretResolver(Protocol):
    """Resolves a secret reference (``{env: NAME}``, ``{ssm: ...}``) to its value."""

    def resolve(self, name: str, source: Mapping[str, str]) -> str:
        """The value; ``SecretError`` if the source has none or is not available here."""
        ...


class ProcessSupervisor(Protocol):
    """Who holds leases, whether they are alive, and stopping what a step left running.

    On a laptop a crashed ``baton`` leaves its step processes running; the supervisor lets
    the next worker tell a dead holder from a live one and stop the orphans before it runs
    the step again. On AWS a lease holder dies with its invocation, so the null supervisor
    fits.
    """

    owner: str

    def is_alive(self, owner: str) -> bool:
        """False only when ``owner`` is known to be gone."""
        ...

    def reap(self, execution_id: str, step_key: str, *others: str) -> None:
        """Stop every process still running for one unit of an execution (or for any of
        ``others`` too)."""
        ...


class NullSupervisor:
    """A supervisor that knows nothing: leases end only by expiring."""

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def is_alive(self, owner: str) -> bool:
        """Unknown holders count as alive."""
        return True

    def reap(self, execution_id: str, step_key: str, *others: str) -> None:
        """Nothing to stop."""


class StepIdentity(Protocol):
    """The cloud identity a workflow's steps act as (never the engine's own)."""

    def environment(self, workflow: str) -> Mapping[str, str]:
        """Variables that give a step of ``workflow`` its credentials (may be empty)."""
        ...


class NoStepIdentity:
    """Steps get no credentials from the engine (the embedded backend: the user's own credentials apply)."""

    def environment(self, workflow: str) -> Mapping[str, str]:
        """Nothing."""
        return {}


class LongRunner(Protocol):
    """Runs the attempts of ``runner: long`` steps away from the process that drives the
    execution: each in a process of its own (a CodeBuild build on AWS) that runs the engine's
    driver for that one unit (``DriveRequest.held``) and hands the execution back as a
    worker would. None on the embedded backend: a laptop runs every step itself.

    The driver claims the unit in the runner's name before it calls ``start`` (the lease
    owner is ``owner``, the lease lasts ``hold_seconds``), so no other worker runs it or
    takes it over while the runner's process starts; that process then takes the lease over
    and renews it like any worker while the step runs.
    """

    most_seconds: float
    """The longest a unit may need there (its timeout and the driver's margin)."""
    hold_seconds: float
    """How long the claim made for the runner lasts before its process takes it over: longer
    than the runner may take to start one (it gives up on a start that takes longer)."""

    def start(self, execution_id: str, unit_key: str, *, owner: str, seconds: float) -> str:
        """Start the process that runs the unit held in ``owner``'s name, for up to ``seconds``
        of step time; return its id (a build id). ``LongRunnerError`` if it cannot start."""
        ...


@dataclass(frozen=True, slots=True)
class ChildDefinition:
    """The definition a ``workflow:`` step resolved to: compiled data, digest, and the file
    it came from (locally; a child's own ``workflow:`` steps are looked up beside it)."""

    data: dict[str, Any]
    digest: str
    file: str | None = None


@dataclass(frozen=True, slots=True)
class DefinitionVersion:
    """One definition kept by digest, with its ``version:`` label."""

    name: str
    digest: str
    version: str | None
    seen_at: datetime
    source: str = ""
    """Where it came from: a file, or ``s3://bucket/key``."""
    current: bool = False


class ChildWorkflows(Protocol):
    """What runs a ``workflow`` step's child differently on each home: finding the child's
    definition, and having a created child execution driven. Locally the child runs in this
    process; on AWS it is handed to the workers like any execution the starter creates."""

    def resolve(self, reference: str, parent: ExecutionRecord) -> ChildDefinition:
        """The definition ``reference`` names for a step of ``parent``; ``BatonError`` if none."""
        ...

    def launch(self, execution: ExecutionRecord) -> None:
        """Have a stored execution driven (again): started, resumed, or asked to cancel."""
        ...

    def active(self, parent_id: str) -> bool:
        """True while a child of ``parent_id`` is being driven by this process (its parent's
        driver then keeps looking instead of leaving)."""
        ...


class NoChildWorkflows:
    """A home that runs no child workflows."""

    def resolve(self, reference: str, parent: ExecutionRecord) -> ChildDefinition:
        """Refuse."""
        raise StepFailedError("workflow steps cannot run here", retryable=False)

    def launch(self, execution: ExecutionRecord) -> None:
        """Nothing to drive."""

    def active(self, parent_id: str) -> bool:
        """No children here."""
        return False


class DefinitionVersions(Protocol):
    """Every definition a home ran or registered, by name, with its ``version:`` label."""

    def remember(self, version: DefinitionVersion) -> None:
        """Keep a definition that is about to run (locally; AWS keeps what the registrar registered)."""
        ...

    def versions(self, name: str) -> list[DefinitionVersion]:
        """The definitions of ``name``, oldest first; the last one is current."""
        ...


@dataclass(frozen=True)
class Ports:
    """One set of adapters, as ``bootstrap`` wires them."""

    store: StateStore
    artifacts: ArtifactStore
    clock: Clock
    secrets: SecretResolver
    supervisor: ProcessSupervisor
    new_dispatcher: Callable[[], Dispatcher]
    """A fresh dispatcher per drive (a thread pool locally)."""
    step_identity: StepIdentity = field(default_factory=NoStepIdentity)
    """Credentials handed to each step of a workflow (none by default)."""
    long_runner: LongRunner | None = None
    """Where ``runner: long`` steps run; None: here, like every other step."""
    children: ChildWorkflows = field(default_factory=NoChildWorkflows)
    """How ``workflow`` steps find and launch their child executions."""
    versions: DefinitionVersions | None = None
    """The definitions kept by digest with their ``version:`` labels (``baton versions``)."""
