"""``baton run``, ``resume``, ``status``, ``list``, ``logs``, ``approve`` and ``cancel``.

Only typer is imported at start-up; each command imports the engine when it runs, so
``baton run`` of a one-step workflow stays well under a third of a second.
Exit codes: 0 succeeded (or waiting for an approval), 1 failed or cancelled, 2 bad usage,
definition or inputs (nothing ran).
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from baton.engine.context import Observer
    from baton.engine.records import ExecutionRecord
    from baton.engine.service import Engine

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Where the embedded backend keeps its state (default .baton, or $BATON_STATE_DIR).",
        show_default=False,
    ),
]
Inputs = Annotated[
    list[str] | None, typer.Option("--input", "-i", help="An input as NAME=VALUE (repeatable).", show_default=False)
]
Json = Annotated[bool, typer.Option("--json", help="Print the execution record as JSON.")]
Stack = Annotated[
    str | None, typer.Option("--stack", help="Inspect a deployed stack instead of the local state.", show_default=False)
]


def _engine(state_dir: Path | None, stack: str | None = None, *, read_only: bool = False) -> Engine:
    """The local engine; ``read_only`` commands never create a state dir that is not there."""
    if stack is not None:
        _fail(f"--stack {stack}: the AWS backend is not part of this build yet; drop --stack to use the local state")
    from baton.bootstrap import local_engine, state_dir_from
    from baton.errors import BatonError

    directory = state_dir_from(state_dir)
    if read_only and not directory.exists():
        raise _NoState(directory)
    try:
        return local_engine(directory)
    except BatonError as exc:  # a damaged or empty state file
        _fail(str(exc))
        raise  # pragma: no cover - _fail exits


class _NoState(Exception):
    """A read-only command found no state dir: nothing has run here."""

    def __init__(self, directory: Path) -> None:
        super().__init__(f"no state in {directory} (run a workflow here first, or pass --state-dir)")


def _execution_id(engine: Engine, given: str) -> str:
    """``given`` as a full execution id: ``latest``, a full id, or a unique prefix or suffix."""
    from baton.errors import ExecutionNotFoundError

    if given == "latest":  # the newest execution a user started, not one of its children
        newest = [e for e in engine.list_executions(_LATEST_SEARCH_LIMIT) if "parent" not in e.trigger]
        if not newest:
            _fail("no executions yet, so no 'latest'")
        return newest[0].execution_id
    try:
        return engine.ports.store.get_execution(given).execution_id
    except ExecutionNotFoundError:
        pass
    matches = [
        e.execution_id
        for e in engine.list_executions(_ID_SEARCH_LIMIT)
        if e.execution_id.startswith(given) or e.execution_id.endswith(given)
    ]
    if len(matches) > 1:
        _fail(f"execution id {given!r} is ambiguous: {', '.join(matches[:5])}")
    return matches[0] if matches else given  # an unknown id: the command reports it


_ID_SEARCH_LIMIT = 10_000
_LATEST_SEARCH_LIMIT = 1_000


def _missing_secrets(engine: Engine, execution_id: str) -> str | None:
    """Why the execution's secrets cannot be resolved in this shell, or None when they can."""
    from baton.errors import SecretError

    definition = _guarded(lambda: engine.definition_of(engine.ports.store.get_execution(execution_id)))
    try:
        engine.resolve_secrets(definition)
    except SecretError as exc:
        return str(exc)
    return None


def _carry_on(engine: Engine, execution_id: str, as_json: bool, done: str) -> None:
    """Drive the execution on after an answer or a cancel, if this shell has its secrets."""
    missing = _missing_secrets(engine, execution_id)
    if missing is not None:
        # The answer is recorded; only running the next steps needs the secrets.
        typer.echo(f"{done}; the next steps need the secrets ({missing}); continue with: baton resume {execution_id}")
        raise typer.Exit(EXIT_OK)
    _drive(engine, execution_id, as_json)


def _expired_approvals(engine: Engine, execution_id: str) -> dict[str, str]:
    """Waiting approvals past their deadline: key -> when it passed (ISO)."""
    from baton.engine.views import iso

    now = engine.ports.clock.now()
    records = _guarded(lambda: engine.ports.store.get_steps(execution_id))
    return {
        key: str(iso(record.wake_at))
        for key, record in records.items()
        if record.status == "waiting" and record.wake_at is not None and record.wake_at <= now
    }


