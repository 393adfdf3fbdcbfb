"""baton.expr is pure: it must not pull in AWS or storage libraries."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("boto3", "botocore", "sqlite3", "aws_lambda_powertools")


def test_expression_package_imports_no_adapters() -> None:
    # A fresh interpreter: this test process may have imported them for other tests.
    code = "import sys, baton.expr; print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in %r)))"
    result = subprocess.run([sys.executable, "-c", code % (FORBIDDEN,)], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == ""
