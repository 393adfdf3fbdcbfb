"""``python app.py`` synthesizes on a fresh clone: no Docker, no AWS, no CDK CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_app_py_writes_the_template_with_nag_passing(tmp_path: Path) -> None:
    environment = {**os.environ, "CDK_OUTDIR": str(tmp_path)}
    # No AWS credentials or region may leak in: synthesis must not need them.
    for variable in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "CDK_DEFAULT_ACCOUNT"):
        environment.pop(variable, None)

    completed = subprocess.run(
        [sys.executable, "app.py"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    template = json.loads((tmp_path / "Baton.template.json").read_text())
    assert "AWS::S3::Bucket" in {resource["Type"] for resource in template["Resources"].values()}
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"] == []