def _existing(state_dir: Path | None, stack: str | None, given: str) -> tuple[Engine, str]:
    """The engine over an existing state dir, and ``given`` resolved to a full execution id."""
    try:
        engine = _engine(state_dir, stack, read_only=True)
    except _NoState as exc:
        _fail(f"no execution {given!r}: {exc}")
        raise  # pragma: no cover - _fail exits
    return engine, _guarded(lambda: _execution_id(engine, given))


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _guarded(action: Any) -> Any:
    """Run ``action``; turn Baton's own errors into a message and exit code 2."""
    from baton.errors import BatonError, DefinitionError

    try:
        return action()
    except DefinitionError as exc:
        for diagnostic in exc.diagnostics:
            typer.echo(str(diagnostic), err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    except BatonError as exc:
        _fail(str(exc))


def _observer(as_json: bool) -> tuple[Observer | None, AbstractContextManager[Any]]:
    if as_json:
        return None, nullcontext()
    from baton.cli.progress import LineProgress, LiveProgress

    if sys.stdout.isatty():
        live = LiveProgress()
        return live, live
    return LineProgress(), nullcontext()


def _drive(engine: Engine, execution_id: str, as_json: bool) -> None:
    """Run an execution to its end (or to an approval), show it, and exit with its code."""
    from baton.errors import StateStoreError

    observer, display = _observer(as_json)
    try:
        with display, _interrupted_by_sigterm():
            execution = engine.drive(execution_id, observer)
            engine.carry_parents(execution, observer)
    except StateStoreError as exc:
        _fail(f"{exc} (execution {execution_id})")
        raise  # pragma: no cover - _fail exits
    except KeyboardInterrupt as exc:
        # The driver stopped its steps' process groups on the way out; record where it stopped.
        signal_name = str(exc) or "SIGINT"
        engine.interrupt(execution_id, f"interrupted ({signal_name})")
        typer.echo(f"\ninterrupted ({signal_name}); continue with: baton resume {execution_id}", err=True)
        raise typer.Exit(130 if signal_name == "SIGINT" else 143) from None
    _report(engine, execution, as_json)


@contextmanager
def _interrupted_by_sigterm() -> Iterator[None]:
    """While an execution is driven, SIGTERM stops it the way Ctrl-C does (the steps' process
    groups are stopped and the execution is recorded as interrupted), not at once."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt("SIGTERM")

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _report(engine: Engine, execution: ExecutionRecord, as_json: bool) -> None:
    if as_json:
        _print_json(engine.document(execution.execution_id))
    else:
        _summary(execution, engine.waiting_steps(execution.execution_id))
        _parent_hint(engine, execution)
    code = EXIT_OK if execution.status in ("succeeded", "waiting") else EXIT_FAILED
    raise typer.Exit(code)


def _print_json(document: dict[str, Any]) -> None:
    """``document`` as indented JSON, written piece by piece: the record of a wide fan-out
    is tens of megabytes, and one string of it (and of its pieces) would double the memory."""
    pieces: list[str] = []
    for piece in json.JSONEncoder(indent=2).iterencode(document):
        pieces.append(piece)
        if len(pieces) >= 4096:
            sys.stdout.write("".join(pieces))
            pieces.clear()
    sys.stdout.write("".join(pieces) + "\n")
    sys.stdout.flush()


def _parent_hint(engine: Engine, execution: ExecutionRecord) -> None:
    """A child that ended after its parent stopped: say how to carry the parent on."""
    parent = execution.trigger.get("parent")
    if execution.status != "succeeded" or not isinstance(parent, dict):
        return
    parent_id = str(parent["execution_id"])
    if engine.ports.store.get_execution(parent_id).status in ("failed", "cancelled"):
        typer.echo(f"its parent {parent_id} stopped; continue it (it takes these outputs): baton resume {parent_id}")


def _summary(execution: ExecutionRecord, waiting: list[tuple[str, str]] | None = None) -> None:
    took = ""
    if execution.started_at and execution.finished_at:
        took = f" in {(execution.finished_at - execution.started_at).total_seconds():.2f}s"
    typer.echo(f"{execution.workflow} {execution.status}{took}  (execution {execution.execution_id})")
    if execution.error:
        typer.echo(f"error: {execution.error}")
    for name, value in execution.outputs.items():
        typer.echo(f"output {name}: {value}")
    for waiter, step in waiting or []:
        typer.echo(f"waiting for an answer: baton approve {waiter} {step} [--reject]")
    if execution.status in ("failed", "cancelled"):
        retry = f"baton resume {execution.execution_id} (add --file FILE after editing it)"
        typer.echo(f"inspect: baton status {execution.execution_id}; retry: {retry}")


def run(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE|NAME[@VERSION]",
            help="Workflow file, or a definition run here before (NAME@VERSION, NAME@sha256:DIGEST).",
            show_default=False,
        ),
    ],
    *,
    inputs: Inputs = None,
    inputs_file: Annotated[
        Path | None, typer.Option("--inputs-file", help="Inputs as a JSON or YAML mapping.", show_default=False)
    ] = None,
    as_json: Json = False,
    state_dir: StateDir = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every step; do not restore results from the cache.")
    ] = False,
) -> None:
    """Run a workflow locally on the embedded backend (SQLite and files under --state-dir)."""
    try:
        with _start_up():
            engine, execution = _started(file, inputs, inputs_file, state_dir, no_cache)
        _drive(engine, execution.execution_id, as_json)
    finally:
        gc.unfreeze()  # a caller in the same process (a test) has its objects collected again


@contextmanager
def _start_up() -> Iterator[None]:
    """No cyclic garbage collection while the engine loads and a new file is validated: that
    phase makes modules, classes and the language's validator, which live as long as the
    process, and almost no garbage, so the 50-odd collections it would trigger cost 10-20 ms
    and free next to nothing. What it made is then frozen until the command ends
    (``gc.freeze``: collections while steps run skip it instead of walking it again), and
    collection is back on before any step runs."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _started(
    file: Path, inputs: list[str] | None, inputs_file: Path | None, state_dir: Path | None, no_cache: bool
) -> tuple[Engine, ExecutionRecord]:
    """The engine, and the execution of ``file`` it created (checked and pending)."""
    from baton.cli.references import is_reference
    from baton.engine.inputs import parse_pairs, read_inputs_file

    if not file.exists() and not is_reference(str(file)):
        from baton.spec.loader import load_workflow

        _guarded(lambda: load_workflow(file))  # says the file cannot be read; no state folder is made
    engine = _engine(state_dir)

    def start() -> ExecutionRecord:
        given: dict[str, Any] = read_inputs_file(inputs_file) if inputs_file else {}
        pairs = parse_pairs(inputs or [])
        from baton.cli.references import definition_to_run

        definition, digest, source = definition_to_run(engine, file)
        return engine.start(
            definition,
            digest,
            {**given, **pairs},
            text_inputs=frozenset(pairs),
            workspace=Path.cwd(),
            no_cache=no_cache,
            trigger={
                "source": "cli",
                "env": start_environment(definition.environment_names()),
                "file": source,
            },
        )

    execution: ExecutionRecord = _guarded(start)
    return engine, execution


