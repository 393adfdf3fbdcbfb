"""``shell``: a ``command`` run with ``bash -eo pipefail``, or an ``argv`` run without a shell.

Template values never become script text: ``baton.expr.render_shell`` turns each ``{{ }}``
into a variable reference and passes the value in the environment. Each attempt writes
stdout and stderr straight to its log files (through a masking pump when the workflow has
secrets), runs in its own session so a timeout can kill the whole process group, and reads
``key=value`` lines (and ``key<<EOF`` blocks) from ``$BATON_OUTPUT``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import select
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from baton.expr.markers import has_template
from baton.steps.base import WATCH_SECONDS, Invocation, StepResult, StepType

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


_SIMPLE_COMMAND = re.compile(r"[A-Za-z0-9_@%+=:,./-]+(?: +[A-Za-z0-9_@%+=:,./-]+)*")
# Words bash runs itself (builtins, keywords); ``true``/``false`` behave the same as programs.
_BASH_WORD_LIST = (
    "alias bg bind break builtin caller cd command compgen complete compopt continue declare "
    "dirs disown echo enable eval exec exit export fc fg getopts hash help history if jobs kill "
    "let local logout mapfile popd printf pushd pwd read readarray readonly return select set "
    "shift shopt source suspend test time times trap type typeset ulimit umask unalias unset "
    "until wait while for case function coproc do done then else elif fi esac in . :"
)
_BASH_WORDS = frozenset(_BASH_WORD_LIST.split())


@functools.lru_cache(maxsize=256)
def _program(word: str, path: str | None) -> str | None:
    if "/" in word and not word.startswith("/"):
        return None  # relative to the step's directory, which is not ours
    if path is None or any(not entry.startswith("/") for entry in path.split(os.pathsep)):
        return None  # a relative PATH entry also depends on the step's directory
    return shutil.which(word, path=path)


def simple_argv(script: str, env: Mapping[str, str]) -> list[str] | None:
    """The argv of a script that is one plain command (``pytest -q``, ``sleep 5``), else None.

    Such a command is run without bash: no quoting, expansion, redirection or builtin can
    be involved, so the result is the same, a millisecond sooner (bash itself would exec
    the program in place).
    """
    text = script.strip()
    if not _SIMPLE_COMMAND.fullmatch(text):
        return None
    words = text.split()
    if words[0] in _BASH_WORDS or "=" in words[0]:
        return None
    program = _program(words[0], env.get("PATH"))
    return [program, *words[1:]] if program else None


def _command(prepared: dict[str, Any], invocation: Invocation) -> tuple[list[str], Mapping[str, str], Path]:
    """The argv, environment and directory of an attempt's process."""
    script_env = prepared.get("script_env")
    env = {**invocation.env, **script_env} if script_env else invocation.env
    if "script" in prepared:
        argv = simple_argv(prepared["script"], env) or ["bash", "-eo", "pipefail", "-c", prepared["script"]]
    else:
        argv = prepared["argv"]
    return argv, env, invocation.workspace / prepared.get("working_dir", "")


@dataclass(slots=True)
class Begun:
    """An attempt's process, started before its ``run`` (see :func:`start`)."""

    argv: list[str]
    cwd: Path
    logs: tuple[str, str]
    out: IO[bytes]
    err: IO[bytes]
    lost: set[str]
    pid: int
    wait: Callable[[], int]
    pumps: list[threading.Thread]

    def stop(self) -> None:
        """Stop the process group and let go of its logs (those it left empty are removed):
        the attempt is not run after all."""
        _kill_now(self.pid)
        with contextlib.suppress(OSError):
            self.wait()
        for pump in self.pumps:
            pump.join(timeout=1.0)
        for path, handle in zip(self.logs, (self.out, self.err), strict=True):
            with contextlib.suppress(OSError, ValueError):
                if handle.seek(0, os.SEEK_END) == 0:
                    os.unlink(path)
            handle.close()


