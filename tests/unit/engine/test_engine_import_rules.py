"""The core stays vendor-free: importing every module of the engine, the language, the
expressions and the step types loads no AWS SDK, no SQLite and no Powertools."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import baton

CORE_PACKAGES = ("baton.engine", "baton.spec", "baton.expr", "baton.steps")
FORBIDDEN = ("boto3", "botocore", "sqlite3", "_sqlite3", "aws_lambda_powertools")


def _modules() -> list[str]:
    root = Path(baton.__file__).parent
    found = []
    for package in CORE_PACKAGES:
        folder = root / package.split(".", 1)[1]
        found.append(package)
        found += [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(folder)])]
    return found


def test_core_modules_import_no_vendor_sdk() -> None:
    modules = _modules()
    assert "baton.engine.executor" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout


def test_the_ports_module_imports_no_adapter() -> None:
    code = (
        "import sys, baton.ports, baton.engine.service\n"
        "print(sorted(m for m in sys.modules if m.startswith('baton.adapters')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