def start_environment(names: tuple[str, ...]) -> dict[str, str]:
    """The variables of this process a workflow reads through ``env`` (unset ones are left out)."""
    return {name: os.environ[name] for name in names if name in os.environ}


def resume(
    execution_id: Annotated[str, typer.Argument(metavar="EXEC_ID", help="Execution to continue.", show_default=False)],
    *,
    from_step: Annotated[
        str | None, typer.Option("--from", help="Re-run this step and everything after it.", show_default=False)
    ] = None,
    inputs: Inputs = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", "-f", help="Resume with this edited workflow file: changed steps run again.", show_default=False
        ),
    ] = None,
    as_json: Json = False,
    state_dir: StateDir = None,
    stack: Stack = None,
) -> None:
    """Continue a failed or stopped execution, reusing the outputs of steps that succeeded."""
    from baton.engine.inputs import parse_pairs

    engine, execution_id = _existing(state_dir, stack, execution_id)

    missing = _missing_secrets(engine, execution_id)
    if missing is not None:  # before anything changes: resuming would run steps without them
        _fail(f"cannot resume {execution_id}: {missing}")

    def restart() -> ExecutionRecord:
        pairs = parse_pairs(inputs or [])
        edited = engine.load(file) if file is not None else None
        return engine.resume(execution_id, from_step=from_step, inputs=pairs, text_inputs=frozenset(pairs),
                             edited=edited)  # fmt: skip

    _guarded(restart)
    _drive(engine, execution_id, as_json)


def status(
    execution_id: Annotated[str, typer.Argument(metavar="EXEC_ID", help="Execution to show.", show_default=False)],
    as_json: Json = False,
    state_dir: StateDir = None,
    stack: Stack = None,
) -> None:
    """Show an execution and its steps (EXEC_ID may be a unique prefix or suffix, or latest)."""
    engine, execution_id = _existing(state_dir, stack, execution_id)
    document = _guarded(lambda: engine.document(execution_id))
    if as_json:
        typer.echo(json.dumps(document, indent=2))
    else:
        from baton.cli.progress import status_text

        typer.echo(status_text(document, expired=_expired_approvals(engine, execution_id)))


def list_executions(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many executions to show.")] = 20,
    as_json: Json = False,
    state_dir: StateDir = None,
    stack: Stack = None,
) -> None:
    """List recent executions, newest first."""
    try:
        engine = _engine(state_dir, stack, read_only=True)
    except _NoState:
        typer.echo("[]" if as_json else "no executions yet")
        return
    executions = _guarded(lambda: engine.list_executions(limit))
    if as_json:
        from baton.engine.views import iso

        rows = [
            {"execution_id": e.execution_id, "workflow": e.workflow, "status": e.status,
             "started_at": iso(e.started_at), "finished_at": iso(e.finished_at)}
            for e in executions
        ]  # fmt: skip
        typer.echo(json.dumps(rows, indent=2))
        return
    from baton.cli.progress import list_text

    typer.echo(list_text(executions))


