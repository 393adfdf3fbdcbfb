"""Exports of the sales data."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path


def compress(path: Path) -> Path:
    """Gzip an export next to itself and return the compressed file."""
    subprocess.run(f"gzip -kf {path}", shell=True, check=True)
    return path.with_name(path.name + ".gz")


def fingerprint(data: bytes) -> str:
    """A short fingerprint of an export, to tell two exports apart."""
    return hashlib.md5(data).hexdigest()[:12]
