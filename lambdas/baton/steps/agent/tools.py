"""Baton's own agent tools (the ``bedrock`` provider's): read, write, list and search files, run
an allowed command, fetch a URL. Each acts only inside the workspace and asks the profile first;
a refusal is returned to the model as an error result and recorded."""

from __future__ import annotations

import fnmatch
import shlex
import subprocess
import urllib.request
from collections.abc import Callable
from typing import Any

from baton.steps.agent.common import AgentRequest, Progress
from baton.steps.agent.workspace import SKIPPED_DIRECTORIES, inside

MAX_READ_BYTES = 256 * 1024
MAX_RESULT_CHARS = 32 * 1024
COMMAND_TIMEOUT_SECONDS = 300.0

_SPECS: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "read_file": ("Read a text file of the workspace.", {"path": {"type": "string"}}, ["path"]),
    "write_file": (
        "Create or replace a file of the workspace with the given content.",
        {"path": {"type": "string"}, "content": {"type": "string"}},
        ["path", "content"],
    ),
    "list_files": ("List files of the workspace matching a glob (default: all).", {"pattern": {"type": "string"}}, []),
    "search_files": (
        "Lines of workspace files containing a text.",
        {"pattern": {"type": "string"}, "glob": {"type": "string"}},
        ["pattern"],
    ),
    "run_command": (
        "Run one program with its arguments in the workspace (no shell); returns its exit code and output.",
        {"command": {"type": "string"}},
        ["command"],
    ),
    "fetch_url": ("Fetch an http(s) URL and return its body as text.", {"url": {"type": "string"}}, ["url"]),
}


class Toolbox:
    """The tools one run may use, given its profile."""

    def __init__(self, request: AgentRequest, progress: Progress) -> None:
        self.request = request
        self.progress = progress
        self.names = [name for name in _SPECS if name != "fetch_url" or request.profile.network]
        self._tools: dict[str, Callable[[dict[str, Any]], str]] = {
            "read_file": self._read,
            "write_file": self._write,
            "list_files": self._list,
            "search_files": self._search,
            "run_command": self._run,
            "fetch_url": self._fetch,
        }

    def converse_specs(self) -> list[dict[str, Any]]:
        """The tools in the Converse ``toolConfig`` form."""
        specs = []
        for name in self.names:
            description, properties, required = _SPECS[name]
            schema = {"type": "object", "properties": properties, "required": required}
            specs.append({"toolSpec": {"name": name, "description": description, "inputSchema": {"json": schema}}})
        return specs

    def call(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        """Run one tool; ``(result text, ok)``. Refusals come back as ``ok`` False."""
        if name not in self.names:
            return self._refuse(f"{name}: no such tool under the {self.request.profile.name} profile")
        try:
            return self._tools[name](arguments)[:MAX_RESULT_CHARS], True
        except _Refused as refusal:
            return self._refuse(str(refusal))
        except (OSError, ValueError, KeyError, subprocess.SubprocessError) as exc:
            return f"error: {exc}", False

    def _refuse(self, what: str) -> tuple[str, bool]:
        self.progress.deny(what)
        return f"refused: {what}", False

    def _path(self, arguments: dict[str, Any], tool: str) -> Any:
        relative = str(arguments["path"])
        path = inside(self.request.workspace, relative)
        if path is None:
            raise _Refused(f"{tool} {relative}: outside the workspace")
        return path

    def _read(self, arguments: dict[str, Any]) -> str:
        path = self._path(arguments, "read_file")
        with path.open("rb") as handle:
            return str(handle.read(MAX_READ_BYTES).decode("utf-8", errors="replace"))

    def _write(self, arguments: dict[str, Any]) -> str:
        path = self._path(arguments, "write_file")
        path.parent.mkdir(parents=True, exist_ok=True)
        content = str(arguments.get("content", ""))
        path.write_text(content, encoding="utf-8")
        return f"wrote {len(content.encode())} bytes to {arguments['path']}"

    def _walk(self) -> list[str]:
        root = self.request.workspace.resolve()
        found = []
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and not SKIPPED_DIRECTORIES.intersection(relative.parts):
                found.append(relative.as_posix())
        return found

    def _list(self, arguments: dict[str, Any]) -> str:
        pattern = str(arguments.get("pattern") or "*")
        return "\n".join(p for p in self._walk() if fnmatch.fnmatch(p, pattern)) or "(no files)"

    def _search(self, arguments: dict[str, Any]) -> str:
        needle, pattern = str(arguments["pattern"]), str(arguments.get("glob") or "*")
        hits = []
        for relative in self._walk():
            if not fnmatch.fnmatch(relative, pattern):
                continue
            text = (self.request.workspace / relative).read_text(encoding="utf-8", errors="replace")
            hits += [f"{relative}:{n}: {line}" for n, line in enumerate(text.splitlines(), 1) if needle in line]
        return "\n".join(hits[:500]) or "(no match)"

    def _run(self, arguments: dict[str, Any]) -> str:
        command = str(arguments["command"])
        refusal = self.request.profile.command_refusal(command)
        if refusal is not None:
            raise _Refused(f"run_command {command!r}: {refusal}")
        argv = ["bash", "-c", command] if self.request.profile.any_command else shlex.split(command)
        completed = subprocess.run(
            argv,
            cwd=self.request.workspace,
            env=dict(self.request.env),
            capture_output=True,
            text=True,
            timeout=min(COMMAND_TIMEOUT_SECONDS, self.progress.remaining_seconds() or COMMAND_TIMEOUT_SECONDS),
            check=False,
        )
        return f"exit code {completed.returncode}\n{completed.stdout[-8000:]}{completed.stderr[-4000:]}"

    def _fetch(self, arguments: dict[str, Any]) -> str:
        url = str(arguments["url"])
        if not url.startswith(("http://", "https://")):
            raise _Refused(f"fetch_url {url}: only http and https URLs")
        with urllib.request.urlopen(url, timeout=30) as response:
            return str(response.read(MAX_READ_BYTES).decode("utf-8", errors="replace"))


class _Refused(Exception):
    """A tool call the profile does not allow (never leaves this module)."""
