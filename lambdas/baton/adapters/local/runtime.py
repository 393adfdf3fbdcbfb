"""Small local adapters: the system clock, a thread-pool dispatcher, ``{env: NAME}`` secrets
and a process supervisor that recognises a crashed ``baton`` and stops what it left running."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from baton.errors import SecretError


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """Current UTC time."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep``."""
        if seconds > 0:
            time.sleep(seconds)


class ThreadPoolDispatcher:
    """Runs tasks on a pool of daemon threads, started as needed up to ``max_workers``.

    Steps mostly wait on child processes, so threads are cheap; daemon threads never hold
    the process open after an interrupt. (``concurrent.futures`` would do, but costs
    start-up time for features not needed here.)
    """

    def __init__(self, max_workers: int = 32) -> None:
        self._max_workers = max_workers
        self._tasks: queue.SimpleQueue[tuple[str, Callable[[], Any]] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._pending = 0

    def submit(self, key: str, task: Callable[[], Any]) -> None:
        """Queue ``task``; start a thread if none is idle."""
        self._pending += 1
        self._tasks.put((key, task))
        with self._lock:
            if self._idle == 0 and self._threads < self._max_workers:
                self._threads += 1
                threading.Thread(target=self._work, name=f"baton-step-{self._threads}", daemon=True).start()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            item = self._tasks.get()
            with self._lock:
                self._idle -= 1
            if item is None:
                return
            key, task = item
            try:
                outcome = task()
            except BaseException as exc:  # handed back to the driver, which records it
                outcome = exc
            self._done.put((key, outcome))

    def collect(self, timeout: float | None) -> list[tuple[str, Any]]:
        """Finished results; waits up to ``timeout`` seconds for the first."""
        if self._pending == 0:
            return []
        try:
            results = [self._done.get(timeout=timeout)]
        except queue.Empty:
            return []
        with contextlib.suppress(queue.Empty):
            while True:
                results.append(self._done.get_nowait())
        self._pending -= len(results)
        return results

    def in_flight(self) -> int:
        """Tasks submitted and not yet collected."""
        return self._pending

    def shutdown(self) -> None:
        """Let idle threads end; running tasks finish on their own."""
        for _ in range(self._threads):
            self._tasks.put(None)


class EnvSecretResolver:
    """Resolves ``{env: NAME}`` from the environment; cloud sources are refused locally."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def resolve(self, name: str, source: Mapping[str, str]) -> str:
        """The secret's value."""
        if "env" in source:
            value = self._environ.get(source["env"])
            if value is None:
                raise SecretError(f"secret {name}: environment variable {source['env']} is not set")
            return value
        kind = next(iter(source), "?")
        raise SecretError(
            f"secret {name}: a local run reads secrets only from {{env: NAME}}, not from "
            f"{kind}; set it in the environment or run the workflow on AWS"
        )


class LocalProcessSupervisor:
    """Lease holders are ``host:pid:token``; a unit's processes are found by their
    environment (every step process carries ``BATON_EXECUTION_ID`` and ``BATON_STEP_KEY``),
    so running a step costs no bookkeeping and only a takeover or a cancel scans ``/proc``.
    """

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self.proc = proc
        self.host = os.uname().nodename
        self.owner = f"{self.host}:{os.getpid()}:{os.urandom(4).hex()}"

    def is_alive(self, owner: str) -> bool:
        """False when ``owner`` was a process on this machine that has exited."""
        host, _, rest = owner.partition(":")
        pid_text = rest.partition(":")[0]
        if host != self.host or not pid_text.isdigit():
            return True
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def reap(self, execution_id: str, step_key: str, *others: str) -> None:
        """SIGKILL the process groups of every process running the unit, or any of
        ``others`` (Linux; elsewhere there is no ``/proc`` to search and orphans are left to
        finish)."""
        execution = f"BATON_EXECUTION_ID={execution_id}".encode()
        units = {f"BATON_STEP_KEY={key}".encode() for key in (step_key, *others)}
        for pid in self._pids():
            try:
                environ = set((self.proc / str(pid) / "environ").read_bytes().split(b"\0"))
            except OSError:
                continue
            if execution in environ and not units.isdisjoint(environ):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(os.getpgid(pid), signal.SIGKILL)

    def _pids(self) -> list[int]:
        try:
            names = os.listdir(self.proc)
        except OSError:
            return []
        own = os.getpid()
        return [int(name) for name in names if name.isdigit() and int(name) != own]
