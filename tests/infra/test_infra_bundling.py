"""The Lambda asset: built with pip for the Lambda platform, runtime dependencies only."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.bundling import (
    LAMBDA_PLATFORM,
    TRACING_REQUIREMENT,
    PipLocalBundling,
    pip_command,
    runtime_requirements,
    source_digest,
)

PYPROJECT = """
[project]
name = "x"
dependencies = ["pydantic>=2", "PyYAML"]
[project.optional-dependencies]
aws = ["boto3", "aws-lambda-powertools>=3"]
infra = ["aws-cdk-lib"]
"""


@pytest.fixture
def pyproject(tmp_path: Path) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT)
    return path


def test_requirements_are_the_base_and_aws_extra_plus_the_tracer(pyproject: Path) -> None:
    assert runtime_requirements(pyproject) == [
        "pydantic>=2", "PyYAML", "boto3", "aws-lambda-powertools>=3", TRACING_REQUIREMENT,
    ]  # fmt: skip


def test_with_the_powertools_layer_only_the_base_requirements_are_bundled(pyproject: Path) -> None:
    assert runtime_requirements(pyproject, with_aws_extra=False) == ["pydantic>=2", "PyYAML"]


def test_the_project_keeps_cdk_out_of_the_runtime_requirements() -> None:
    requirements = " ".join(runtime_requirements())
    assert "aws-lambda-powertools" in requirements
    assert not any(name in requirements for name in ("aws-cdk-lib", "constructs", "cdk-nag"))


def test_pip_installs_only_binary_wheels_for_lambda(tmp_path: Path) -> None:
    command = pip_command(["PyYAML"], str(tmp_path))
    joined = " ".join(command)
    assert f"--platform {LAMBDA_PLATFORM}" in joined
    assert "--python-version 3.12" in joined
    assert "--only-binary=:all:" in command
    assert command[-3:] == ["--target", str(tmp_path), "PyYAML"]


def _package(root: Path) -> Path:
    package = root / "pkg"
    (package / "__pycache__").mkdir(parents=True)
    (package / "a.py").write_text("A = 1\n")
    (package / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"compiled")
    return package


def test_digest_follows_code_and_requirements_but_not_caches(tmp_path: Path) -> None:
    package = _package(tmp_path)
    digest = source_digest(["PyYAML"], package)
    (package / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"recompiled")
    assert source_digest(["PyYAML"], package) == digest
    assert source_digest(["PyYAML", "boto3"], package) != digest
    (package / "a.py").write_text("A = 2\n")
    assert source_digest(["PyYAML"], package) != digest


@pytest.mark.slow
def test_bundle_holds_the_package_and_linux_wheels_but_no_cdk(tmp_path: Path) -> None:
    output = tmp_path / "asset"
    output.mkdir()

    assert PipLocalBundling(runtime_requirements()).try_bundle(str(output)) is True

    assert (output / "baton" / "handlers" / "worker.py").is_file()
    assert not list(output.rglob("__pycache__")), "caches would change the asset between builds"
    for module in ("yaml", "jinja2", "pydantic", "boto3", "aws_lambda_powertools", "aws_xray_sdk"):
        assert (output / module).is_dir(), module
    for module in ("aws_cdk", "constructs", "cdk_nag", "jsii"):
        assert not (output / module).exists(), module
    (extension,) = (output / "pydantic_core").glob("_pydantic_core.*.so")
    assert extension.name == "_pydantic_core.cpython-312-aarch64-linux-gnu.so"  # the functions are arm64
