"""A minimal agent program for the ``command`` provider: a tool-use loop over the Anthropic
Messages API (non-streaming JSON), with Baton's own workspace tools and the profile it is given.

``python -m baton.testing.messages_agent`` reads the provider's JSON request on stdin and prints
the JSON result on stdout (the protocol in :mod:`baton.steps.agent.command`). It calls
``$ANTHROPIC_BASE_URL/v1/messages``; it is the reference for writing such a program and what
the tests run against the scripted model server.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from baton.steps.agent.common import AgentRequest, Limits, Progress, full_prompt
from baton.steps.agent.profiles import profile
from baton.steps.agent.tools import Toolbox


def main() -> int:
    """Run one request from stdin; print the result; exit 0 (errors are in the result)."""
    given = json.load(sys.stdin)
    request = AgentRequest(
        prompt=given["prompt"],
        input_files=tuple(item["path"] for item in given.get("input_files") or []),
        model=given.get("model") or "claude-sonnet-4-5",
        profile=profile(given["profile"]["name"], given["profile"].get("allowed_commands") or []),
        workspace=Path(given["workspace"]),
        env=dict(os.environ),
        limits=Limits(max_tokens=(given.get("limits") or {}).get("max_tokens")),
    )
    progress = Progress(request, sys.stderr)
    try:
        text = _loop(request, progress)
    except _ServiceError as exc:
        result: dict[str, Any] = {"text": "", "error": {"message": str(exc), "retryable": exc.retryable}}
    else:
        result = {"text": text}
    result.update(
        turns=progress.turns,
        usage={"input_tokens": progress.input_tokens, "output_tokens": progress.output_tokens},
        model=request.model,
        denied=progress.denied,
    )
    print(json.dumps(result))
    return 0


def _loop(request: AgentRequest, progress: Progress) -> str:
    toolbox = Toolbox(request, progress)
    tools = [
        {"name": spec["toolSpec"]["name"], "description": spec["toolSpec"]["description"],
         "input_schema": spec["toolSpec"]["inputSchema"]["json"]}
        for spec in toolbox.converse_specs()
    ]  # fmt: skip
    messages: list[dict[str, Any]] = [{"role": "user", "content": full_prompt(request)}]
    while True:
        reply = _call(request, {"model": request.model, "max_tokens": request.limits.max_tokens or 8192,
                                "messages": messages, "tools": tools})  # fmt: skip
        usage = reply.get("usage") or {}
        progress.add_turn(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)))
        messages.append({"role": "assistant", "content": reply["content"]})
        uses = [block for block in reply["content"] if block.get("type") == "tool_use"]
        if reply.get("stop_reason") != "tool_use" or not uses:
            return "\n".join(b["text"] for b in reply["content"] if b.get("type") == "text")
        results = []
        for use in uses:
            output, ok = toolbox.call(use["name"], dict(use.get("input") or {}))
            results.append({"type": "tool_result", "tool_use_id": use["id"], "content": output, "is_error": not ok})
        messages.append({"role": "user", "content": results})


class _ServiceError(Exception):
    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def _call(request: AgentRequest, body: dict[str, Any]) -> dict[str, Any]:
    base = request.env.get("ANTHROPIC_BASE_URL", "https://api.anthropic.com").rstrip("/")
    headers = {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": request.env.get("ANTHROPIC_API_KEY", ""),
    }
    http = urllib.request.Request(f"{base}/v1/messages", json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(http, timeout=600) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data
    except urllib.error.HTTPError as exc:
        raise _ServiceError(
            f"messages API {exc.code}: {exc.read()[:300]!r}", exc.code == 429 or exc.code >= 500
        ) from exc
    except OSError as exc:
        raise _ServiceError(f"messages API: {exc}", True) from exc


if __name__ == "__main__":
    sys.exit(main())