def start(prepared: dict[str, Any], invocation: Invocation) -> Begun:
    """Start an attempt's process now, for ``run`` to wait for once it is given the result
    as ``Invocation.begun``: the engine starts the next step of a chain as soon as the one
    before it has exited, before it records that one's end. Raises ``OSError`` when the
    process cannot start (``run`` then starts it again, and reports why it cannot)."""
    argv, env, cwd = _command(prepared, invocation)
    logs = (str(invocation.stdout_path), str(invocation.stderr_path))
    later: list[tuple[str, str]] = []
    out, err = SPARE_LOGS.open(logs, later)
    try:
        pid, wait, pumps = _start(argv, env, cwd, out=out, err=err, masker=invocation.masker)
    except BaseException:
        out.close()
        err.close()
        raise
    finally:
        lost = SPARE_LOGS.place(later)
    return Begun(argv, cwd, logs, out, err, lost, pid, wait, pumps)


def run(prepared: dict[str, Any], invocation: Invocation) -> StepResult:
    """Run one attempt to its end, its timeout, or its cancellation."""
    begun = invocation.begun
    logs = (str(invocation.stdout_path), str(invocation.stderr_path))
    quiet: list[tuple[str, IO[bytes]]] = []
    later: list[tuple[str, str]] = []
    if isinstance(begun, Begun):
        argv, cwd, (out, err), lost = begun.argv, begun.cwd, (begun.out, begun.err), begun.lost
        env: Mapping[str, str] = {}
    else:
        argv, env, cwd = _command(prepared, invocation)
        # w+b: the child writes through the same open file, so its size and tail are read back
        # from these handles without opening the logs again.
        out, err = SPARE_LOGS.open(logs, later)
        lost = set()
        begun = None

    def place() -> None:  # once the process runs (or failed to start)
        lost.update(SPARE_LOGS.place(later))

    try:
        try:
            code, timed_out, alone, wrote = _execute(
                argv, env, cwd, out=out, err=err, invocation=invocation, placed=place, begun=begun
            )
        except OSError as exc:
            message = invocation.masker.text(f"cannot start {argv[0]!r} in {cwd}: {exc.strerror or exc}")
            err.write(message.encode() + b"\n")
            return StepResult.failure(message, retryable=False)
        (stdout, out_size), (stderr, err_size) = _tail(out), _tail(err)
        outputs: dict[str, Any] = {"exit_code": code, "stdout": stdout, "stderr": stderr}
        # A stream that printed nothing, once nothing the step started can still write to it.
        if alone:
            quiet = [(path, handle) for path, handle, size in zip(logs, (out, err), (out_size, err_size), strict=True)
                     if size == 0 and path not in lost]  # fmt: skip
    finally:
        for path, handle in zip(logs, (out, err), strict=True):
            if path in lost:
                with contextlib.suppress(OSError, ValueError):
                    rescue(handle, path)
            if all(handle is not kept for _, kept in quiet):
                handle.close()
    SPARE_LOGS.keep(quiet)
    try:
        outputs.update(parse_output_file(_take_output(invocation.output_path) if wrote else ""))
    except ValueError as exc:
        return StepResult(outputs=outputs, error=f"$BATON_OUTPUT: {exc}", retryable=False)
    outputs = invocation.masker.data(outputs)
    if timed_out:
        return StepResult(outputs, f"timed out after {invocation.timeout_seconds:g}s", kind="timeout")
    if code != 0:
        return StepResult(outputs, _failure_message(code, outputs["stderr"]))
    return StepResult(outputs)


