"""Deploy the real Baton stack to LocalStack with the pinned CDK CLI and cdklocal.

The app is synthesized once (``python app.py``, local bundling included) and that cloud
assembly is what ``cdklocal bootstrap`` and ``cdklocal deploy`` use, so the CLI does not
synthesize it twice more.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "BatonE2E"
ACCOUNT = "000000000000"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "test"}
# Buckets and tables go with the stack; nothing outlives a LocalStack run anyway. LocalStack
# runs the functions on this machine's Python, so the bundle is built for this machine's
# architecture (AWS gets arm64 by default). Its community edition has no CodeBuild: the
# worker runs long steps as a process on this host instead (docs/deploy.md, "Long steps").
CONTEXT = {"baton:stack-name": STACK_NAME, "baton:removal-policy": "destroy",
           "baton:architecture": "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64",
           "baton:long-runner": "process"}  # fmt: skip


def aws_environment(endpoint: str) -> dict[str, str]:
    """What every AWS client of the run needs: LocalStack's endpoint, its dummy credentials."""
    return {
        **CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ENDPOINT_URL_S3": endpoint,  # cdklocal needs both
    }


@dataclass
class Deployment:
    """A deployed stack: its outputs and how long each phase took."""

    outputs: dict[str, str]
    seconds: dict[str, float]


def _run(command: list[str], *, env: dict[str, str], log: Path, timeout_seconds: float) -> float:
    """Run ``command``, appending its output to ``log``; return its duration."""
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        completed = subprocess.run(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            timeout=timeout_seconds, check=False,
        )  # fmt: skip
    if completed.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"{command[0]} {command[1]} failed ({completed.returncode}); end of {log}:\n{tail}")
    return time.monotonic() - started


def deploy(endpoint: str, cdklocal: str, workdir: Path, *, context: dict[str, str] | None = None) -> Deployment:
    """Synthesize, bootstrap and deploy (with ``context`` beside ``CONTEXT``); return the stack outputs."""
    assembly, log, outputs_file = workdir / "cdk.out", workdir / "deploy.log", workdir / "outputs.json"
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_"))},
        **aws_environment(endpoint),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_OUTDIR": str(assembly),
        "CDK_CONTEXT_JSON": json.dumps({**CONTEXT, **(context or {})}),
    }
    seconds = {"synth": _run([sys.executable, "app.py"], env=env, log=log, timeout_seconds=600)}
    cli = [cdklocal, "--app", str(assembly), "--ci", "--no-notices", "--progress", "events"]
    seconds["bootstrap"] = _run(
        [cli[0], "bootstrap", f"aws://{ACCOUNT}/{REGION}", *cli[1:]], env=env, log=log, timeout_seconds=600
    )
    seconds["deploy"] = _run(
        [cli[0], "deploy", STACK_NAME, *cli[1:], "--require-approval", "never", "--outputs-file", str(outputs_file)],
        env=env,
        log=log,
        timeout_seconds=900,
    )
    outputs: dict[str, str] = json.loads(outputs_file.read_text())[STACK_NAME]
    return Deployment(outputs=outputs, seconds=seconds)
