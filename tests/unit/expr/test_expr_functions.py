"""Built-in functions over a temporary workspace: hashing, reading files, coverage, clock."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from xml.etree import ElementTree

import pytest

from baton.errors import ExpressionError
from baton.expr import ExpressionEngine, make_functions
from baton.expr.functions import MAX_READ_BYTES, _NoDoctype

COBERTURA = """<?xml version="1.0" ?>
<coverage version="7.4" timestamp="1700000000" lines-valid="200" lines-covered="171"
          line-rate="0.8555" branch-rate="0.5" complexity="0">
  <sources><source>/src</source></sources>
  <packages/>
</coverage>
"""


def write(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def test_hash_is_sha256_of_canonical_json(engine: ExpressionEngine) -> None:
    expected = hashlib.sha256(b'[1,"a",{"x":2,"y":[true,null]}]').hexdigest()

    assert engine.evaluate("hash(1, 'a', {'y': [true, none], 'x': 2})", {}) == expected


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        ("hash({'a': 1, 'b': 2})", "hash({'b': 2, 'a': 1})", True),
        ("hash('a', 'b')", "hash('ab')", False),
        ("hash(['a', 'b'])", "hash('a', 'b')", False),
        ("hash(1)", "hash('1')", False),
        ("hash()", "hash([])", False),
    ],
    ids=["key-order-ignored", "arguments-not-concatenated", "list-vs-arguments", "type-matters", "empty"],
)
def test_hash_distinguishes_values(engine: ExpressionEngine, left: str, right: str, equal: bool) -> None:
    assert (engine.evaluate(left, {}) == engine.evaluate(right, {})) is equal


def test_hash_of_undefined_fails(engine: ExpressionEngine) -> None:
    with pytest.raises(ExpressionError, match="'missing' is undefined"):
        engine.evaluate("hash(missing)", {})


def test_hash_files_covers_paths_and_contents(engine: ExpressionEngine, workspace: Path) -> None:
    write(workspace, "src/a.py", "print(1)\n")
    write(workspace, "src/pkg/b.py", "print(2)\n")
    write(workspace, "src/notes.txt", "ignored\n")
    first = engine.evaluate("hash_files('src/**/*.py')", {})

    write(workspace, "src/notes.txt", "changed but not matched\n")
    assert engine.evaluate("hash_files('src/**/*.py')", {}) == first

    write(workspace, "src/pkg/b.py", "print(3)\n")
    assert engine.evaluate("hash_files('src/**/*.py')", {}) != first


def test_a_trailing_double_star_covers_every_file_below(engine: ExpressionEngine, workspace: Path) -> None:
    write(workspace, "src/a.py", "print(1)\n")
    write(workspace, "src/pkg/deep/b.py", "print(2)\n")
    first = engine.evaluate("hash_files('src/**')", {})
    assert first != hashlib.sha256().hexdigest()

    write(workspace, "src/pkg/deep/b.py", "print(3)\n")
    assert engine.evaluate("hash_files('src/**')", {}) != first


def test_hash_files_includes_the_relative_path(engine: ExpressionEngine, workspace: Path) -> None:
    write(workspace, "a/x.txt", "same")
    before = engine.evaluate("hash_files('**/*.txt')", {})
    (workspace / "a").rename(workspace / "b")

    assert engine.evaluate("hash_files('**/*.txt')", {}) != before


def test_hash_files_with_several_globs_counts_each_file_once(engine: ExpressionEngine, workspace: Path) -> None:
    write(workspace, "x.txt", "x")

    assert engine.evaluate("hash_files('*.txt', 'x.*')", {}) == engine.evaluate("hash_files('x.txt')", {})


def test_hash_files_without_matches_is_the_hash_of_nothing(engine: ExpressionEngine) -> None:
    assert engine.evaluate("hash_files('nothing/*')", {}) == hashlib.sha256().hexdigest()


def test_read_text_and_json(engine: ExpressionEngine, workspace: Path) -> None:
    write(workspace, "notes/readme.txt", "héllo\n")
    write(workspace, "data.json", json.dumps({"version": "1.2", "items": [1, 2]}))

    assert engine.evaluate("read_text('notes/readme.txt')", {}) == "héllo\n"
    assert engine.evaluate("read_json('data.json').items | sum", {}) == 3
    assert engine.render("v{{ read_json('./data.json').version }}", {}) == "v1.2"


@pytest.mark.parametrize(
    ("content", "expression", "message"),
    [
        ("{not json", "read_json('f')", "invalid JSON"),
        (b"\xff\xfe", "read_text('f')", "not UTF-8"),
    ],
    ids=["bad-json", "bad-utf8"],
)
def test_read_errors_name_the_file(
    engine: ExpressionEngine, workspace: Path, content: str | bytes, expression: str, message: str
) -> None:
    write(workspace, "f", content)

    with pytest.raises(ExpressionError, match=message) as caught:
        engine.evaluate(expression, {})

    assert "'f'" in str(caught.value)


def test_missing_file_is_reported(engine: ExpressionEngine) -> None:
    with pytest.raises(ExpressionError, match=r"read_text\('nope.txt'\): no such file"):
        engine.evaluate("read_text('nope.txt')", {})


def test_reads_are_capped(engine: ExpressionEngine, workspace: Path) -> None:
    write(workspace, "big.txt", b"x" * (MAX_READ_BYTES + 1))

    with pytest.raises(ExpressionError, match="larger than"):
        engine.evaluate("read_text('big.txt')", {})


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A secret file next to the workspace, which no function may read."""
    return write(tmp_path, "secret.txt", "top secret")


