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


def test_the_expression_page_documents_every_function_and_filter() -> None:
    from baton.expr import ExpressionEngine, make_functions

    page = (ROOT / "docs" / "expressions.md").read_text()
    functions = make_functions(ROOT, lambda: None)  # type: ignore[arg-type,return-value]
    filters = ExpressionEngine()._env.filters  # the real list, not a copy to drift

    assert [name for name in functions if f"`{name}(" not in page] == []
    assert [name for name in filters if f"`{name}`" not in page] == []
    assert "docs/expressions.md" in (ROOT / "README.md").read_text()


def test_no_page_cites_a_document_outside_the_repository() -> None:
    citing = [
        page.name
        for page in [*PAGES, *sorted((ROOT / "docs" / "adr").glob("*.md"))]
        if "WORKFLOW-SPEC" in page.read_text()
    ]

    assert citing == []
