"""A scripted conversation: what the model server answers, turn by turn.

A script is a reviewable YAML (or JSON) file::

    usage: {input_tokens: 1000, output_tokens: 200}   # per turn, unless a turn says otherwise
    turns:
      - text: "Reading the module first."
        tools:
          - {name: read, input: {path: calc.py}}
      - tools:
          - {name: write, input: {path: tests/test_more.py, content: "def test_x(): ..."}}
      - text: "Added two tests."                      # no tools: the conversation ends here
    repeat_last: false                                 # true: the last turn forever (an agent that never ends)
    faults:
      - {request: 1, status: 429}                      # the first request is throttled

The turn a request gets is the number of assistant messages already in its conversation, so a
retried request gets the same turn again. Tool names are neutral (``read``, ``write``, ``edit``,
``list``, ``search``, ``run``, ``fetch``) and are translated to the tools the client offered
(Claude Code's ``Write``, Baton's ``write_file``); a name the client did not offer is sent as is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from baton.errors import BatonError


class ScriptError(BatonError):
    """A script file that cannot be played."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool the scripted model asks for."""

    name: str
    input: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Turn:
    """One model answer: optional text, then tool calls (none ends the conversation)."""

    text: str = ""
    tools: tuple[ToolCall, ...] = ()
    input_tokens: int = 100
    output_tokens: int = 50
    delay_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Fault:
    """An error answer instead of a turn, for the ``request``-th request (1-based)."""

    request: int
    status: int
    message: str = "scripted fault"


@dataclass(frozen=True, slots=True)
class Script:
    """The whole conversation."""

    turns: tuple[Turn, ...]
    faults: tuple[Fault, ...] = ()
    repeat_last: bool = False
    model: str = "scripted-model"
    extra: dict[str, Any] = field(default_factory=dict)

    def turn(self, index: int) -> Turn | None:
        """The turn for a conversation with ``index`` assistant messages so far (None: ended)."""
        if index < len(self.turns):
            return self.turns[index]
        if self.repeat_last and self.turns:
            return self.turns[-1]
        return None

    def fault(self, request_number: int) -> Fault | None:
        """The fault scripted for the ``request_number``-th request, if any."""
        return next((f for f in self.faults if f.request == request_number), None)


def load_script(source: Path | str | dict[str, Any]) -> Script:
    """A script from a file path (a ``Path``, or a string ending ``.yaml``/``.yml``/``.json``),
    YAML/JSON text, or an already parsed mapping."""
    data: Any = source
    if isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml", ".json")):
        source = Path(source)  # a file name, not YAML text
    if isinstance(source, Path):
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    elif isinstance(source, str):
        data = yaml.safe_load(source)
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        raise ScriptError("a model script is a mapping with a 'turns' list")
    usage = data.get("usage") or {}
    turns = tuple(_turn(i, raw, usage) for i, raw in enumerate(data["turns"]))
    faults = tuple(
        Fault(int(raw["request"]), int(raw["status"]), str(raw.get("message", "scripted fault")))
        for raw in data.get("faults") or []
    )
    known = {"turns", "faults", "repeat_last", "usage", "model"}
    extra = {k: v for k, v in data.items() if k not in known}
    return Script(turns, faults, bool(data.get("repeat_last", False)), str(data.get("model", "scripted-model")), extra)


def _turn(index: int, raw: Any, usage: dict[str, Any]) -> Turn:
    if not isinstance(raw, dict):
        raise ScriptError(f"turns[{index}]: expected a mapping with 'text' and/or 'tools'")
    tools = []
    for number, call in enumerate(raw.get("tools") or []):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ScriptError(f"turns[{index}].tools[{number}]: expected {{name: ..., input: {{...}}}}")
        tools.append(ToolCall(call["name"], dict(call.get("input") or {})))
    turn_usage = {**usage, **(raw.get("usage") or {})}
    return Turn(
        text=str(raw.get("text", "")),
        tools=tuple(tools),
        input_tokens=int(turn_usage.get("input_tokens", 100)),
        output_tokens=int(turn_usage.get("output_tokens", 50)),
        delay_seconds=float(raw.get("delay_seconds", 0.0)),
    )


def dump_script(script: dict[str, Any]) -> str:
    """A script mapping as JSON text (what ``--script`` accepts as well as YAML)."""
    return json.dumps(script, indent=2)
