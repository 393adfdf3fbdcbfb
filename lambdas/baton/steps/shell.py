"""``shell``: a ``command`` run with ``bash -eo pipefail``, or an ``argv`` run without a shell.

Template values never become script text: ``baton.expr.render_shell`` turns each ``{{ }}``
into a variable reference and passes the value in the environment. Each attempt writes
stdout and stderr straight to its log files (through a masking pump when the workflow has
secrets), runs in its own session so a timeout can kill the whole process group, and reads
``key=value`` lines (and ``key<<EOF`` blocks) from ``$BATON_OUTPUT``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from baton.engine.definition import has_template
from baton.steps.base import Invocation, StepResult, StepType

if TYPE_CHECKING:
    from baton.engine.expressions import Expressions
    from baton.engine.masking import Masker

TAIL_BYTES = 16 * 1024
"""How much of the end of stdout and stderr becomes the ``stdout``/``stderr`` outputs."""
KILL_GRACE_SECONDS = 2.0
"""Time between SIGTERM and SIGKILL when an attempt times out or is cancelled."""


def prepare(fields: dict[str, Any], context: dict[str, Any], expressions: Expressions) -> dict[str, Any]:
    """Render the command (values into the environment, never into the text) or argv."""
    prepared: dict[str, Any] = {}
    working_dir = fields.get("working_dir")
    if working_dir:
        prepared["working_dir"] = expressions.render(working_dir, context)
    command = fields.get("command")
    if command is not None:
        prepared["script"], prepared["script_env"] = command, {}
        if has_template(command):
            from baton.expr import render_shell

            shell = render_shell(command, context, expressions.engine)
            prepared["script"], prepared["script_env"] = shell.script, dict(shell.env)
        return prepared
    argv = list(fields["argv"])
    if has_template(argv):
        from baton.expr import render_argv

        argv = render_argv(argv, context, expressions.engine)
    prepared["argv"] = [str(arg) for arg in argv]
    return prepared


def run(prepared: dict[str, Any], invocation: Invocation) -> StepResult:
    """Run one attempt to its end, its timeout, or its cancellation."""
    if "script" in prepared:
        argv = ["bash", "-eo", "pipefail", "-c", prepared["script"]]
    else:
        argv = prepared["argv"]
    env = {**invocation.env, **prepared.get("script_env", {})}
    cwd = invocation.workspace / prepared.get("working_dir", "")
    invocation.output_path.parent.mkdir(parents=True, exist_ok=True)
    invocation.output_path.write_bytes(b"")
    with invocation.stdout_path.open("wb") as out, invocation.stderr_path.open("wb") as err:
        try:
            code, timed_out = _execute(argv, env, cwd, out, err, invocation)
        except OSError as exc:
            message = f"cannot start {argv[0]!r} in {cwd}: {exc.strerror or exc}"
            err.write(message.encode() + b"\n")
            return StepResult.failure(message, retryable=False)
    outputs: dict[str, Any] = {
        "exit_code": code,
        "stdout": _tail(invocation.stdout_path),
        "stderr": _tail(invocation.stderr_path),
    }
    try:
        outputs.update(parse_output_file(invocation.output_path.read_text(errors="replace")))
    except ValueError as exc:
        return StepResult(outputs=outputs, error=f"$BATON_OUTPUT: {exc}", retryable=False)
    outputs = invocation.masker.data(outputs)
    if timed_out:
        return StepResult(outputs, f"timed out after {invocation.timeout_seconds:g}s", kind="timeout")
    if code != 0:
        return StepResult(outputs, _failure_message(code, outputs["stderr"]))
    return StepResult(outputs)


def _execute(
    argv: list[str], env: dict[str, str], cwd: Path, out: IO[bytes], err: IO[bytes], invocation: Invocation
) -> tuple[int, bool]:
    masker = invocation.masker
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if masker else out,
        stderr=subprocess.PIPE if masker else err,
        start_new_session=True,  # its own process group: a timeout kills every descendant
    )
    invocation.supervisor.track(invocation.execution_id, invocation.step_key, process.pid)
    pumps = _start_pumps(process, out, err, masker) if masker else []
    expired = threading.Event()
    timer = None
    if invocation.timeout_seconds is not None:
        timer = threading.Timer(invocation.timeout_seconds, _expire, (process.pid, expired))
        timer.daemon = True
        timer.start()
    try:
        code = process.wait()
    finally:
        if timer is not None:
            timer.cancel()
        for pump in pumps:
            # A background child may keep the pipe open; its output is not waited for.
            pump.join(timeout=1.0)
        invocation.supervisor.untrack(invocation.execution_id, invocation.step_key)
    return code, expired.is_set()


def _expire(pgid: int, expired: threading.Event) -> None:
    expired.set()
    kill_group(pgid)


def kill_group(pgid: int) -> None:
    """SIGTERM a process group, then SIGKILL it after a grace period."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
        killer = threading.Timer(KILL_GRACE_SECONDS, _kill_now, (pgid,))
        killer.daemon = True
        killer.start()


def _kill_now(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _start_pumps(process: subprocess.Popen[bytes], out: IO[bytes], err: IO[bytes], masker: Masker) -> list[threading.Thread]:
    pumps = []
    for source, sink in ((process.stdout, out), (process.stderr, err)):
        assert source is not None
        pump = threading.Thread(target=_pump, args=(source, sink, masker), daemon=True)
        pump.start()
        pumps.append(pump)
    return pumps


def _pump(source: IO[bytes], sink: IO[bytes], masker: Masker) -> None:
    with contextlib.suppress(ValueError, OSError):  # the sink closed under a straggler
        for line in iter(source.readline, b""):
            text = line.decode("utf-8", errors="surrogateescape")
            sink.write(masker.text(text).encode("utf-8", errors="surrogateescape"))
            sink.flush()


def _tail(path: Path) -> str:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - TAIL_BYTES))
        data = handle.read()
    return data.decode("utf-8", errors="replace").rstrip("\n")


def _failure_message(code: int, stderr: str) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        message = f"killed by {name}"
    else:
        message = f"exited with code {code}"
    last_line = stderr.strip().rsplit("\n", 1)[-1] if stderr.strip() else ""
    return f"{message}: {last_line}" if last_line else message


def parse_output_file(text: str) -> dict[str, str]:
    """Outputs written to ``$BATON_OUTPUT``: ``key=value`` lines and ``key<<DELIM`` blocks."""
    outputs: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index].rstrip("\r")
        index += 1
        if not line.strip():
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if heredoc > 0 and (equals < 0 or heredoc < equals):
            name, delimiter = line[:heredoc], line[heredoc + 2 :]
            block: list[str] = []
            while index < len(lines) and lines[index].rstrip("\r") != delimiter:
                block.append(lines[index].rstrip("\r"))
                index += 1
            if index >= len(lines):
                raise ValueError(f"output {name!r}: no line {delimiter!r} ends the block")
            index += 1
            outputs[name.strip()] = "\n".join(block)
        elif equals > 0:
            outputs[line[:equals].strip()] = line[equals + 1 :]
        else:
            raise ValueError(f"line {index}: expected key=value or key<<DELIMITER, got {line!r}")
    return outputs


STEP_TYPE = StepType(name="shell", mode="process", prepare=prepare, run=run)
