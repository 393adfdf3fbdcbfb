"""What a ``workflow:`` step may name."""

from __future__ import annotations

import pytest

from baton.spec.workflow_refs import WorkflowRef, WorkflowRefError, parse_reference

DIGEST = "3f2a9c0d1e4b5a6978"


@pytest.mark.parametrize(
    ("text", "version", "expected"),
    [
        ("build", None, WorkflowRef(name="build")),
        ("build@1.2", None, WorkflowRef(name="build", version="1.2")),
        ("build", "1.2", WorkflowRef(name="build", version="1.2")),
        (f"build@sha256:{DIGEST}", None, WorkflowRef(name="build", digest=DIGEST)),
        ("./ci/build.yaml", None, WorkflowRef(path="./ci/build.yaml")),
        ("build.yml@2", None, WorkflowRef(path="build.yml", version="2")),
    ],
    ids=["name", "pinned-version", "version-key", "pinned-digest", "file", "pinned-file"],
)
def test_a_reference_is_parsed(text: str, version: str | None, expected: WorkflowRef) -> None:
    assert parse_reference(text, version) == expected
    assert parse_reference(str(expected)) == expected, "a reference prints as it parses"


@pytest.mark.parametrize(
    ("text", "version", "message"),
    [
        ("Build Me", None, "is not a workflow name"),
        ("build@", None, "nothing after '@'"),
        ("build@1", "2", "keep one"),
        ("build@sha256:abc", None, "at least 12 lowercase hex digits"),
    ],
    ids=["bad-name", "empty-pin", "two-pins", "short-digest"],
)
def test_a_bad_reference_says_what_is_wrong(text: str, version: str | None, message: str) -> None:
    with pytest.raises(WorkflowRefError, match=message):
        parse_reference(text, version)
