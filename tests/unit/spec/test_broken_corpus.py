"""Every file under broken/ must fail validation with the exact LINE:COL and message its
``# expect: LINE:COL fragment`` header lines name, and ``baton validate`` must exit 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton.cli.main import app
from baton.errors import DefinitionError
from baton.spec.loader import load_workflow

BROKEN = Path(__file__).parent / "broken"
FILES = sorted(BROKEN.glob("*.yaml"))
_EXPECT = re.compile(r"^# expect: (\d+):(\d+) (.+)$")


def expectations(path: Path) -> list[tuple[int, int, str]]:
    found = []
    for line in path.read_text().splitlines():
        match = _EXPECT.match(line)
        if match:
            found.append((int(match[1]), int(match[2]), match[3]))
    return found


def test_the_corpus_is_large_enough() -> None:
    assert len(FILES) >= 30
    assert all(expectations(path) for path in FILES)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_broken_file_reports_line_column_and_message(path: Path) -> None:
    with pytest.raises(DefinitionError) as caught:
        load_workflow(path)
    reported = [(d.line, d.column, str(d)) for d in caught.value.diagnostics]
    for line, column, fragment in expectations(path):
        matching = [text for (row, col, text) in reported if (row, col) == (line, column) and fragment in text]
        assert matching, f"expected {line}:{column} {fragment!r}; got:\n" + "\n".join(t for *_, t in reported)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_baton_validate_prints_location_and_exits_2(path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    line, column, fragment = expectations(path)[0]
    assert f"{path}:{line}:{column}: " in result.output
    assert fragment in result.output
