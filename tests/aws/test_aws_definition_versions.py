"""Definition versions on a stack: every registration kept by digest with its label, a
pinned start, and what a ``workflow:`` step may name there."""

from __future__ import annotations

import pytest
from tests.aws.harness import AwsHarness, FakeLambdaContext

from baton.adapters.aws.children import RegistryVersions

GREET = "name: greet\nversion: 'VERSION'\nsteps:\n  - id: say\n    command: echo VERSION\n"


def start(harness: AwsHarness, workflow: str) -> dict:
    return harness.starter({"workflow": workflow}, FakeLambdaContext("baton-starter"))


def test_every_registration_is_kept_and_a_pinned_start_runs_the_one_it_names(harness: AwsHarness) -> None:
    harness.upload("greet.yaml", GREET.replace("VERSION", "1.0"))
    harness.upload("greet.yaml", GREET.replace("VERSION", "2.0"))

    kept = RegistryVersions(harness.backend.registry).versions("greet")
    pinned = start(harness, "greet@1.0")
    by_digest = start(harness, f"greet@sha256:{kept[0].digest[:16]}")
    current = start(harness, "greet")

    assert [(v.version, v.current) for v in kept] == [("1.0", False), ("2.0", True)]
    runs = {
        answer["execution_id"]: harness.execution(answer["execution_id"]) for answer in (pinned, by_digest, current)
    }
    assert [(e.workflow_version, e.definition_digest) for e in runs.values()] == [
        ("1.0", kept[0].digest),
        ("1.0", kept[0].digest),
        ("2.0", kept[1].digest),
    ]


@pytest.mark.parametrize(
    ("workflow", "error"),
    [("greet@9.9", "no registered definition greet@9.9 (versions of greet: 1.0)"),
     ("nobody", "no workflow named 'nobody' is registered")],
    ids=["unknown-version", "unknown-name"],
)  # fmt: skip
def test_a_start_naming_nothing_registered_is_rejected(harness: AwsHarness, workflow: str, error: str) -> None:
    harness.upload("greet.yaml", GREET.replace("VERSION", "1.0"))

    answer = start(harness, workflow)

    assert answer["status"] == "rejected"
    assert error in answer["error"]


def test_a_bad_upload_never_replaces_the_last_good_version(harness: AwsHarness) -> None:
    harness.upload("greet.yaml", GREET.replace("VERSION", "1.0"))

    rejected = harness.upload("greet.yaml", "name: greet\nsteps:\n  - id: x\n    workflow: ./child.yaml\n")

    assert rejected["status"] == "rejected"
    assert "is a file; on AWS name a registered workflow" in rejected["errors"][0]
    current = harness.backend.registry.current("greet")
    assert current is not None
    assert current.version == "1.0"