def logs(
    execution_id: Annotated[
        str, typer.Argument(metavar="EXEC_ID", help="Execution whose logs to print.", show_default=False)
    ],
    step: Annotated[
        str | None, typer.Option("--step", help="Only this step (with its items).", show_default=False)
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new output until the execution stops running.")
    ] = False,
    state_dir: StateDir = None,
    stack: Stack = None,
) -> None:
    """Print the stdout and stderr each step attempt left, in the order the steps ran."""
    engine, execution_id = _existing(state_dir, stack, execution_id)
    document = _guarded(lambda: engine.document(execution_id))
    if step is not None and step not in document["steps"]:
        _fail(f"execution {execution_id} has no step {step!r} (steps: {', '.join(document['steps'])})")
    if follow:
        from baton.cli.follow import follow_logs

        follow_logs(engine, execution_id, step)
        return
    entries = in_run_order(_guarded(lambda: engine.logs(execution_id, step)), document)
    if not entries:
        typer.echo("no logs" + (f" for step {step}" if step else ""), err=True)
        return
    for entry in entries:
        if not entry.text:
            continue
        typer.echo(f"==> {entry.step_key} (attempt {entry.attempt}) {entry.stream} <==")
        typer.echo(entry.text, nl=not entry.text.endswith("\n"))


def in_run_order(entries: list[Any], document: dict[str, Any]) -> list[Any]:
    """Log entries ordered as the units ran (by start time), then attempt, stdout first."""
    started: dict[str, str] = {}
    for step_id, step in document["steps"].items():
        started[step_id] = step["started_at"] or "~"  # '~' sorts after any ISO time
        for index, item in enumerate(step["items"] or []):
            started[f"{step_id}[{index}]"] = item.get("started_at") or started[step_id]

    def key(entry: Any) -> tuple[str, int, int, str]:
        base = entry.step_key.split("[", 1)[0]
        when = started.get(entry.step_key) or started.get(base, "~")
        return (when, entry.attempt, 0 if entry.stream == "stdout" else 1, entry.step_key)

    return sorted(entries, key=key)


def approve(
    execution_id: Annotated[
        str, typer.Argument(metavar="EXEC_ID", help="Execution waiting for an answer.", show_default=False)
    ],
    step: Annotated[str, typer.Argument(metavar="STEP", help="The approval step.", show_default=False)],
    *,
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approving.")] = False,
    comment: Annotated[
        str | None, typer.Option("--comment", help="A comment recorded with the answer.", show_default=False)
    ] = None,
    as_json: Json = False,
    state_dir: StateDir = None,
    stack: Stack = None,
) -> None:
    """Answer an approval step, then carry the execution on from there."""
    import getpass

    engine, execution_id = _existing(state_dir, stack, execution_id)
    expired = _expired_approvals(engine, execution_id).get(step)
    if expired is not None:
        # Past its deadline the approval has timed out, answered or not: drive the execution
        # so the timeout is recorded, and refuse the answer.
        typer.echo(f"error: approval {step} expired at {expired}; the answer was not recorded", err=True)
        _drive(engine, execution_id, as_json)
    _guarded(lambda: engine.answer(execution_id, step, approve=not reject, comment=comment, by=getpass.getuser()))
    _carry_on(engine, execution_id, as_json, f"{'rejected' if reject else 'approved'} {step}")


def cancel(
    execution_id: Annotated[str, typer.Argument(metavar="EXEC_ID", help="Execution to stop.", show_default=False)],
    state_dir: StateDir = None,
    stack: Stack = None,
) -> None:
    """Cancel an execution: running steps are stopped, its finally steps still run."""
    engine, execution_id = _existing(state_dir, stack, execution_id)
    _guarded(lambda: engine.cancel(execution_id))
    missing = _missing_secrets(engine, execution_id)
    if missing is not None:
        typer.echo(
            f"cancel recorded; its finally steps need the secrets ({missing}); "
            f"run them with: baton resume {execution_id}"
        )
        raise typer.Exit(EXIT_OK)
    observer, display = _observer(False)
    with display:
        execution = engine.drive(execution_id, observer)
        engine.carry_parents(execution, observer)
    _summary(execution)
    raise typer.Exit(EXIT_OK if execution.status == "cancelled" else EXIT_FAILED)


def register(app: typer.Typer) -> None:
    """Add the run and inspect commands to the ``baton`` app."""
    app.command("run")(run)
    app.command("resume")(resume)
    app.command("status")(status)
    app.command("list")(list_executions)
    app.command("logs")(logs)
    app.command("approve")(approve)
    app.command("cancel")(cancel)
