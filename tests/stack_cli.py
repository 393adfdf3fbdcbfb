"""The ``baton`` command line in-process, with the stack side of the commands wired in, for
tests of ``--stack`` (on moto and on LocalStack)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner, Result

from baton.cli import runs, stack_commands


def baton(*args: str) -> Result:
    """Run ``baton ARGS`` in-process (runs' commands with ``--stack`` wired in)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
    runs.register(app)
    stack_commands.register(app)
    return CliRunner().invoke(app, list(args))
