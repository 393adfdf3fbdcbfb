"""``baton stats``, ``baton report`` and ``baton ui``: the recorded history, read-only.

Each reads the state and artifact stores through the ports: the local state directory, or a
deployed stack's tables and buckets with ``--stack``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from baton.cli.runs import Json, Stack, StateDir, _fail

if TYPE_CHECKING:
    from baton.ports import Ports

EXIT_OK = 0


def _ports(state_dir: Path | None, stack: str | None) -> Ports:
    from baton.errors import BatonError

    try:
        if stack is not None:
            from baton.cli.deployed_stack import DeployedStack

            return DeployedStack.find(stack).engine().ports
        from baton.bootstrap import local_ports, state_dir_from

        directory = state_dir_from(state_dir)
        if not directory.exists():  # a read-only command never creates the state dir
            _fail(f"no executions yet: {directory} does not exist (run a workflow first: baton run FILE)")
        return local_ports(directory)
    except BatonError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _guard(action: Any) -> Any:
    from baton.errors import BatonError

    try:
        return action()
    except BatonError as exc:
        _fail(str(exc))


def stats(
    workflow: Annotated[str | None, typer.Argument(help="Only this workflow.", show_default=False)] = None,
    since: Annotated[str, typer.Option("--since", help="How far back: 7d, 12h, 30m, or an ISO-8601 time.")] = "7d",
    as_json: Json = False,
    state_dir: StateDir = None,
    stack: Stack = None,
) -> None:
    """Success rates, durations, failures, retries, cache savings and hints from run history."""
    from datetime import UTC, datetime

    from baton.insights.figures import stats_document
    from baton.insights.history import load_runs, parse_since
    from baton.insights.text import stats_text

    start = _guard(lambda: parse_since(since, datetime.now(UTC)))
    ports = _ports(state_dir, stack)
    runs = _guard(lambda: load_runs(ports.store, start, workflow))
    document = stats_document(runs, since=start.isoformat(), workflow=workflow)
    if as_json:
        typer.echo(json.dumps(document, indent=2))
    elif not runs:
        typer.echo(f"no executions{' of ' + workflow if workflow else ''} since {start.isoformat()}")
    else:
        typer.echo(stats_text(document))


def report(
    execution_id: Annotated[str, typer.Argument(metavar="EXEC", help="The execution.", show_default=False)],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="HTML file to write (default: EXEC.html).", show_default=False)
    ] = None,
    state_dir: StateDir = None,
    stack: Stack = None,
) -> None:
    """Write one self-contained HTML page of an execution: timeline, step graph, outputs, logs."""
    from baton.insights.report import render_report, run_view

    ports = _ports(state_dir, stack)
    view = _guard(lambda: run_view(ports, execution_id))
    target = output or Path(f"{execution_id}.html")
    try:
        target.write_text(render_report(view), encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {target}: {exc.strerror or exc}")
    typer.echo(f"wrote {target}")


def ui(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0 picks a free one).")] = 8650,
    state_dir: StateDir = None,
    stack: Stack = None,
) -> None:
    """Serve a read-only view of the runs on http://127.0.0.1:PORT (Ctrl-C stops it)."""
    from baton.insights.web import serve

    ports = _ports(state_dir, stack)
    serve(ports, port=port, announce=lambda url: typer.echo(f"baton ui on {url} (Ctrl-C to stop)"))


def register(app: typer.Typer) -> None:
    """Add ``stats``, ``report`` and ``ui`` to the ``baton`` app."""
    app.command("stats")(stats)
    app.command("report")(report)
    app.command("ui")(ui)
