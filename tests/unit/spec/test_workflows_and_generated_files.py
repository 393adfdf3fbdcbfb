"""Every example (and every reference workflow) validates, the committed schema and YAML reference are current, and the
schema accepts every example (checked with the jsonschema package)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from baton.spec.loader import load_workflow, load_workflow_text
from baton.spec.reference import render_reference
from baton.spec.schema import schema_json, workflow_schema
from baton.spec.source import read_yaml

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted([*(ROOT / "workflows").glob("*.yaml"), *(ROOT / "workflows" / "reference").glob("*.yaml")])


def test_there_are_examples() -> None:
    assert any(p.name == "increase-test-coverage.yaml" for p in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_validates(path: Path) -> None:
    assert load_workflow(path).name


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_schema_accepts_example(path: Path) -> None:
    validator = jsonschema.Draft202012Validator(workflow_schema())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(read_yaml(path.read_text()).data)]
    assert not errors


def test_schema_refuses_what_the_loader_refuses() -> None:
    validator = jsonschema.Draft202012Validator(workflow_schema())
    bad = read_yaml("name: w\nsteps:\n  - id: a\n    comand: x\n").data
    assert not validator.is_valid(bad)
    with pytest.raises(Exception, match="comand"):
        load_workflow_text(json.dumps(bad))


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "workflows" / "schema.json").read_text()
    assert committed == schema_json(), "run `make schema` and commit workflows/schema.json"


def test_committed_yaml_reference_is_current() -> None:
    committed = (ROOT / "docs" / "yaml-reference.md").read_text()
    assert committed == render_reference(), "run `make docs` and commit docs/yaml-reference.md"


def test_spec_and_engine_packages_import_no_vendor_sdks() -> None:
    import subprocess
    import sys

    code = (
        "import sys, baton.spec.loader, baton.spec.graph, baton.spec.schema, baton.expr\n"
        "vendors = ('boto3', 'botocore', 'sqlite3', 'aws_lambda_powertools')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in vendors)\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
