"""``baton versions NAME``: every definition of a workflow kept by digest, with its
``version:`` label: locally those run here, on a stack (``--stack``) those registered.

Any of them can be pinned: ``baton run NAME@VERSION`` or ``NAME@sha256:DIGEST`` locally,
``baton start NAME@VERSION --stack S``, and ``workflow: NAME@VERSION`` in a step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from baton.ports import DefinitionVersion

Name = Annotated[str, typer.Argument(metavar="NAME", help="The workflow's name.", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print the versions as JSON.")]
StateDir = Annotated[
    Path | None,
    typer.Option("--state-dir", help="Where the embedded backend keeps its state.", show_default=False),
]
Stack = Annotated[str | None, typer.Option("--stack", help="A deployed stack's registered versions.")]
SHORT_DIGEST = 12


def versions_here(name: Name, as_json: Json = False, state_dir: StateDir = None, stack: Stack = None) -> None:
    """List the definitions of a workflow run here, oldest first; the newest is current."""
    from baton.cli.runs import _engine, _guarded, _NoState

    try:
        engine = _engine(state_dir, stack, read_only=True)
    except _NoState:
        _show(name, [], as_json)
        return
    kept = engine.ports.versions
    _show(name, _guarded(lambda: kept.versions(name)) if kept is not None else [], as_json)


def versions_on_stack(name: Name, stack: Annotated[str, typer.Option("--stack")], as_json: Json = False) -> None:
    """List the registered definitions of a workflow, oldest first; the current one marked."""
    from baton.cli.stack_commands import _guarded

    _show(name, _guarded(lambda: _registered(stack, name)), as_json)


def _registered(stack: str, name: str) -> list[DefinitionVersion]:
    """The registered versions of ``name`` on a deployed stack."""
    from baton.adapters.aws.children import RegistryVersions
    from baton.cli.stack_commands import _stack

    return RegistryVersions(_stack(stack).backend.registry).versions(name)


def _show(name: str, found: list[DefinitionVersion], as_json: bool) -> None:
    if as_json:
        rows = [{"name": v.name, "version": v.version, "digest": v.digest, "seen_at": v.seen_at.isoformat(),
                 "source": v.source, "current": v.current} for v in found]  # fmt: skip
        typer.echo(json.dumps(rows, indent=2))
        return
    if not found:
        typer.echo(f"no definitions of {name} yet")
        return
    typer.echo(f"{'VERSION':<12} {'DIGEST':<20} {'SEEN':<20} SOURCE")
    for kept in found:
        label = (kept.version or "-") + (" *" if kept.current else "")
        digest = f"sha256:{kept.digest[:SHORT_DIGEST]}"
        typer.echo(f"{label:<12} {digest:<20} {kept.seen_at:%Y-%m-%d %H:%M:%S}  {kept.source}")
    typer.echo(f"* current; pin one with {name}@VERSION or {name}@sha256:DIGEST")


def register(app: typer.Typer) -> None:
    """Add ``versions`` (local, or the stack's with ``--stack``)."""
    from baton.cli.stack_commands import either

    app.command("versions")(either(versions_here, versions_on_stack))
