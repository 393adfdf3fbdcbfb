"""One attempt of one unit, as a worker runs it: the step type, its declared output files,
large outputs moved to the artifact store, secrets masked, and the cache entry written.

Nothing here touches the state store: the driver records the outcome, conditionally on the
fence it claimed with.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from baton.errors import BatonError, StepFailedError
from baton.ports import ArtifactRef, ArtifactStore, CacheEntry, Clock
from baton.steps.base import Invocation, StepResult, StepType
from baton.workspace_paths import OutsideWorkspaceError, inside_workspace, relative_to_workspace

CHANGED_FILE_PREFIX = "changed:"
"""Artifact names of the files a step changed (``changed:tests/test_calc.py``)."""
LARGE_OUTPUT_BYTES = 64 * 1024
"""An output value whose JSON is larger than this is stored as an artifact, referenced."""


@dataclass(frozen=True, slots=True)
class AttemptPlan:
    """What the driver decided before handing the attempt to a worker."""

    step_type: StepType
    prepared: dict[str, Any]
    invocation: Invocation
    output_paths: dict[str, str] = field(default_factory=dict)
    cache_key: str | None = None
    cache_ttl_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """The result of one attempt, ready to be recorded."""

    result: StepResult
    artifacts: dict[str, Any] = field(default_factory=dict)


def run_attempt(plan: AttemptPlan, artifacts: ArtifactStore, clock: Clock) -> AttemptOutcome:
    """Run the attempt and store what it produced; never raises for a step's own failure."""
    invocation = plan.invocation
    outside = _outside_workspace(plan.output_paths, invocation.workspace)
    # Checked before the step runs too, so a step declaring '../x' never starts.
    result = StepResult.failure(outside, retryable=False) if outside else _run_type(plan)
    stored: dict[str, Any] = {}
    outputs = dict(result.outputs)
    if result.ok and plan.output_paths:
        try:
            stored = _store_declared_files(plan.output_paths, invocation.workspace, artifacts)
        except StepFailedError as exc:
            result = StepResult(outputs, str(exc), retryable=exc.retryable)
        outputs.update({name: str(invocation.workspace / info["path"]) for name, info in stored.items()})
    if result.ok and result.files:
        # Files a step reports as changed (an agent's edits) are kept and restored like declared ones.
        changed = {f"{CHANGED_FILE_PREFIX}{path}": path for path in result.files}
        try:
            stored.update(_store_declared_files(changed, invocation.workspace, artifacts))
        except StepFailedError as exc:
            result = StepResult(outputs, str(exc), retryable=exc.retryable)
    outputs = offload_large_values(invocation.masker.data(outputs), artifacts)
    error = invocation.masker.text(result.error) if result.error else None
    result = StepResult(outputs, error, result.kind, result.retryable, result.stop)
    if plan.step_type.mode == "process":  # only processes write logs and $BATON_OUTPUT
        for stream in ("stdout", "stderr"):
            artifacts.publish_log(invocation.execution_id, invocation.step_key, invocation.attempt, stream)
        taken = plan.step_type.takes_output
        if not taken and os.access(invocation.output_path, os.F_OK, follow_symlinks=False):
            invocation.output_path.unlink(missing_ok=True)
    if result.ok and plan.cache_key is not None:
        now = clock.now()
        ttl = plan.cache_ttl_seconds
        expires = now + timedelta(seconds=ttl) if ttl is not None else None
        artifacts.put_cached(plan.cache_key, CacheEntry(result.outputs, stored, now, expires))
    return AttemptOutcome(result, stored)


def outputs_in_workspace(outputs: dict[str, Any], files: dict[str, Any], workspace: Path) -> dict[str, Any]:
    """A cache entry's outputs with each declared file's path in ``workspace`` (the entry may
    come from a run in another directory)."""
    moved = {name: str(workspace / info["path"]) for name, info in files.items() if name in outputs}
    return {**outputs, **moved}


def _run_type(plan: AttemptPlan) -> StepResult:
    if plan.step_type.run is None:  # pragma: no cover - registry guarantees a runner
        return StepResult.failure(f"step type {plan.step_type.name} has no runner", retryable=False)
    try:
        return plan.step_type.run(plan.prepared, plan.invocation)
    except StepFailedError as exc:
        return StepResult.failure(str(exc), kind=exc.kind, retryable=exc.retryable)
    except BatonError as exc:
        return StepResult.failure(str(exc), retryable=False)


def _outside_workspace(paths: dict[str, str], workspace: Path) -> str | None:
    try:
        for name, path in paths.items():
            inside_workspace(workspace, path, f"declared output {name!r}")
    except OutsideWorkspaceError as exc:
        return str(exc)
    return None


def _store_declared_files(paths: dict[str, str], workspace: Path, artifacts: ArtifactStore) -> dict[str, Any]:
    stored = {}
    for name, declared in paths.items():
        what = f"declared output {name!r}"
        try:  # again after the step: it may have made the path a symlink out of the workspace
            path = inside_workspace(workspace, declared, what)
            relative = relative_to_workspace(workspace, declared, what)
        except OutsideWorkspaceError as exc:
            raise StepFailedError(str(exc), retryable=False) from exc
        if not path.is_file():
            raise StepFailedError(f"{what}: no file at {declared}", retryable=True)
        stored[name] = {"path": relative, "ref": artifacts.put_file(path).to_data()}
    return stored


_SCALARS = (int, float, bool)


def offload_large_values(outputs: dict[str, Any], artifacts: ArtifactStore) -> dict[str, Any]:
    """Replace each output whose JSON exceeds ``LARGE_OUTPUT_BYTES`` by a blob reference."""
    result: dict[str, Any] = {}
    for name, value in outputs.items():
        small = isinstance(value, str) and len(value) < LARGE_OUTPUT_BYTES // 4
        if small or value is None or type(value) in _SCALARS:
            result[name] = value  # surely small: skip the encoding
            continue
        encoded = json.dumps(value, default=str).encode()
        result[name] = artifacts.put_bytes(encoded).to_data() if len(encoded) > LARGE_OUTPUT_BYTES else value
    return result


class OutputResolver:
    """Turns blob references in stored outputs back into values (memoised per blob)."""

    def __init__(self, artifacts: ArtifactStore) -> None:
        self._artifacts = artifacts
        self._memo: dict[str, Any] = {}

    def __call__(self, value: Any) -> Any:
        """``value`` with every reference replaced by the stored value."""
        if isinstance(value, dict):
            if ArtifactRef.is_ref(value):
                ref = ArtifactRef.from_data(value)
                if ref.sha256 not in self._memo:
                    self._memo[ref.sha256] = json.loads(self._artifacts.read_bytes(ref))
                return self._memo[ref.sha256]
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        return value
