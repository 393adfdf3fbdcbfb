#!/usr/bin/env python3
"""CDK entry point: build the Baton app from ``infra/`` and synthesize it.

Output goes to ``$CDK_OUTDIR`` (set by the CDK CLI) or ``cdk.out`` beside this file.
"""

from __future__ import annotations

import os

# Before aws_cdk loads: jsii prints an end-of-life banner on Node 20 otherwise.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra.application import PROJECT_ROOT, build_app


def main() -> None:
    """Synthesize the Baton stack into the cloud assembly directory."""
    outdir = os.environ.get("CDK_OUTDIR") or str(PROJECT_ROOT / "cdk.out")
    build_app(outdir=outdir).app.synth()


if __name__ == "__main__":
    main()
