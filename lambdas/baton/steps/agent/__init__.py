"""``agent`` (alias ``claude_code``): an LLM agent working on the workspace, through a provider.

``prepare`` renders the prompt and input paths and takes the SHA-256 of every input file, so
the cache key covers the prompt, provider, model, profile and the inputs' contents. ``run``
snapshots the workspace, runs the provider (``claude_code``, ``bedrock`` or ``command``),
then lists the files that changed (stored as artifacts, restored on a cache hit) and fails
the step if anything beside the workspace changed. Outputs: ``text``, ``files_changed``,
``turns``, ``usage``, ``cost_usd``, ``denied`` (actions the profile refused), ``provider``
and ``model``.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from baton.errors import StepFailedError
from baton.steps.agent.common import AgentRequest, Limits, Progress, SecurityViolationError
from baton.steps.agent.profiles import profile
from baton.steps.agent.workspace import SKIPPED_DIRECTORIES, Snapshot
from baton.steps.base import Invocation, StepResult, StepType

if TYPE_CHECKING:
    from baton.engine.expressions import Expressions
    from baton.engine.masking import Masker

PROVIDERS = ("claude_code", "bedrock", "command")
DEFAULT_PROVIDER = "bedrock"
PROVIDER_VARIABLE = "BATON_AGENT_PROVIDER"
COMMAND_VARIABLE = "BATON_AGENT_COMMAND"


def prepare(fields: dict[str, Any], context: dict[str, Any], expressions: Expressions) -> dict[str, Any]:
    """Render the prompt, inputs and command; digest the input files (the cache key covers them)."""
    workspace = expressions.workspace
    provider = fields.get("provider") or os.environ.get(PROVIDER_VARIABLE) or DEFAULT_PROVIDER
    if provider not in PROVIDERS:
        raise StepFailedError(f"provider: expected one of {', '.join(PROVIDERS)}, got {provider!r}", retryable=False)
    inputs = [_relative(expressions.render(str(path), context), workspace) for path in fields.get("inputs") or []]
    budget = fields.get("budget")
    return {
        "provider": provider,
        "model": fields.get("model") or _default_model(provider),
        "prompt": expressions.render(str(fields["prompt"]), context),
        "inputs": inputs,
        "input_digests": {path: _digest(workspace / path) for path in inputs},
        "command": _command(provider, fields, context, expressions),
        "security_profile": fields.get("security_profile") or "restricted",
        "allowed_commands": list(fields.get("allowed_commands") or []),
        "max_turns": fields.get("max_turns"),
        "max_tokens": fields.get("max_tokens"),
        "budget_usd": budget.get("usd") if isinstance(budget, dict) else budget,
    }


def run(prepared: dict[str, Any], invocation: Invocation) -> StepResult:
    """One agent run, its changed files, and the check that nothing outside the workspace changed."""
    request = _request(prepared, invocation)
    skip = _state_directory(invocation)
    before = Snapshot.take(invocation.workspace, skip)
    invocation.stdout_path.parent.mkdir(parents=True, exist_ok=True)
    text, failure = "", None
    with invocation.stdout_path.open("w", encoding="utf-8") as raw_log, invocation.stderr_path.open("wb") as stderr:
        progress = Progress(request, _MaskedLog(raw_log, invocation.masker))
        progress.note("start", provider=prepared["provider"], model=request.model, profile=request.profile.to_data())
        try:
            text = _provider_run(prepared["provider"], request, progress, stderr)
        except StepFailedError as exc:
            failure = exc
            progress.note("stopped", error=str(exc))
        after = Snapshot.take(invocation.workspace, skip)
        changed, outside = before.changed_files(after), before.changed_outside(after)
        progress.note("files", changed=changed, outside=outside)
    outputs = {
        "text": text,
        "files_changed": changed,
        **progress.outputs(),
        "provider": prepared["provider"],
        "model": request.model or progress.model_seen or "",
    }
    if outside:
        violation = SecurityViolationError(f"the agent changed files outside the workspace: {', '.join(outside)}")
        return StepResult(outputs, str(violation), retryable=False)
    if failure is not None:
        return StepResult(outputs, str(failure), kind=failure.kind, retryable=failure.retryable)
    return StepResult(outputs, files=tuple(changed))


def _provider_run(name: str, request: AgentRequest, progress: Progress, stderr: IO[bytes]) -> str:
    # Providers are imported on first use: boto3 only for bedrock.
    if name == "bedrock":
        from baton.steps.agent import bedrock

        return bedrock.run(request, progress)
    if name == "claude_code":
        from baton.steps.agent import claude_code

        return claude_code.run(request, progress, stderr)
    from baton.steps.agent import command

    return command.run(request, progress, stderr)


def _request(prepared: dict[str, Any], invocation: Invocation) -> AgentRequest:
    return AgentRequest(
        prompt=prepared["prompt"],
        input_files=tuple(prepared["inputs"]),
        model=prepared["model"],
        profile=profile(prepared["security_profile"], prepared["allowed_commands"]),
        workspace=invocation.workspace,
        env=invocation.env,
        limits=Limits(
            max_turns=prepared.get("max_turns"),
            max_tokens=prepared.get("max_tokens"),
            budget_usd=prepared.get("budget_usd"),
            timeout_seconds=invocation.timeout_seconds,
        ),
        command=tuple(prepared.get("command") or ()),
        cancelled=invocation.cancelled or threading.Event(),
    )


def _command(provider: str, fields: dict[str, Any], context: dict[str, Any], expressions: Expressions) -> list[str]:
    """The agent program of ``provider: command``: the step's ``command``, else ``$BATON_AGENT_COMMAND``."""
    if provider != "command":
        return []
    if fields.get("command"):
        return [expressions.render(str(arg), context) for arg in fields["command"]]
    return shlex.split(os.environ.get(COMMAND_VARIABLE, ""))


