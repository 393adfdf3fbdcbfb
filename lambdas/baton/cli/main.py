"""``baton``: validate, draw and run workflows. Heavy imports stay inside commands so that
start-up stays fast (``baton run`` of a one-step workflow is measured end to end)."""

from __future__ import annotations

import gc

# No cyclic garbage collection while the command line loads: its modules and classes live
# as long as the process and leave almost no garbage, so the collections they would set
# off cost start-up time for nothing. Collection is back on once this module is loaded.
_COLLECTING = gc.isenabled()
gc.disable()

import atexit  # noqa: E402
import importlib  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from enum import StrEnum  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated, NoReturn  # noqa: E402

import typer  # noqa: E402

from baton import __version__  # noqa: E402

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

app = typer.Typer(
    name="baton",
    help="Run YAML workflows on your laptop and on AWS serverless.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class GraphFormat(StrEnum):
    """Output formats of ``baton graph``."""

    mermaid = "mermaid"
    dot = "dot"


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"baton {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Run YAML workflows on your laptop and on AWS serverless."""


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Workflow files to check.", show_default=False)],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
) -> None:
    """Check workflow files; print each error as FILE:LINE:COL: message. Exit 2 on any error."""
    import os

    from baton.errors import DefinitionError
    from baton.spec.loader import load_workflow
    from baton.spec.subworkflows import check_children, search_path

    failed = False
    for path in files:
        try:
            workflow = load_workflow(path)
            check_children(path, search_path(os.environ))  # the files its workflow steps name
        except DefinitionError as exc:
            failed = True
            for diagnostic in exc.diagnostics:
                typer.echo(str(diagnostic), err=True)
            count = len(exc.diagnostics)
            typer.echo(f"{path}: {count} error{'s' if count != 1 else ''}", err=True)
            continue
        from baton.spec.outputs import output_warnings
        from baton.spec.warnings import skipped_output_warnings

        for warning in [*output_warnings(workflow), *skipped_output_warnings(workflow)]:
            typer.echo(f"{path}: warning: {warning}", err=True)
        if not quiet:
            typer.echo(f"{path}: ok ({workflow.name}, {len(workflow.all_steps())} steps)")
    raise typer.Exit(EXIT_USAGE if failed else EXIT_OK)


@app.command()
def graph(
    file: Annotated[Path, typer.Argument(help="Workflow file.", show_default=False)],
    output_format: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="Diagram language.")
    ] = GraphFormat.mermaid,
) -> None:
    """Draw the step graph as Mermaid or Graphviz DOT."""
    from baton.spec.graph import to_dot, to_mermaid

    workflow = _load_or_exit(file)
    draw = to_mermaid if output_format is GraphFormat.mermaid else to_dot
    typer.echo(draw(workflow), nl=False)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the workflow language (for editors and yaml-language-server)."""
    from baton.spec.schema import schema_json

    typer.echo(schema_json(), nl=False)


def _load_or_exit(file: Path):  # type: ignore[no-untyped-def]
    """Load a workflow or print its errors and exit 2."""
    from baton.errors import DefinitionError
    from baton.spec.loader import load_workflow

    try:
        return load_workflow(file)
    except DefinitionError as exc:
        for diagnostic in exc.diagnostics:
            typer.echo(str(diagnostic), err=True)
        raise typer.Exit(EXIT_USAGE) from exc


importlib.import_module("baton.cli.runs").register(app)
# After runs: the inspect commands it added gain their --stack form here.
importlib.import_module("baton.cli.stack_commands").register(app)
importlib.import_module("baton.cli.insights").register(app)
importlib.import_module("baton.cli.versions").register(app)
if _COLLECTING:
    gc.enable()


def main() -> None:
    """Console-script entry point.

    Once the command is done, its exit handlers have run and its output is flushed, the
    process ends at once (``os._exit``) instead of tearing the interpreter down: that would
    free every module, class and validator one object at a time, 40-70 ms of a one-step
    ``baton run``, only for the operating system to take the memory back anyway. While a
    thread of the command is still running, the interpreter ends as usual and waits for it.
    """
    code: str | int | None = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code
    if not isinstance(code, int | None) or any(
        thread.is_alive() and not thread.daemon
        for thread in threading.enumerate()
        if thread is not threading.main_thread()
    ):
        sys.exit(code)
    _end_now(code or 0)


def _end_now(code: int) -> NoReturn:
    """End the process with ``code`` after what ending the interpreter would still do and
    a user or a file would notice: the exit handlers (open state files closed, logging
    flushed, temporary folders removed) and the standard streams flushed."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: Python's own exit status for it
            code = code or 120
    os._exit(code)
