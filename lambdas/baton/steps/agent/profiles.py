"""Security profiles: what an agent may do, as data each provider maps to what it can enforce.

``restricted`` (the default): files written only inside the workspace, no network tools,
commands only from the step's allow-list. ``standard`` adds the network tools. ``trusted``
also lets the agent run any command. Which of these each provider can guarantee is in
docs/agents.md.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

PROFILE_NAMES = ("restricted", "standard", "trusted")

_SHELL_SYNTAX = set(";|&$`<>(){}\n\\*?~")


@dataclass(frozen=True, slots=True)
class Profile:
    """One profile with the step's allow-list."""

    name: str
    network: bool
    any_command: bool
    allowed_commands: tuple[str, ...] = ()

    def to_data(self) -> dict[str, object]:
        """As JSON data (what the ``command`` provider receives)."""
        return {
            "name": self.name,
            "network": self.network,
            "any_command": self.any_command,
            "allowed_commands": list(self.allowed_commands),
            "writes": "workspace",
        }

    def command_refusal(self, command: str) -> str | None:
        """Why ``command`` may not run under this profile, or None when it may."""
        if self.any_command:
            return None
        if any(char in _SHELL_SYNTAX for char in command):
            return "shell syntax is not allowed under this profile; run one program with its arguments"
        try:
            words = shlex.split(command)
        except ValueError as exc:
            return f"cannot parse the command: {exc}"
        if not words:
            return "empty command"
        program = words[0].rsplit("/", 1)[-1]
        if program not in self.allowed_commands:
            allowed = ", ".join(self.allowed_commands) or "none"
            return f"'{program}' is not on the allow-list of the {self.name} profile (allowed: {allowed})"
        return None


def profile(name: str, allowed_commands: list[str] | tuple[str, ...] = ()) -> Profile:
    """The profile called ``name`` with the step's allow-list."""
    allowed = tuple(allowed_commands)
    if name == "trusted":
        return Profile(name, network=True, any_command=True, allowed_commands=allowed)
    if name == "standard":
        return Profile(name, network=True, any_command=False, allowed_commands=allowed)
    return Profile("restricted", network=False, any_command=False, allowed_commands=allowed)