def _default_model(provider: str) -> str:
    if provider == "bedrock":
        from baton.steps.agent.bedrock import DEFAULT_MODEL

        return DEFAULT_MODEL
    return ""  # claude_code: the CLI's default; command: the program's


def _relative(path: str, workspace: Path) -> str:
    """An input path relative to the workspace, so the cache key does not depend on where it is."""
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            return candidate.resolve().relative_to(workspace.resolve()).as_posix()
        except ValueError:
            return path
    return candidate.as_posix()


def _digest(path: Path) -> str:
    """SHA-256 of a file, or of a directory's files by relative path. Tooling directories
    (bytecode, tool caches) are left out: running the tests before the agent must not change
    the key, and bytecode holds absolute paths, so a copy of the project elsewhere would miss."""
    if path.is_dir():
        digest = hashlib.sha256()
        children = (p for p in path.rglob("*") if not SKIPPED_DIRECTORIES.intersection(p.relative_to(path).parts))
        for child in sorted(p for p in children if p.is_file()):
            digest.update(child.relative_to(path).as_posix().encode() + b"\0" + _digest(child).encode())
        return digest.hexdigest()
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def _state_directory(invocation: Invocation) -> frozenset[str]:
    """The top directory of the step logs when they live inside the workspace (never "changed")."""
    try:
        relative = invocation.stdout_path.resolve().relative_to(invocation.workspace.resolve())
    except ValueError:
        return frozenset()
    return frozenset({relative.parts[0]}) if relative.parts else frozenset()


class _MaskedLog:
    """A text log that masks secrets in everything written to it."""

    def __init__(self, sink: IO[str], masker: Masker) -> None:
        self._sink, self._masker = sink, masker

    def write(self, text: str) -> int:
        return self._sink.write(self._masker.text(text))

    def flush(self) -> None:
        self._sink.flush()


STEP_TYPE = StepType(name="agent", mode="process", prepare=prepare, run=run)