def _take_output(path: Path) -> str:
    """What the step wrote to ``$BATON_OUTPUT``, the file removed. It exists only if the step
    wrote to it; most steps do not, so that is asked first: one look, and no exception."""
    if not os.access(path, os.F_OK, follow_symlinks=False):
        return ""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:  # a link to nothing
        return ""
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def _execute(
    argv: list[str],
    env: Mapping[str, str],
    cwd: Path,
    *,
    out: IO[bytes],
    err: IO[bytes],
    invocation: Invocation,
    placed: Callable[[], None] = lambda: None,
    begun: Begun | None = None,
) -> tuple[int, bool, bool, bool]:
    """The exit code, whether the attempt timed out, whether nothing it started is left (no
    process in its group, no pump still copying), and whether it may have written to
    ``$BATON_OUTPUT``. ``placed`` is called as soon as the process has started (or failed
    to); a process started already (``begun``) is only waited for.

    A process that exited with 0 in time and wrote no ``$BATON_OUTPUT`` has succeeded:
    ``Invocation.exited`` is called then, before anything else is done."""
    if begun is not None:
        pid, wait, pumps = begun.pid, begun.wait, begun.pumps
    else:
        try:
            pid, wait, pumps = _start(argv, env, cwd, out=out, err=err, masker=invocation.masker)
        finally:
            placed()
    expired: list[bool] = []
    timer = None
    if invocation.timeout_seconds is not None:
        timer = threading.Timer(invocation.timeout_seconds, _expire, (pid, expired))
        timer.daemon = True
        timer.start()
    try:
        if invocation.started is not None:
            invocation.started()
        code = wait() if invocation.watch is None else _watched_wait(pid, wait, invocation.watch)
        wrote = True
        if code == 0 and not expired and invocation.exited is not None:
            wrote = os.access(invocation.output_path, os.F_OK, follow_symlinks=False)
            if not wrote:
                invocation.exited()
    except Exception:
        # Stopped by the engine as it started (``invocation.started`` raised): no process
        # of it is left, not even one to be waited for.
        _kill_now(pid)
        with contextlib.suppress(OSError):
            wait()
        raise
    except BaseException:
        # Interrupted while waiting on the driver's thread (Ctrl-C, SIGTERM): the step's
        # processes stop with it, before its pumps are waited for.
        _kill_now(pid)
        raise
    finally:
        if timer is not None:
            timer.cancel()
        for pump in pumps:
            # A background child may keep the pipe open; its output is not waited for.
            pump.join(timeout=1.0)
    alone = not any(pump.is_alive() for pump in pumps) and not _group_alive(pid)
    return code, bool(expired), alone, wrote


def _watched_wait(pid: int, wait: Callable[[], int], watch: Callable[[], None]) -> int:
    """``wait()`` for the process, calling ``watch`` every ``WATCH_SECONDS`` until it exits.

    Linux tells of the exit through a pidfd; elsewhere a thread waits for it instead.
    """
    try:
        exited = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return _wait_in_thread(wait, watch)
    try:
        poller = select.poll()  # not select(): a descriptor past 1024 is fine here
        poller.register(exited, select.POLLIN)
        while not poller.poll(WATCH_SECONDS * 1000):
            watch()
    finally:
        os.close(exited)
    return wait()


def _wait_in_thread(wait: Callable[[], int], watch: Callable[[], None]) -> int:
    ended: list[int | BaseException] = []

    def waiting() -> None:
        try:
            ended.append(wait())
        except BaseException as exc:  # handed to the caller below
            ended.append(exc)

    waiter = threading.Thread(target=waiting, daemon=True)
    waiter.start()
    waiter.join(WATCH_SECONDS)
    while waiter.is_alive():
        watch()
        waiter.join(WATCH_SECONDS)
    if isinstance(ended[0], BaseException):
        raise ended[0]
    return ended[0]


