"""cfn-lint finds no errors or warnings in the synthesized template."""

from __future__ import annotations

import json

from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint

# Regions Baton is expected to run in; the resource types used are in every commercial one.
REGIONS = ["us-east-1", "eu-west-1"]


def test_cfn_lint_reports_no_errors_or_warnings(template: Template) -> None:
    matches = lint(json.dumps(template.to_json()), config=ManualArgs(regions=REGIONS))
    problems = [str(match) for match in matches if match.rule.id[0] in "EW"]
    assert problems == []
