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


@dataclass
class AwsHome:
    """The stack's handlers over moto, three worker sandboxes polling at once."""

    harness: AwsHarness
    name: str = "aws"
    workers: int = 3

    def run(self, path: Path, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.harness.upload(path.name, path.read_text())
        assert response.get("status", "registered") == "registered", response
        execution_id = self.harness.start(_workflow_name(path), inputs)
        self.harness.run_concurrently(execution_id, workers=self.workers)
        return self.harness.document(execution_id)

    def approve(self, execution_id: str, step: str) -> dict[str, Any]:
        answered = self.harness.approve(execution_id, step)
        assert answered["accepted"], answered
        self.harness.run_concurrently(execution_id, workers=self.workers)
        return self.harness.document(execution_id)


def _workflow_name(path: Path) -> str:
    import yaml

    data = yaml.safe_load(path.read_text())
    return str(data["name"])
