"""Every complete workflow shown in the README and the docs validates (fragments are skipped)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from baton.spec.loader import load_workflow_text

ROOT = Path(__file__).resolve().parents[3]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def examples() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for number, block in enumerate(_BLOCK.findall(page.read_text())):
            if re.search(r"^name:", block, re.MULTILINE) and re.search(r"^steps:", block, re.MULTILINE):
                found.append((f"{page.name}#{number}", block))
    return found


EXAMPLES = examples()


def test_the_docs_show_complete_workflows() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize(("where", "text"), EXAMPLES, ids=[where for where, _ in EXAMPLES])
def test_documented_workflow_validates(where: str, text: str) -> None:
    assert load_workflow_text(text, where).name
