"""``--stack NAME``: the ``baton`` commands against a deployed stack.

``push`` and ``start`` exist only for a stack. ``status``, ``list``, ``logs``, ``approve``,
``cancel`` and ``resume`` are the local commands of ``baton.cli.runs`` with a working ``--stack``: given,
the stack answers; left out, the local command runs as before. What changes an execution
(approve, cancel, resume) goes through the stack's approver function with a one-time token
of the caller's identity, never as a table write with the user's credentials. Resource names come from
the stack's outputs (``DeployedStack``). Exit codes as for local runs: 0 succeeded (or
waiting for an answer), 1 failed or cancelled, 2 bad usage, a rejected definition or request.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from baton.cli.deployed_stack import DeployedStack
    from baton.engine.records import ExecutionRecord

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
DEFAULT_TIMEOUT_SECONDS = 600.0

StackName = Annotated[
    str, typer.Option("--stack", help="The deployed stack (CloudFormation name).", show_default=False)
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Wait = Annotated[bool, typer.Option("--wait", help="Wait until the execution ends (or waits for an answer).")]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds to wait, with --wait.")]
ExecutionId = Annotated[str, typer.Argument(metavar="EXEC_ID", help="The execution.", show_default=False)]
ViaApi = Annotated[bool, typer.Option("--api", help="Go through the stack's REST API (SigV4-signed).")]


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _guarded(action: Callable[[], Any]) -> Any:
    """Run ``action``; Baton's and AWS's errors become a message and exit code 2."""
    from botocore.exceptions import BotoCoreError, ClientError

    from baton.errors import BatonError

    try:
        return action()
    except (BatonError, ClientError, BotoCoreError) as exc:
        _fail(str(exc))


def _stack(name: str, api: bool = False) -> DeployedStack:
    from baton.cli.deployed_stack import DeployedStack

    stack: DeployedStack = _guarded(lambda: DeployedStack.find(name))
    return _guarded(stack.use_api) if api else stack


def _finish(stack: DeployedStack, execution: ExecutionRecord, as_json: bool) -> None:
    """Show where an execution stands and exit with its code."""
    if as_json:
        typer.echo(json.dumps(_guarded(lambda: stack.document(execution.execution_id)), indent=2))
    else:
        typer.echo(f"{execution.workflow} {execution.status}  (execution {execution.execution_id})")
        if execution.error:
            typer.echo(f"error: {execution.error}")
        for name, value in execution.outputs.items():
            typer.echo(f"output {name}: {value}")
        for waiter, step in _guarded(lambda: stack.waiting_steps(execution.execution_id)):
            typer.echo(f"waiting for an answer: baton approve {waiter} {step} --stack {stack.name}")
    raise typer.Exit(EXIT_OK if execution.status in ("succeeded", "waiting") else EXIT_FAILED)


def _validate(file: Path) -> None:
    """Check a workflow file here; print its errors as FILE:LINE:COL and exit 2 if any."""
    from baton.errors import DefinitionError
    from baton.spec.loader import load_workflow

    try:
        load_workflow(file)
    except DefinitionError as exc:
        for diagnostic in exc.diagnostics:
            typer.echo(str(diagnostic), err=True)
        raise typer.Exit(EXIT_USAGE) from exc


# -- commands only a stack has -------------------------------------------------------------


def push(
    file: Annotated[Path, typer.Argument(help="Workflow file.", show_default=False)],
    stack: StackName,
    key: Annotated[
        str | None, typer.Option("--key", help="Object key (default: the file name).", show_default=False)
    ] = None,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Do not wait for the registrar.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the registrar.")] = 60.0,
) -> None:
    """Validate a workflow here, upload it to the stack's definitions bucket, report its registration."""
    _validate(file)  # errors are printed with FILE:LINE:COL before anything is uploaded
    target = _stack(stack)
    object_key = key or file.name
    version = _guarded(lambda: target.push(file.read_bytes(), object_key))
    if no_wait:
        typer.echo(f"uploaded s3://{target.settings.definitions_bucket}/{object_key} (version {version})")
        return
    result = _guarded(lambda: target.registration(object_key, version, timeout))
    if result.status == "registered":
        typer.echo(f"registered {result.workflow} from s3://{target.settings.definitions_bucket}/{object_key}")
    elif result.status == "rejected":
        _fail(f"{object_key} was rejected: {result.error}")
    else:
        _fail(f"{object_key} was uploaded but not registered within {timeout:.0f}s; see `aws logs tail "
              f"/aws/lambda/{target.function_name('registrar')}`")  # fmt: skip