def _group_alive(pgid: int) -> bool:
    """True while a process of the group (a background child of the step) is running."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a process of the group runs as another user: alive all the same
    return True


def _start(
    argv: list[str], env: Mapping[str, str], cwd: Path, *, out: IO[bytes], err: IO[bytes], masker: Masker
) -> tuple[int, Callable[[], int], list[threading.Thread]]:
    """Start the process in its own session (so a timeout can kill all its descendants);
    return its pid, a function that waits for its exit code, and the masking pumps."""
    if not masker:
        pid = _spawn(argv, env, cwd, out, err)
        if pid is not None:
            return pid, lambda: os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), []
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if masker else out,
        stderr=subprocess.PIPE if masker else err,
        start_new_session=True,
    )
    return process.pid, process.wait, _start_pumps(process, out, err, masker) if masker else []


def _spawn(argv: list[str], env: Mapping[str, str], cwd: Path, out: IO[bytes], err: IO[bytes]) -> int | None:
    """``posix_spawn`` the process, at about a third of ``Popen``'s cost; None when it cannot
    (another directory: posix_spawn cannot change it; no program on PATH; no setsid support).

    Python opens every file non-inheritable, so the child gets only these three descriptors.
    """
    if str(cwd) != os.getcwd():
        return None
    program = argv[0] if argv[0].startswith("/") else _program(argv[0], env.get("PATH"))
    if program is None:
        return None
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
        (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
    ]
    try:
        return os.posix_spawn(program, argv, env, file_actions=actions, setsid=True, setsigdef=_RESTORED_SIGNALS)
    except NotImplementedError:
        return None


_RESTORED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name))
"""Signals Python ignores that a child gets back at their default, as ``Popen`` does: a
child that inherited an ignored SIGPIPE would fail with "Broken pipe" where it should end
quietly (``yes | head -1``), and a shell cannot undo it."""


def _expire(pgid: int, expired: list[bool]) -> None:
    expired.append(True)
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


def _start_pumps(
    process: subprocess.Popen[bytes], out: IO[bytes], err: IO[bytes], masker: Masker
) -> list[threading.Thread]:
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


class SpareLogs:
    """Empty log files, kept to become the next attempts' logs.

    Most steps print nothing on one stream or both, and a new file costs a new inode:
    on a well-used ext4 disk finding one is the dearest part of a quick step (up to a
    millisecond of CPU), while renaming a file is a fiftieth of that. A log that stayed
    empty, once no process of its step is left to write to it, is *held*: still open, and
    still at its path until the next log opened in this process is renamed from it, so a
    chain of quiet steps costs one rename per stream and step, and no open or close. When
    the driver stops (:meth:`settle`) the held logs move to ``.spare/`` beside the
    executions' log folders, so a stream that printed nothing leaves no file, as if never
    opened; the first logs opened under that folder later take those spares. Spares another
    process left behind are taken too; a spare someone else took first is simply skipped.
    """

    HELD = 8
    """At most this many empty logs are held open at once (the rest become spares)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: list[tuple[str, IO[bytes]]] = []
        self._free: dict[str, list[str]] = {}
        self._made = 0
        self._folders: dict[str, str] = {}
        """Each log folder this process made, and its spares' folder."""

    def open(self, logs: tuple[str, ...], later: list[tuple[str, str]] | None = None) -> list[IO[bytes]]:
        """Open ``logs`` (new, empty) for an attempt to write to: a held log renamed to each,
        else a spare renamed into place, else a new file; the folder is made the first time.

        ``later``: a held log's rename is not made but added there (from, to), for the
        caller to make with :meth:`place` once its process has started, so that the rename
        does not delay the start.
        """
        folder = os.path.dirname(logs[0])
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
        opened: list[IO[bytes]] = []
        try:
            for path in logs:
                opened.append(self._reused(path, later) or self._opened(path, folder))
        except BaseException:
            for handle in opened:
                handle.close()
            raise
        return opened

    def keep(self, quiet: list[tuple[str, IO[bytes]]]) -> None:
        """Hold the empty logs ``quiet`` (path, open handle) for the next attempts."""
        if not quiet:
            return
        with self._lock:
            self._held.extend(quiet)
            over = self._held[: -self.HELD]
            del self._held[: -self.HELD]
        for path, handle in over:
            self._put_away(path, handle)

    def settle(self) -> None:
        """Move every held log to the spares and close it."""
        with self._lock:
            held, self._held = self._held, []
        for path, handle in held:
            self._put_away(path, handle)

    def drop(self, path: str) -> None:
        """Close the held log at ``path``, whose file is about to be removed (the AWS artifact
        store removes an empty log once its step has ended), so no later attempt is given it."""
        with self._lock:
            dropped = [handle for held, handle in self._held if held == path]
            self._held = [(held, handle) for held, handle in self._held if held != path]
        for handle in dropped:
            handle.close()

    @staticmethod
    def place(later: list[tuple[str, str]]) -> set[str]:
        """Make the renames :meth:`open` left for later; the paths whose rename failed (the
        file or a folder went away meanwhile) are returned: see :func:`rescue`."""
        lost = set()
        for old, path in later:
            try:
                os.rename(old, path)
            except OSError:
                lost.add(path)
        return lost

    def _reused(self, path: str, later: list[tuple[str, str]] | None = None) -> IO[bytes] | None:
        while True:
            with self._lock:
                if not self._held:
                    return None
                old, handle = self._held.pop()
            if later is not None:
                later.append((old, path))
                return handle
            try:
                os.rename(old, path)
                return handle
            except OSError:  # its folder or this one went away
                self._put_away(old, handle)

    def _opened(self, path: str, folder: str) -> IO[bytes]:
        spares = self._spares_of(folder)
        while (spare := self._next(spares)) is not None:
            try:
                os.rename(spare, path)
                break
            except OSError:
                continue  # taken by another process, or the folder went away
        try:
            return open(path, "w+b")  # the caller closes it or keeps it
        except FileNotFoundError:  # the folder was removed since this process made it
            os.makedirs(folder, exist_ok=True)
            return open(path, "w+b")

    def _put_away(self, path: str, handle: IO[bytes]) -> None:
        """Close an empty log and keep its file as a spare."""
        handle.close()
        spares = self._spares_of(os.path.dirname(path))
        with self._lock:
            self._made += 1
            spare = f"{spares}/{os.getpid()}-{self._made}"
        try:
            try:
                os.rename(path, spare)
            except FileNotFoundError:
                if not os.path.exists(path):
                    return  # the file is gone (on AWS the artifact store drops an empty log)
                os.makedirs(spares, exist_ok=True)
                os.rename(path, spare)
        except OSError:
            return
        with self._lock:
            self._free.setdefault(spares, []).append(spare)

    def _spares_of(self, folder: str) -> str:
        """``.spare`` beside the log folder of an execution."""
        spares = self._folders.get(folder)
        if spares is None:
            spares = self._folders.setdefault(folder, os.path.join(os.path.dirname(folder), ".spare"))
        return spares

    def _next(self, folder: str) -> str | None:
        with self._lock:
            free = self._free.get(folder)
            if free is None:  # first look at this folder: adopt what earlier runs left
                try:
                    free = [f"{folder}/{name}" for name in os.listdir(folder)]
                except OSError:
                    free = []
                self._free[folder] = free
            return free.pop() if free else None


SPARE_LOGS = SpareLogs()


def rescue(handle: IO[bytes], path: str) -> None:
    """Write what a log whose rename failed holds to a new file at its path (a log that
    stayed empty needs none: a quiet stream leaves no file)."""
    if handle.seek(0, os.SEEK_END) == 0:
        return
    handle.seek(0)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as copy:
        shutil.copyfileobj(handle, copy)


def _tail(handle: IO[bytes]) -> tuple[str, int]:
    """The last ``TAIL_BYTES`` written to an open log (the child shared its offset), and the
    log's size."""
    size = handle.seek(0, os.SEEK_END)
    if size == 0:
        return "", 0
    handle.seek(max(0, size - TAIL_BYTES))
    return handle.read().decode("utf-8", errors="replace").rstrip("\n"), size


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


STEP_TYPE = StepType(
    name="shell", mode="process", prepare=prepare, run=run, watched=True, settle=SPARE_LOGS.settle, takes_output=True,
    start=start,
)  # fmt: skip
