"""The Lambda code asset: the ``baton`` package plus its runtime dependencies, built without Docker.

CDK tries an ``ILocalBundling`` before Docker. Ours runs ``pip install`` for the Lambda
platform (manylinux wheels for CPython 3.12 on the functions' architecture, arm64 by
default) into the asset directory and copies the package in, so ``cdk synth`` needs
Python and pip but no container engine. Only the runtime dependencies are installed (the
base ones and the ``aws`` extra of ``pyproject.toml``); the CDK libraries stay out of the
bundle.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = PROJECT_ROOT / "pyproject.toml"
PACKAGE_DIR = PROJECT_ROOT / "lambdas" / "baton"

LAMBDA_PYTHON_VERSION = "3.12"
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
"""The wheel platform of each Lambda architecture (``baton:architecture``)."""
LAMBDA_PLATFORM = PLATFORMS["arm64"]  # the default architecture
# Never copied into the asset: caches would change its hash without changing the code.
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache")
# Only reached if local bundling is impossible (it raises instead): the SAM build image
# has the same Python and pip, so a Docker build would produce the same asset.
_DOCKER_IMAGE = "public.ecr.aws/sam/build-python3.12"


# The stack turns on X-Ray tracing, and Powertools' Tracer imports the X-Ray SDK even when
# tracing is off; the `tracer` extra brings it (the Powertools layer carries it already).
TRACING_REQUIREMENT = "aws-lambda-powertools[tracer]"


def runtime_requirements(pyproject: Path = PYPROJECT, *, with_aws_extra: bool = True) -> list[str]:
    """The requirement strings a function needs: base dependencies, plus the ``aws`` extra
    and the Powertools tracer."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    if with_aws_extra:
        requirements += [*project["optional-dependencies"]["aws"], TRACING_REQUIREMENT]
    return requirements


def pip_command(requirements: Sequence[str], target: str, platform: str = LAMBDA_PLATFORM) -> list[str]:
    """The ``pip install`` that fetches ``requirements`` as Lambda needs them into ``target``."""
    return [
        sys.executable, "-m", "pip", "install",
        "--quiet", "--disable-pip-version-check", "--no-compile",
        "--platform", platform, "--implementation", "cp",
        "--python-version", LAMBDA_PYTHON_VERSION, "--only-binary=:all:",
        "--target", target, *requirements,
    ]  # fmt: skip


def source_digest(requirements: Iterable[str], package_dir: Path = PACKAGE_DIR, platform: str = LAMBDA_PLATFORM) -> str:
    """A hash of everything that goes into the asset: the package files and the requirements.

    Used as the asset's hash, so an unchanged tree keeps its asset (and its functions)
    unchanged between deployments, and the hash is known without bundling.
    """
    digest = hashlib.sha256()
    for line in (platform, LAMBDA_PYTHON_VERSION, *sorted(requirements)):
        digest.update(line.encode() + b"\0")
    for path in sorted(_package_files(package_dir)):
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _package_files(package_dir: Path) -> Iterable[Path]:
    for path in package_dir.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
            yield path


class BundlingError(RuntimeError):
    """``pip install`` for the Lambda asset failed; the message carries pip's output."""


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """Builds the asset on this machine: pip for the Lambda platform, then the package."""

    def __init__(
        self, requirements: Sequence[str], package_dir: Path = PACKAGE_DIR, platform: str = LAMBDA_PLATFORM
    ) -> None:
        self.requirements = list(requirements)
        self.package_dir = package_dir
        self.platform = platform

    def try_bundle(self, output_dir: str, *_options: Any, **_keywords: Any) -> bool:
        """Fill ``output_dir``; raise ``BundlingError`` rather than fall back to Docker.

        jsii passes the Docker options as one positional struct; none of them apply here.
        """
        completed = subprocess.run(
            pip_command(self.requirements, output_dir, self.platform), capture_output=True, text=True, check=False
        )
        if completed.returncode != 0:
            raise BundlingError(
                f"pip could not install the Lambda dependencies {self.requirements} for "
                f"{self.platform} / CPython {LAMBDA_PYTHON_VERSION}:\n{completed.stderr[-4000:]}"
            )
        shutil.copytree(self.package_dir, Path(output_dir) / self.package_dir.name, ignore=_IGNORED)
        return True


def asset_options(*, with_aws_extra: bool = True, architecture: str = "arm64") -> dict[str, Any]:
    """How the code asset is made: its source folder, hash and bundling (keyword arguments
    of ``Code.from_asset`` and of an S3 ``Asset``)."""
    requirements = runtime_requirements(with_aws_extra=with_aws_extra)
    platform = PLATFORMS[architecture]
    return {
        "path": str(PACKAGE_DIR.parent),
        "asset_hash_type": AssetHashType.CUSTOM,
        "asset_hash": source_digest(requirements, platform=platform),
        "bundling": BundlingOptions(
            image=DockerImage.from_registry(_DOCKER_IMAGE),
            local=PipLocalBundling(requirements, platform=platform),
        ),
    }


def lambda_code(*, with_aws_extra: bool = True, architecture: str = "arm64") -> lambda_.Code:
    """The one code asset all Baton functions share.

    ``with_aws_extra`` false leaves boto3 and Powertools out (the runtime and the
    AWS-managed Powertools layer provide them).
    """
    return lambda_.Code.from_asset(**asset_options(with_aws_extra=with_aws_extra, architecture=architecture))
