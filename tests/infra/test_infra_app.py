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
    # The CDK CLI hands context to the app in CDK_CONTEXT_JSON; skipping bundling keeps
    # pip out of this test (test_infra_bundling builds the asset itself).
    environment = {**os.environ, "CDK_OUTDIR": str(tmp_path),
                   "CDK_CONTEXT_JSON": json.dumps({"aws:cdk:bundling-stacks": []})}  # fmt: skip
    # No AWS credentials or region may leak in: synthesis must not need them.
    for variable in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "CDK_DEFAULT_ACCOUNT"):
        environment.pop(variable, None)

    completed = subprocess.run(
        [sys.executable, "app.py"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert "end-of-life" not in completed.stderr, "app.py must silence jsii's Node banner"
    template = json.loads((tmp_path / "Baton.template.json").read_text())
    types = {resource["Type"] for resource in template["Resources"].values()}
    assert {"AWS::S3::Bucket", "AWS::Lambda::Function", "AWS::CloudWatch::Dashboard"} <= types
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"] == []
