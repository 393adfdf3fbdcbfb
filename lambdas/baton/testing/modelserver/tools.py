"""Neutral scripted tool calls translated to the tools a client offered.

Claude Code offers ``Read``/``Write``/``Edit``/``Glob``/``Grep``/``Bash``/``WebFetch`` and wants
absolute file paths (its system prompt names the working directory); Baton's ``bedrock``
provider offers ``read_file``/``write_file``/``list_files``/``search_files``/``run_command``/
``fetch_url`` with workspace-relative paths.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection
from typing import Any

from baton.testing.modelserver.script import ToolCall

_CLAUDE_CODE = {
    "read": "Read",
    "write": "Write",
    "edit": "Edit",
    "list": "Glob",
    "search": "Grep",
    "run": "Bash",
    "fetch": "WebFetch",
}
_BATON = {
    "read": "read_file",
    "write": "write_file",
    "list": "list_files",
    "search": "search_files",
    "run": "run_command",
    "fetch": "fetch_url",
}
_WORKING_DIRECTORY = re.compile(r"(?:Primary working directory|Working directory): (\S+)")


def working_directory(system_text: str) -> str | None:
    """The working directory Claude Code states in its system prompt, if any."""
    match = _WORKING_DIRECTORY.search(system_text)
    return match.group(1) if match else None


def translate(call: ToolCall, offered: Collection[str], cwd: str | None) -> tuple[str, dict[str, Any]]:
    """The tool name and input to send for ``call`` to a client that offered ``offered``."""
    if call.name in offered or call.name not in _BATON:
        return call.name, dict(call.input)
    claude_style = "Write" in offered or "Read" in offered or "Bash" in offered
    if claude_style:
        return _CLAUDE_CODE[call.name], _claude_input(call, cwd or "")
    return _BATON[call.name], dict(call.input)


def _claude_input(call: ToolCall, cwd: str) -> dict[str, Any]:
    given = dict(call.input)
    path = given.pop("path", None)
    if call.name in ("read", "write", "edit"):
        if path is not None:
            given["file_path"] = _absolute(str(path), cwd)
        if call.name == "edit":
            given.setdefault("old_string", given.pop("old", ""))
            given.setdefault("new_string", given.pop("new", ""))
        return given
    if call.name in ("list", "search"):
        given.setdefault("pattern", "**/*" if call.name == "list" else "")
        if path is not None:
            given["path"] = _absolute(str(path), cwd)
        return given
    if call.name == "fetch":
        given.setdefault("prompt", "Return the page.")
    return given


def _absolute(path: str, cwd: str) -> str:
    return path if path.startswith("/") else posixpath.normpath(posixpath.join(cwd or "/", path))