def start(
    workflow: Annotated[
        str, typer.Argument(help="A registered workflow's name (NAME@VERSION pins one).", show_default=False)
    ],
    stack: StackName,
    *,
    inputs: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="An input as NAME=VALUE (repeatable).", show_default=False)
    ] = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="Start once per token, however often sent.", show_default=False)
    ] = None,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            help="Send this folder's files as the execution's starting files.",
            show_default=False,
            file_okay=False,
        ),
    ] = None,
    wait: Wait = False,
    timeout: Timeout = DEFAULT_TIMEOUT_SECONDS,
    as_json: Json = False,
    api: ViaApi = False,
) -> None:
    """Start a registered workflow on the stack; with --wait, follow it to its end."""
    from baton.engine.inputs import parse_pairs

    target = _stack(stack, api)
    pairs = _guarded(lambda: parse_pairs(inputs or []))
    archive = None
    if workspace is not None:
        archive, count = _guarded(lambda: target.store_workspace(workspace))
        if not as_json:
            typer.echo(f"sent {count} files of {workspace} ({archive.size / 1024:.0f} KiB packed)")
    answer = _guarded(lambda: target.start(workflow, pairs, request_id, workspace=archive))
    if not answer.get("execution_id"):
        _fail(f"{workflow} not started ({answer.get('status')}): {answer.get('error') or answer.get('reason')}")
    execution_id = answer["execution_id"]
    if not wait:
        typer.echo(json.dumps(answer) if as_json else f"started {workflow} (execution {execution_id})")
        return
    _finish(target, _guarded(lambda: target.wait(execution_id, timeout)), as_json)


# -- the stack side of the local commands --------------------------------------------------


def status(execution_id: ExecutionId, stack: StackName, as_json: Json = False, api: ViaApi = False) -> None:
    """Show an execution of the stack and its steps."""
    from baton.cli.progress import status_text

    target = _stack(stack, api)
    document = _guarded(lambda: target.document(execution_id))
    typer.echo(json.dumps(document, indent=2) if as_json else status_text(document))


def list_executions(
    stack: StackName,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many executions to show.")] = 20,
    as_json: Json = False,
    api: ViaApi = False,
) -> None:
    """List the stack's recent executions, newest first."""
    from baton.cli.progress import list_text
    from baton.engine.views import iso

    target = _stack(stack, api)
    executions = _guarded(lambda: target.list_executions(limit))
    if not as_json:
        typer.echo(list_text(executions))
        return
    rows = [{"execution_id": e.execution_id, "workflow": e.workflow, "status": e.status,
             "started_at": iso(e.started_at), "finished_at": iso(e.finished_at)} for e in executions]  # fmt: skip
    typer.echo(json.dumps(rows, indent=2))


def logs(
    execution_id: ExecutionId,
    stack: StackName,
    step: Annotated[str | None, typer.Option("--step", help="Only this step (with its items).")] = None,
) -> None:
    """Print what the stack's functions logged about an execution (CloudWatch Logs)."""
    import datetime

    events = _guarded(lambda: _stack(stack).logs(execution_id, step))
    if not events:
        typer.echo(f"no log lines name {execution_id} (CloudWatch Logs can lag by a few seconds)", err=True)
        return
    for event in events:
        moment = datetime.datetime.fromtimestamp(event.timestamp_ms / 1000, datetime.UTC).isoformat(timespec="seconds")
        typer.echo(f"{moment} {event.function:<9} {event.message}")


def approve(
    execution_id: ExecutionId,
    step: Annotated[str, typer.Argument(metavar="STEP", help="The approval step.", show_default=False)],
    stack: StackName,
    *,
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approving.")] = False,
    comment: Annotated[str | None, typer.Option("--comment", help="A comment recorded with the answer.")] = None,
    as_json: Json = False,
    wait: Wait = False,
    timeout: Timeout = DEFAULT_TIMEOUT_SECONDS,
    api: ViaApi = False,
) -> None:
    """Answer an approval step of an execution on the stack; its workers carry on from there."""
    target = _stack(stack, api)
    answer = _guarded(lambda: target.answer(execution_id, step, approve=not reject, comment=comment))
    if not answer.get("accepted"):
        _fail(f"answer refused: {answer.get('error')}")
    if not wait:
        typer.echo(f"{'rejected' if reject else 'approved'} {step} of {execution_id} ({answer.get('status')})")
        return
    _finish(target, _guarded(lambda: target.wait(execution_id, timeout)), as_json)


