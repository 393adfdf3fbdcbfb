"""The two homes a workflow runs in, behind one interface, so one suite runs on both.

``local``: the real ``baton run`` command in a fresh workspace (SQLite and files on disk).
``aws``: the real Lambda handlers over a moto server: the definition uploaded to the bucket
and registered by the registrar from the S3 event, the execution started by the starter
from a ``Start Baton Execution`` event, and its messages taken from the real step queue by
several worker sandboxes at once, as Lambda's event source mapping delivers them.
Both answer with the execution record (``baton status --json``'s document).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from baton_cli import Workspace
from tests.aws.harness import AwsHarness


class Home(Protocol):
    """Where a workflow runs."""

    name: str

    def run(self, path: Path, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run the workflow file to its end (or to a wait for an answer); its record."""
        ...

    def approve(self, execution_id: str, step: str) -> dict[str, Any]:
        """Approve a waiting step and drive on; the record."""
        ...

    def publish(self, path: Path) -> None:
        """Make a workflow a ``workflow:`` step may name available (upload it on AWS)."""
        ...

    def document(self, execution_id: str) -> dict[str, Any]:
        """The execution record as it stands."""
        ...

    def resume(self, execution_id: str) -> dict[str, Any]:
        """Resume a stopped execution and drive it; the record."""
        ...

    def cancel_when(self, path: Path, ready: Callable[[Home, dict[str, Any]], bool]) -> dict[str, Any]:
        """Run a workflow, cancel it once ``ready(home, record)`` holds, and return its
        record after the cancel took effect."""
        ...


@dataclass
class LocalHome:
    """``baton run`` in a workspace of its own."""

    workspace: Workspace
    name: str = "local"

    def run(self, path: Path, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        args: list[str] = []
        if inputs:
            args = ["--inputs-file", str(self.workspace.write("inputs.json", json.dumps(inputs)))]
        result = self.workspace.baton("run", str(path), *args, "--json")
        assert result.returncode in (0, 1), f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    def approve(self, execution_id: str, step: str) -> dict[str, Any]:
        result = self.workspace.baton("approve", execution_id, step, "--json")
        assert result.returncode in (0, 1), result.stderr
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    def publish(self, path: Path) -> None:
        """Nothing to do: a child is found beside its parent's file."""

    def document(self, execution_id: str) -> dict[str, Any]:
        return self.workspace.run_json("status", execution_id)

    def resume(self, execution_id: str) -> dict[str, Any]:
        result = self.workspace.baton("resume", execution_id, "--json")
        assert result.returncode in (0, 1), f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    def cancel_when(self, path: Path, ready: Callable[[Home, dict[str, Any]], bool]) -> dict[str, Any]:
        process = self.workspace.start("run", str(path), "--json")
        try:
            execution_id = _wait_for(self._first_execution, "an execution to start")
            _wait_for(lambda: ready(self, self.document(execution_id)), "the execution to be ready to cancel")
            result = self.workspace.baton("cancel", execution_id)
            assert result.returncode in (0, 1), result.stderr
            process.communicate(timeout=60)
        finally:
            process.kill()
        return self.document(execution_id)

    def _first_execution(self) -> str | None:
        result = self.workspace.baton("list", "--json")
        rows = json.loads(result.stdout) if result.returncode == 0 else []
        return str(rows[-1]["execution_id"]) if rows else None


@dataclass
class AwsHome:
    """The stack's handlers over moto, three worker sandboxes polling at once."""

    harness: AwsHarness
    name: str = "aws"
    workers: int = 3

    def run(self, path: Path, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        for child in _children_beside(path):  # registered first, as a user pushes them
            self.publish(child)
        response = self.harness.upload(path.name, path.read_text())
        assert response.get("status", "registered") == "registered", response
        execution_id = self.harness.start(_workflow_name(path), inputs)
        self.harness.run_concurrently(execution_id, workers=self.workers)
        return self.harness.document(execution_id)

    def approve(self, execution_id: str, step: str) -> dict[str, Any]:
        answered = self.harness.approve(execution_id, step)
        assert answered["accepted"], answered
        self.harness.run_concurrently(execution_id, workers=self.workers)
        document = self.harness.document(execution_id)
        parent = document.get("parent")
        while parent is not None:  # a child's end woke its parent: follow it too, as locally
            self.harness.run_concurrently(parent["execution_id"], workers=self.workers)
            parent = self.harness.document(parent["execution_id"]).get("parent")
        return document

    def publish(self, path: Path) -> None:
        response = self.harness.upload(path.name, path.read_text())
        assert response.get("status", "registered") == "registered", response

    def document(self, execution_id: str) -> dict[str, Any]:
        return self.harness.document(execution_id)

    def resume(self, execution_id: str) -> dict[str, Any]:
        answered = self.harness.operate({"action": "resume", "execution_id": execution_id})
        assert answered["accepted"], answered
        self.harness.run_concurrently(execution_id, workers=self.workers)
        return self.harness.document(execution_id)

    def cancel_when(self, path: Path, ready: Callable[[Home, dict[str, Any]], bool]) -> dict[str, Any]:
        self.publish(path)
        execution_id = self.harness.start(_workflow_name(path))
        outcome: list[BaseException] = []

        def drive() -> None:
            try:
                self.harness.run_concurrently(execution_id, workers=self.workers)
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=drive, daemon=True)
        thread.start()
        _wait_for(lambda: ready(self, self.document(execution_id)), "the execution to be ready to cancel")
        answered = self.harness.operate({"action": "cancel", "execution_id": execution_id})
        assert answered["accepted"], answered
        thread.join(90)
        assert not outcome, outcome
        return self.document(execution_id)


def _wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it gives something true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _children_beside(path: Path) -> list[Path]:
    """The files beside ``path`` named by its ``workflow:`` steps (``NAME.yaml``)."""
    import yaml

    data = yaml.safe_load(path.read_text())
    names = [step.get("workflow") for key in ("steps", "on_failure", "finally") for step in data.get(key) or []]
    found = [path.with_name(f"{name}.yaml") for name in names if isinstance(name, str) and "@" not in name]
    return [child for child in found if child.is_file()]


def _workflow_name(path: Path) -> str:
    import yaml

    data = yaml.safe_load(path.read_text())
    return str(data["name"])
