"""The ``command`` provider: any agent program, JSON in and JSON out.

Baton writes one JSON object to the program's stdin::

    {"prompt": "...", "input_files": [{"path": "calc.py", "sha256": "..."}],
     "model": "...", "profile": {"name": "restricted", "network": false, "any_command": false,
     "allowed_commands": [], "writes": "workspace"},
     "limits": {"max_turns": null, "max_tokens": null, "budget_usd": null, "timeout_seconds": null},
     "workspace": "/abs/path"}

and reads the last line of its stdout that is a JSON object::

    {"text": "final answer", "turns": 3, "usage": {"input_tokens": 1200, "output_tokens": 300},
     "model": "...", "denied": ["..."], "error": {"message": "...", "retryable": true}}

Only ``text`` is required. The program runs in the workspace; Baton itself finds the files it
changed and checks the limits on what it reports.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from typing import IO, Any

from baton.steps.agent.common import AgentLimitError, AgentRequest, ModelServiceError, Progress
from baton.steps.shell import kill_group


def run(request: AgentRequest, progress: Progress, stderr: IO[bytes]) -> str:
    """Run the program once; returns its ``text``."""
    if not request.command:
        raise ModelServiceError("provider command needs 'command: [program, args...]'", retryable=False)
    payload = json.dumps(_payload(request)).encode("utf-8")
    progress.note("command", argv=list(request.command))
    try:
        process = subprocess.Popen(
            list(request.command),
            cwd=request.workspace,
            env=dict(request.env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    except OSError as exc:
        raise ModelServiceError(f"cannot start {request.command[0]!r}: {exc.strerror or exc}", retryable=False) from exc
    try:
        out, _ = process.communicate(payload, timeout=request.limits.timeout_seconds)
    except subprocess.TimeoutExpired:
        kill_group(process.pid)
        process.communicate()
        raise AgentLimitError(f"timed out after {request.limits.timeout_seconds:g}s", kind="timeout") from None
    result = _result(out.decode("utf-8", errors="replace"), process.returncode)
    return _apply(result, request, progress)


def _payload(request: AgentRequest) -> dict[str, Any]:
    files = []
    for path in request.input_files:
        try:
            digest = hashlib.sha256((request.workspace / path).read_bytes()).hexdigest()
        except OSError:
            digest = None
        files.append({"path": path, "sha256": digest})
    limits = request.limits
    return {
        "prompt": request.prompt,
        "input_files": files,
        "model": request.model,
        "profile": request.profile.to_data(),
        "limits": {
            "max_turns": limits.max_turns,
            "max_tokens": limits.max_tokens,
            "budget_usd": limits.budget_usd,
            "timeout_seconds": limits.timeout_seconds,
        },
        "workspace": str(request.workspace.resolve()),
    }


def _result(stdout: str, code: int) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    raise ModelServiceError(
        f"the agent program exited with code {code} without a JSON result on stdout", retryable=code != 0
    )


def _apply(result: dict[str, Any], request: AgentRequest, progress: Progress) -> str:
    for what in result.get("denied") or []:
        progress.deny(str(what))
    usage = result.get("usage") or {}
    turns = max(1, int(result.get("turns") or 1))
    input_tokens, output_tokens = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    model = str(result.get("model") or request.model)
    # The program reports totals; counted turn by turn so max_turns and the budget apply.
    for turn in range(turns):
        progress.before_turn()
        last = turn == turns - 1
        progress.add_turn(
            input_tokens // turns + (input_tokens % turns if last else 0),
            output_tokens // turns + (output_tokens % turns if last else 0),
            model,
        )
    error = result.get("error")
    if isinstance(error, dict):
        raise ModelServiceError(str(error.get("message", "the agent failed")), retryable=bool(error.get("retryable")))
    if not isinstance(result.get("text"), str):
        raise ModelServiceError("the agent's JSON result has no 'text' string", retryable=False)
    return str(result["text"])