def cancel(
    execution_id: ExecutionId, stack: StackName, wait: Wait = False, timeout: Timeout = 60.0, api: ViaApi = False
) -> None:
    """Cancel an execution on the stack: its running steps stop, its finally steps still run."""
    target = _stack(stack, api)
    answer = _guarded(lambda: target.cancel(execution_id))
    if not answer.get("accepted"):
        _fail(f"cancel refused: {answer.get('error')}")
    if not wait:
        typer.echo(f"cancellation of {execution_id} requested")
        return
    execution = _guarded(lambda: target.wait(execution_id, timeout))
    typer.echo(f"{execution.workflow} {execution.status}  (execution {execution_id})")
    raise typer.Exit(EXIT_OK if execution.status == "cancelled" else EXIT_FAILED)


def resume(
    execution_id: ExecutionId,
    stack: StackName,
    *,
    from_step: Annotated[
        str | None, typer.Option("--from", help="Re-run this step and everything after it.", show_default=False)
    ] = None,
    inputs: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="Change an input: NAME=VALUE.", show_default=False)
    ] = None,
    as_json: Json = False,
    wait: Wait = False,
    timeout: Timeout = DEFAULT_TIMEOUT_SECONDS,
) -> None:
    """Run a stopped execution on the stack again, reusing the outputs of steps that succeeded."""
    from baton.engine.inputs import parse_pairs

    target = _stack(stack)
    pairs = _guarded(lambda: parse_pairs(inputs or []))
    answer = _guarded(lambda: target.resume(execution_id, from_step=from_step, inputs=pairs))
    if not answer.get("accepted"):
        _fail(f"resume refused: {answer.get('error')}")
    if not wait:
        typer.echo(f"resumed {execution_id}" + (f" from {from_step}" if from_step else ""))
        return
    _finish(target, _guarded(lambda: target.wait(execution_id, timeout)), as_json)


# -- registration --------------------------------------------------------------------------

STACK_ONLY: dict[str, Callable[..., Any]] = {"push": push, "start": start}
WITH_LOCAL: dict[str, Callable[..., Any]] = {
    "status": status,
    "list": list_executions,
    "logs": logs,
    "approve": approve,
    "cancel": cancel,
    "resume": resume,
}


def register(app: typer.Typer) -> None:
    """Add ``push`` and ``start``, and make ``--stack`` work on the local commands already on ``app``.

    Call it after ``baton.cli.runs.register(app)``; a command ``app`` lacks is added as a
    stack-only one.
    """
    for name, command in STACK_ONLY.items():
        app.command(name)(command)
    local = {info.name: info for info in app.registered_commands if info.name in WITH_LOCAL}
    for name, remote in WITH_LOCAL.items():
        info = local.get(name)
        if info is None or info.callback is None:
            app.command(name)(remote)
        else:
            info.callback = either(info.callback, remote)


def either(local: Callable[..., Any], remote: Callable[..., Any]) -> Callable[..., Any]:
    """One command with the options of both: ``remote`` when ``--stack`` is given, else ``local``.

    Options only the stack side has (``--wait``) are refused without ``--stack``.
    """
    # Evaluated annotations: the two functions' string annotations live in different modules.
    local_signature = inspect.signature(local, eval_str=True)
    remote_signature = inspect.signature(remote, eval_str=True)
    extra = [p for name, p in remote_signature.parameters.items() if name not in local_signature.parameters]

    @functools.wraps(local)
    def command(**given: Any) -> Any:
        if given.get("stack") is None:
            used = [p.name for p in extra if given.get(p.name, p.default) != p.default]
            if used:
                _fail(f"--{used[0].replace('_', '-')} needs --stack")
            return local(**{name: given[name] for name in local_signature.parameters if name in given})
        return remote(**{name: given[name] for name in remote_signature.parameters if name in given})

    merged = local_signature.replace(
        parameters=[*local_signature.parameters.values(), *(p.replace(kind=p.KEYWORD_ONLY) for p in extra)]
    )
    command.__signature__ = merged  # type: ignore[attr-defined]
    command.__annotations__ = {name: p.annotation for name, p in merged.parameters.items()}
    return command
