"""The ``claude_code`` provider: the ``claude`` CLI in headless mode (``-p``, ``stream-json``).

The profile becomes Claude Code's own controls: the tool set (``--tools``), permission rules
(``--allowedTools``/``--disallowedTools``, file edits scoped to ``./**``) and the permission
mode; user and project settings are not read (``--setting-sources ""``), so they cannot widen
it. Baton reads the event stream as it comes: it counts turns and tokens, stops the program at
``max_turns``, the budget or the timeout, and records every tool call Claude Code refused.
The CLI's own retries are off (``CLAUDE_CODE_MAX_RETRIES=0``) so the step's ``retry`` decides.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from typing import IO, Any

from baton.steps.agent.common import AgentLimitError, AgentRequest, ModelServiceError, Progress, full_prompt
from baton.steps.agent.pricing import cost_usd
from baton.steps.agent.profiles import Profile
from baton.steps.shell import kill_group

_REFUSAL_MARKERS = ("requested permissions", "requires approval", "haven't granted", "No such tool available", "denied")
_QUIET = {
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "CLAUDE_CODE_MAX_RETRIES": "0",
}


def profile_flags(profile: Profile) -> list[str]:
    """The command-line flags that make Claude Code enforce ``profile``."""
    tools = ["Read", "Glob", "Grep", "Edit", "Write"]
    allowed = ["Read", "Glob", "Grep", "Edit(./**)", "Write(./**)"]
    denied: list[str] = []
    if profile.any_command:
        tools.append("Bash")
        allowed.append("Bash")
    elif profile.allowed_commands:
        tools.append("Bash")
        allowed += [f"Bash({command}:*)" for command in profile.allowed_commands]
    if profile.network:
        tools += ["WebFetch", "WebSearch"]
        allowed += ["WebFetch", "WebSearch"]
    else:
        denied += ["WebFetch", "WebSearch"]
    flags = ["--tools", ",".join(tools), "--allowedTools", " ".join(allowed)]
    if denied:
        flags += ["--disallowedTools", " ".join(denied)]
    # acceptEdits also accepts writes outside the working directory, so only ``trusted`` gets it
    # (the check after the run still fails the step if one happened).
    flags += ["--permission-mode", "acceptEdits" if profile.any_command else "default"]
    return flags


def binary(env: dict[str, str] | Any) -> str:
    """The ``claude`` program: ``$BATON_CLAUDE_BIN``, else ``claude`` on the PATH."""
    configured = env.get("BATON_CLAUDE_BIN")
    if configured:
        return str(configured)
    found = shutil.which("claude", path=env.get("PATH") or os.defpath)
    if found is None:
        raise ModelServiceError(
            "the claude CLI is not installed: run 'make claude-code' (npm @anthropic-ai/claude-code) "
            "or set BATON_CLAUDE_BIN",
            retryable=False,
        )
    return found


def command_line(request: AgentRequest) -> list[str]:
    """The full argv of one run (the prompt goes on stdin)."""
    argv = [binary(request.env), "-p", "--output-format", "stream-json", "--verbose", "--no-session-persistence"]
    argv += ["--setting-sources", "", *profile_flags(request.profile)]
    limits = request.limits
    if limits.max_turns is not None:
        argv += ["--max-turns", str(limits.max_turns)]
    if limits.budget_usd is not None:
        argv += ["--max-budget-usd", str(limits.budget_usd)]
    if request.model:
        argv += ["--model", request.model]
    return argv


def run(request: AgentRequest, progress: Progress, stderr: IO[bytes]) -> str:
    """Run Claude Code once; returns its final answer."""
    argv = command_line(request)
    progress.note("command", argv=argv[1:])
    env = {**request.env, **_QUIET}
    if request.limits.max_tokens is not None:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(request.limits.max_tokens)
    try:
        process = subprocess.Popen(
            argv,
            cwd=request.workspace,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    except OSError as exc:
        raise ModelServiceError(f"cannot start {argv[0]!r}: {exc.strerror or exc}", retryable=False) from exc
    assert process.stdin is not None
    assert process.stdout is not None
    expired = threading.Event()
    timer = None
    if request.limits.timeout_seconds is not None:
        timer = threading.Timer(request.limits.timeout_seconds, _expire, (process.pid, expired))
        timer.daemon = True
        timer.start()
    try:
        process.stdin.write(full_prompt(request).encode("utf-8"))
        process.stdin.close()
        return _follow(process.stdout, request, progress, expired)
    except AgentLimitError:
        kill_group(process.pid)
        raise
    finally:
        if timer is not None:
            timer.cancel()
        process.stdout.close()
        process.wait()


def _expire(pid: int, expired: threading.Event) -> None:
    expired.set()
    kill_group(pid)


def _follow(stream: IO[bytes], request: AgentRequest, progress: Progress, expired: threading.Event) -> str:
    tools: dict[str, str] = {}
    seen: set[str] = set()
    for raw in stream:
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        kind = event.get("type")
        if kind == "assistant":
            _assistant(event["message"], tools, seen, progress)
        elif kind == "user":
            _tool_results(event["message"], tools, progress)
        elif kind == "result":
            return _result(event, request, progress)
    if expired.is_set():
        raise AgentLimitError(
            f"timed out after {request.limits.timeout_seconds:g}s (turn {progress.turns})", kind="timeout"
        )
    raise ModelServiceError("claude ended without a result event (see the step's stderr log)")


def _assistant(message: dict[str, Any], tools: dict[str, str], seen: set[str], progress: Progress) -> None:
    # stream-json sends one event per content block, all with the id of their message.
    if message.get("id") not in seen:
        seen.add(message.get("id", ""))
        progress.before_turn()
        usage = message.get("usage") or {}
        progress.add_turn(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)), message.get("model"))
    for block in message.get("content") or []:
        if block.get("type") == "tool_use":
            tools[block["id"]] = f"{block['name']} {json.dumps(block.get('input'))[:200]}"
            progress.note("tool", name=block["name"], input=block.get("input"))
        elif block.get("type") == "text":
            progress.note("assistant", text=block.get("text", ""))


def _tool_results(message: dict[str, Any], tools: dict[str, str], progress: Progress) -> None:
    content = message.get("content")
    for block in content if isinstance(content, list) else []:
        if block.get("type") != "tool_result" or not block.get("is_error"):
            continue
        text = json.dumps(block.get("content")) if not isinstance(block.get("content"), str) else block["content"]
        if any(marker in text for marker in _REFUSAL_MARKERS):
            progress.deny(f"{tools.get(block.get('tool_use_id', ''), 'tool')}: {text[:300]}")


def _result(event: dict[str, Any], request: AgentRequest, progress: Progress) -> str:
    usage = event.get("usage") or {}
    # The result carries the exact totals; the stream only had each message's opening counts.
    progress.input_tokens = int(usage.get("input_tokens", progress.input_tokens))
    progress.output_tokens = int(usage.get("output_tokens", progress.output_tokens))
    model = request.model or progress.model_seen or ""
    progress.cost_usd = cost_usd(model, progress.input_tokens, progress.output_tokens)
    progress.note(
        "result",
        subtype=event.get("subtype"),
        num_turns=event.get("num_turns"),
        cli_cost_usd=event.get("total_cost_usd"),
    )
    subtype = event.get("subtype")
    if subtype == "error_max_turns":
        raise AgentLimitError(f"max_turns: the agent did not finish within {request.limits.max_turns} turns")
    if subtype == "error_max_budget_usd":
        raise AgentLimitError(f"budget: Claude Code stopped at ${request.limits.budget_usd:g}")
    if event.get("is_error"):
        status = event.get("api_error_status")
        retryable = isinstance(status, int) and (status == 429 or status >= 500)
        raise ModelServiceError(f"claude: {event.get('result') or subtype} (status {status})", retryable=retryable)
    budget = request.limits.budget_usd
    if budget is not None and progress.cost_usd > budget:
        raise AgentLimitError(f"budget: spent ${progress.cost_usd:.4f} of ${budget:g}")
    return str(event.get("result") or "")
