"""LocalStack on the host for the e2e tests: started on loopback, stopped with nothing left behind.

LocalStack and every Lambda sandbox it starts (a ``shim.py`` process per warm function) share
one process group, which ``stop`` ends. The test process also becomes a child subreaper,
so a process that escaped the group (a step's own session, say) is re-parented to it and
found by ``leftovers`` instead of vanishing under init.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

READY_MARKER = "Ready."
_PR_SET_CHILD_SUBREAPER = 36
_TCP_LISTEN = "0A"


def free_loopback_port() -> int:
    """A TCP port nothing listens on at the moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def become_subreaper() -> None:
    """Orphans of our descendants become our children (Linux only; a no-op elsewhere)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        return


@dataclass
class LocalStackHost:
    """One LocalStack runtime: its interpreter, the Lambda interpreter, a work folder and a port."""

    python: str
    lambda_python: str
    home: Path
    port: int = field(default_factory=free_loopback_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """Where every AWS client of the tests connects."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """LocalStack's own output (Lambda sandboxes' output goes to CloudWatch Logs)."""
        return self.home / "localstack.log"

    def environment(self) -> dict[str, str]:
        """LocalStack's settings: host mode, loopback only, local Lambda executor, moto DynamoDB."""
        data = self.home / "data"
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            # Without it LocalStack assumes a container and writes to /var/lib, /etc, /usr/lib.
            "OVERRIDE_IN_DOCKER": "0",
            "FILESYSTEM_ROOT": str(data / "fs"),
            "TMPDIR": str(data / "tmp"),
            "GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
            "DNS_ADDRESS": "0",  # no DNS server (it would bind port 53 on every address)
            "LAMBDA_RUNTIME_EXECUTOR": "local",
            "LOCAL_LAMBDA_PYTHON_python3_12": self.lambda_python,
            "PROVIDER_OVERRIDE_DYNAMODB": "moto",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DISABLE_EVENTS": "1",  # no analytics calls home
            "DEBUG": os.environ.get("BATON_E2E_LOCALSTACK_DEBUG", "0"),
        }

    def start(self, timeout_seconds: float = 120) -> None:
        """Start LocalStack and wait until it says it is ready."""
        (self.home / "data" / "tmp").mkdir(parents=True, exist_ok=True)
        become_subreaper()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [self.python, "-m", "localstack.runtime.main"],
                cwd=self.home,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends it and its sandboxes
            )
        self._wait_ready(timeout_seconds)

    def _wait_ready(self, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"LocalStack exited with {self.process.returncode}:\n{self.log_tail()}")
            if READY_MARKER in self.log_path.read_text(errors="replace") and self._healthy():
                return
            time.sleep(0.5)
        raise TimeoutError(f"LocalStack was not ready after {timeout_seconds}s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_localstack/health", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def log_tail(self, lines: int = 40) -> str:
        """The end of LocalStack's output, for error messages."""
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def group_pids(self) -> list[int]:
        """LocalStack's process and every process still in its group."""
        if self.process is None:
            return []
        return [pid for pid in _all_pids() if _pgid(pid) == self.process.pid]

    def listening_sockets(self) -> set[tuple[str, int]]:
        """(address, port) of every TCP socket LocalStack's process group listens on."""
        inodes = {inode for pid in self.group_pids() for inode in _socket_inodes(pid)}
        return {address for inode, address in _tcp_listeners().items() if inode in inodes}

    def stop(self, grace_seconds: float = 5) -> None:
        """End the process group: SIGTERM, then SIGKILL (LocalStack never finishes a SIGTERM)."""
        if self.process is None or (self.process.poll() is not None and not self.group_pids()):
            return
        group = self.process.pid
        _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline and self.group_pids():
            time.sleep(0.2)
        _signal_group(group, signal.SIGKILL)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.group_pids():
            time.sleep(0.2)


def leftovers(parent: int | None = None) -> list[int]:
    """Our living descendants: after ``stop`` there must be none."""
    parent = os.getpid() if parent is None else parent
    children = [pid for pid in _all_pids() if _ppid(pid) == parent]
    return [pid for child in children for pid in (child, *leftovers(child)) if not _is_zombie(pid)]


def reap(pids: list[int]) -> None:
    """Kill processes that outlived LocalStack (they are ours: they descend from this test run)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            continue


def _signal_group(group: int, signum: signal.Signals) -> None:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _stat_fields(pid: int) -> list[str]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    # The command name is in parentheses and may hold spaces: split after it.
    return text[text.rindex(")") + 2 :].split()


def _ppid(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else -1


def _pgid(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[2]) if fields else -1


def _is_zombie(pid: int) -> bool:
    fields = _stat_fields(pid)
    return not fields or fields[0] == "Z"


def _socket_inodes(pid: int) -> set[str]:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return set()  # the process ended
    links = []
    for fd in fds:
        # A busy process closes descriptors while they are listed: skip those, not the rest.
        with contextlib.suppress(OSError):
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return {link[len("socket:[") : -1] for link in links if link.startswith("socket:[")}


def _tcp_listeners() -> dict[str, tuple[str, int]]:
    """Inode -> (address, port) of every listening TCP socket on the host."""
    found = {}
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _TCP_LISTEN:
                address, port = local.split(":")
                found[inode] = (_address(address, width), int(port, 16))
    return found


def _address(hex_address: str, width: int) -> str:
    if width == 8:  # IPv4, little-endian
        return socket.inet_ntop(socket.AF_INET, bytes.fromhex(hex_address)[::-1])
    words = [bytes.fromhex(hex_address[i : i + 8])[::-1] for i in range(0, 32, 8)]
    return socket.inet_ntop(socket.AF_INET6, b"".join(words))
