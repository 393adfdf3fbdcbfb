"""Which AWS region a command uses when none is given.

botocore reads only ``AWS_DEFAULT_REGION``; the AWS CLI v2 and the other SDKs read
``AWS_REGION`` first (Lambda sets it, and many shells export only it). Baton honours both,
``AWS_REGION`` first, so a user's environment means the same to Baton as to the AWS CLI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def default_region(environ: Mapping[str, str] | None = None) -> str | None:
    """``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else None (botocore's profile lookup)."""
    env = os.environ if environ is None else environ
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
