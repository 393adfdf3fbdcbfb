"""What a test needs to run agent steps against the scripted model server: the environment
each provider reads, and whether the real ``claude`` program is installed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLAUDE_BIN = ROOT / "tools" / "claude-code" / "node_modules" / ".bin" / "claude"
SAMPLES = ROOT / "workflows" / "samples"

needs_claude = pytest.mark.skipif(
    not CLAUDE_BIN.exists(), reason="the claude CLI is not installed (make claude-code installs it from npm)"
)


def provider_env(provider: str, url: str, home: Path) -> dict[str, str]:
    """The environment that points ``provider`` at the model server at ``url``."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "BATON_AGENT_PROVIDER": provider,
        # the shell steps run the venv's pytest
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "HOME": str(home),
        "BATON_CLAUDE_BIN": str(CLAUDE_BIN),
        "BATON_AGENT_COMMAND": f"{sys.executable} -m baton.testing.messages_agent",
    }


PROVIDERS = [
    pytest.param("bedrock", id="bedrock"),
    pytest.param("command", id="command"),
    pytest.param("claude_code", id="claude_code", marks=needs_claude),
]