@pytest.mark.parametrize(
    "expression",
    [
        "read_text('../secret.txt')",
        "read_text('sub/../../secret.txt')",
        "read_text(outside)",
        "read_json('/etc/passwd')",
        "parse_coverage('../secret.txt')",
        "read_text('link-out')",
        "read_text('dir-link/secret.txt')",
        "hash_files('../*.txt')",
        "hash_files('/etc/*')",
        "hash_files('*')",
    ],
    ids=[
        "dot-dot",
        "nested-dot-dot",
        "absolute-outside",
        "absolute-system",
        "coverage-outside",
        "symlink-file",
        "symlink-dir",
        "glob-dot-dot",
        "glob-absolute",
        "glob-matching-symlink",
    ],
)
def test_paths_outside_the_workspace_are_refused(
    engine: ExpressionEngine, workspace: Path, outside: Path, expression: str
) -> None:
    os.symlink(outside, workspace / "link-out")
    os.symlink(outside.parent, workspace / "dir-link")

    with pytest.raises(ExpressionError, match=r"outside the workspace|relative to the workspace"):
        engine.evaluate(expression, {"outside": str(outside)})


def test_absolute_path_inside_the_workspace_is_allowed(engine: ExpressionEngine, workspace: Path) -> None:
    path = write(workspace, "inside.txt", "ok")

    assert engine.evaluate("read_text(p)", {"p": str(path)}) == "ok"


def test_parse_coverage(engine: ExpressionEngine, workspace: Path) -> None:
    write(workspace, "coverage.xml", COBERTURA)

    assert engine.evaluate("parse_coverage('coverage.xml')", {}) == {
        "line_coverage": 85.55,
        "branch_coverage": 50.0,
    }
    assert engine.evaluate("parse_coverage('coverage.xml').line_coverage < {{ target }}", {"target": 90}) is True


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<coverage line-rate="&lol2;" branch-rate="0"/>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE c [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<coverage line-rate="1" branch-rate="0">&xxe;</coverage>
"""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (BILLION_LAUGHS, "DTDs, entities"),
        (EXTERNAL_ENTITY, "DTDs, entities"),
        ('<!doctype coverage><coverage line-rate="1" branch-rate="1"/>', "DTDs, entities"),
        (BILLION_LAUGHS.encode("utf-16"), "UTF-16"),
        ("<coverage line-rate='1'", "invalid XML"),
        ('<report line-rate="1" branch-rate="1"/>', "expected <coverage>"),
        ('<coverage branch-rate="1"/>', "no line-rate attribute"),
        ('<coverage line-rate="high" branch-rate="1"/>', "is not a number"),
    ],
    ids=[
        "billion-laughs",
        "external-entity",
        "lowercase-doctype",
        "utf16-doctype",
        "malformed",
        "wrong-root",
        "missing-rate",
        "non-numeric-rate",
    ],
)
def test_parse_coverage_refuses_bad_documents(
    engine: ExpressionEngine, workspace: Path, content: str | bytes, message: str
) -> None:
    write(workspace, "coverage.xml", content)

    with pytest.raises(ExpressionError, match=message):
        engine.evaluate("parse_coverage('coverage.xml')", {})


def test_now_is_the_injected_clock_in_utc(workspace: Path) -> None:
    eastern = datetime(2024, 5, 17, 8, 30, tzinfo=timezone(timedelta(hours=-4)))
    engine = ExpressionEngine(make_functions(workspace, lambda: eastern))

    assert engine.evaluate("now()", {}) == "2024-05-17T12:30:00+00:00"


def test_now_uses_the_engine_clock(engine: ExpressionEngine, fixed_now: datetime) -> None:
    assert engine.render("{{ now() }}", {}) == fixed_now.isoformat()


def test_naive_clock_is_refused(workspace: Path) -> None:
    engine = ExpressionEngine(make_functions(workspace, lambda: datetime(2024, 1, 1)))

    with pytest.raises(ExpressionError, match="without a timezone"):
        engine.evaluate("now()", {})


def test_make_functions_provides_the_documented_names(workspace: Path) -> None:
    functions = make_functions(workspace, lambda: datetime.now(UTC))

    assert set(functions) == {"hash", "hash_files", "read_json", "read_text", "parse_coverage", "now"}


def test_parser_refuses_a_doctype_the_byte_check_missed() -> None:
    # GIVEN a DOCTYPE in an encoding the byte-level check cannot read (second line of defence)
    document = '<?xml version="1.0"?><!DOCTYPE c [<!ENTITY a "b">]><coverage line-rate="&a;"/>'

    with pytest.raises(ExpressionError, match="DOCTYPE 'c' is not accepted"):
        ElementTree.fromstring(document.encode(), parser=ElementTree.XMLParser(target=_NoDoctype()))


def test_read_text_refuses_a_fifo_without_blocking(engine: ExpressionEngine, workspace: Path) -> None:
    os.mkfifo(workspace / "pipe")

    with pytest.raises(ExpressionError, match="not a regular file"):
        engine.evaluate("read_text('pipe')", {})


def test_read_json_refuses_a_directory(engine: ExpressionEngine, workspace: Path) -> None:
    (workspace / "folder").mkdir()

    with pytest.raises(ExpressionError, match=r"not a regular file|Is a directory"):
        engine.evaluate("read_json('folder')", {})


def test_hash_files_accepts_an_absolute_path_inside_the_workspace(engine: ExpressionEngine, workspace: Path) -> None:
    write(workspace, "src/a.py", "a")

    absolute = engine.evaluate("hash_files(p)", {"p": str(workspace / "src/*.py")})

    assert absolute == engine.evaluate("hash_files('src/*.py')", {})
    assert absolute != engine.evaluate("hash_files('nothing/*')", {})
