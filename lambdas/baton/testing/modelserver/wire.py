"""The two wire formats the model server speaks.

Anthropic Messages API (``POST /v1/messages``): a JSON message, or with ``"stream": true``
server-sent events ``message_start``, ``content_block_start``/``_delta``/``_stop`` (text as
``text_delta``, tool input as ``input_json_delta``), ``message_delta`` (stop reason, output
tokens) and ``message_stop``. Errors are ``{"type": "error", "error": {"type": ..., "message": ...}}``.

Bedrock Runtime Converse (``POST /model/{modelId}/converse``, rest-json): ``output.message``
with ``text``/``toolUse`` blocks, ``stopReason``, ``usage`` and ``metrics``. Errors carry their
code in the ``x-amzn-ErrorType`` header, as botocore reads it.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from baton.testing.modelserver.script import Turn
from baton.testing.modelserver.tools import translate, working_directory

_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Request:
    """What the server needs to know of one model request, whatever its format."""

    assistant_turns: int
    offered_tools: tuple[str, ...]
    max_tokens: int | None
    stream: bool
    model: str
    cwd: str | None


@dataclass(frozen=True, slots=True)
class Answer:
    """A turn made concrete for one request: blocks, stop reason and token counts."""

    blocks: list[dict[str, Any]]
    """``{"type": "text", "text": ...}`` or ``{"type": "tool_use", "id", "name", "input"}``."""
    stop_reason: str
    input_tokens: int
    output_tokens: int


def answer(turn: Turn | None, request: Request) -> Answer:
    """The blocks the scripted model sends for ``turn`` (None: a conversation already ended)."""
    if turn is None:
        return Answer([{"type": "text", "text": "(the script has no more turns)"}], "end_turn", 10, 5)
    blocks: list[dict[str, Any]] = []
    if turn.text:
        blocks.append({"type": "text", "text": turn.text})
    tools = turn.tools if request.offered_tools else ()  # a side request (titles, quotas) gets text
    for call in tools:
        name, tool_input = translate(call, request.offered_tools, request.cwd)
        blocks.append({"type": "tool_use", "id": f"toolu_{next(_ids):06d}", "name": name, "input": tool_input})
    if not blocks:
        blocks.append({"type": "text", "text": "ok"})
    stop = "tool_use" if tools else "end_turn"
    output_tokens = turn.output_tokens
    if request.max_tokens is not None and output_tokens > request.max_tokens:
        output_tokens, stop = request.max_tokens, "max_tokens"
        blocks = [block for block in blocks if block["type"] == "text"] or [{"type": "text", "text": "…"}]
    return Answer(blocks, stop, turn.input_tokens, output_tokens)


# -- Anthropic Messages ----------------------------------------------------------------------


def messages_request(body: dict[str, Any]) -> Request:
    """A Messages API request body."""
    messages = body.get("messages") or []
    system = body.get("system") or ""
    if isinstance(system, list):
        system = "\n".join(str(block.get("text", "")) for block in system if isinstance(block, dict))
    # Claude Code also states the directory in the first user message's reminders.
    texts = [str(system)] + [json.dumps(m.get("content")) for m in messages[:1]]
    return Request(
        assistant_turns=sum(1 for m in messages if m.get("role") == "assistant"),
        offered_tools=tuple(str(t.get("name")) for t in body.get("tools") or [] if isinstance(t, dict)),
        max_tokens=body.get("max_tokens"),
        stream=bool(body.get("stream")),
        model=str(body.get("model", "")),
        cwd=next((cwd for cwd in map(working_directory, texts) if cwd), None),
    )


def messages_json(reply: Answer, model: str) -> dict[str, Any]:
    """The non-streaming Messages API response."""
    return {
        "id": f"msg_{next(_ids):06d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": reply.blocks,
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": _anthropic_usage(reply.input_tokens, reply.output_tokens),
    }


def messages_events(reply: Answer, model: str) -> list[tuple[str, dict[str, Any]]]:
    """The streaming Messages API response as ``(event, data)`` pairs."""
    start = messages_json(reply, model)
    start.update(content=[], stop_reason=None, usage=_anthropic_usage(reply.input_tokens, 1))
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    events.append(("ping", {"type": "ping"}))
    for index, block in enumerate(reply.blocks):
        if block["type"] == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening})
        )
        events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": reply.output_tokens},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def messages_error(status: int, message: str) -> dict[str, Any]:
    """A Messages API error body."""
    kinds = {429: "rate_limit_error", 529: "overloaded_error", 400: "invalid_request_error", 404: "not_found_error"}
    return {"type": "error", "error": {"type": kinds.get(status, "api_error"), "message": message}}


def _anthropic_usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


# -- Bedrock Converse ------------------------------------------------------------------------


def converse_request(body: dict[str, Any], model_id: str) -> Request:
    """A Converse request body (the model id comes from the path)."""
    messages = body.get("messages") or []
    tools = (body.get("toolConfig") or {}).get("tools") or []
    inference = body.get("inferenceConfig") or {}
    return Request(
        assistant_turns=sum(1 for m in messages if m.get("role") == "assistant"),
        offered_tools=tuple(str(t["toolSpec"]["name"]) for t in tools if isinstance(t, dict) and "toolSpec" in t),
        max_tokens=inference.get("maxTokens"),
        stream=False,
        model=model_id,
        cwd=None,
    )


def converse_json(reply: Answer) -> dict[str, Any]:
    """The Converse response."""
    content: list[dict[str, Any]] = []
    for block in reply.blocks:
        if block["type"] == "text":
            content.append({"text": block["text"]})
        else:
            content.append({"toolUse": {"toolUseId": block["id"], "name": block["name"], "input": block["input"]}})
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": reply.stop_reason,
        "usage": {
            "inputTokens": reply.input_tokens,
            "outputTokens": reply.output_tokens,
            "totalTokens": reply.input_tokens + reply.output_tokens,
        },
        "metrics": {"latencyMs": 1},
    }


def converse_error(status: int) -> tuple[str, dict[str, str]]:
    """The error code (``x-amzn-ErrorType``) and body of a Converse error."""
    codes = {
        429: "ThrottlingException",
        500: "InternalServerException",
        503: "ServiceUnavailableException",
        400: "ValidationException",
        403: "AccessDeniedException",
        404: "ResourceNotFoundException",
    }
    code = codes.get(status, "InternalServerException")
    return code, {"message": f"scripted {code}"}
