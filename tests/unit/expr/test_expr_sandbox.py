"""Classic Jinja sandbox escapes and resource bombs all fail cleanly with ExpressionError."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from baton.errors import ExpressionError
from baton.expr import ExpressionEngine, limits

SANDBOX = "not allowed in the sandbox"
UNDEFINED = "undefined"
LIMIT = "limited to"

ESCAPES = {
    "str-mro-subclasses": ("''.__class__.__mro__[1].__subclasses__()", SANDBOX),
    "function-globals": ("hash.__globals__['os'].system('touch pwned')", SANDBOX),
    "context-function-globals": ("fn.__globals__", SANDBOX),
    "cycler-init-globals": ("cycler.__init__.__globals__.os.popen('touch pwned').read()", SANDBOX),
    "joiner-init-globals": ("joiner.__init__.__globals__.os.popen('touch pwned').read()", SANDBOX),
    "namespace-init-globals": ("namespace.__init__.__globals__.os.popen('touch pwned').read()", SANDBOX),
    "lipsum-globals": ("lipsum.__globals__['os'].popen('touch pwned').read()", UNDEFINED),
    "range-self": ("range.__self__.__import__('os').popen('touch pwned')", "no attribute '__self__'"),
    # The first unsafe step gives an undefined value, so the chain fails on the next one.
    "attr-filter": ("()|attr('__class__')|attr('__base__')|attr('__subclasses__')()", "has no attribute"),
    "attr-filter-one-step": ("()|attr('__class__')", SANDBOX),
    "format-attribute": ("'{0.__class__.__base__.__subclasses__}'.format(1)", SANDBOX),
    "format-map-attribute": ("'{a.__globals__}'.format_map({'a': fn})", SANDBOX),
    "generator-frame": ("(inputs.names|map('string')).gi_frame.f_globals", SANDBOX),
    "type-mro": ("dict.mro()", SANDBOX),
    "getitem-dunder": ("fn['__globals__']", SANDBOX),
    "mutate-list": ("inputs.names.append('x')", SANDBOX),
    "mutate-dict": ("inputs.update({'a': 1})", SANDBOX),
    "huge-range": ("range(10**9)|list", "MAX_RANGE"),
    "huge-repeat": ("'x' * 10**10", LIMIT),
    "huge-list-repeat": ("[1] * 10**10", LIMIT),
    "huge-power": ("10 ** (10 ** 10)", "bits"),
    "huge-int-product": ("(10 ** 10000) * (10 ** 10000) * (10 ** 10000)", "bits"),
    "huge-ljust": ("'x'.ljust(10**10)", LIMIT),
    "huge-replace": ("('x' * 1000).replace('', 'y' * 100000)", LIMIT),
    "huge-join-method": ("('x' * 1000000).join(range(100000))", LIMIT),
    "huge-percent-width": ("'%99999999999s' % 'x'", LIMIT),
    "star-percent-width": ("'%*s' % (10**9, 'x')", "widths"),
    "huge-format-width": ("'{:>99999999999}'.format('x')", LIMIT),
    "huge-center-filter": ("'x'|center(10**10)", LIMIT),
    "huge-indent-filter": ("('a\\n' * 100000)|indent(100000)", LIMIT),
    "huge-join-filter": ("range(100000)|join('x' * 1000000)", LIMIT),
    "huge-replace-filter": ("('x' * 1000)|replace('', 'y' * 100000)", LIMIT),
    "huge-format-filter": ("'%99999999999s'|format('x')", LIMIT),
    "huge-batch-filter": ("[1]|batch(10**10, 0)|list", LIMIT),
    "huge-translate": ("('x' * 100000).translate({120: 'y' * 100000})", LIMIT),
    "float-overflow": ("10.0 ** 10000", "OverflowError|Result too large|failed"),
}


@pytest.fixture
def sandboxed(engine: ExpressionEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ExpressionEngine:
    monkeypatch.chdir(tmp_path)  # where a successful escape would create 'pwned'
    return engine


def _context() -> dict[str, Any]:
    return {"inputs": {"names": [1, 2]}, "fn": _context}


@pytest.mark.parametrize(("payload", "message"), ESCAPES.values(), ids=ESCAPES.keys())
def test_escape_fails_in_expression(sandboxed: ExpressionEngine, tmp_path: Path, payload: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        sandboxed.evaluate(payload, _context())

    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(("payload", "message"), ESCAPES.values(), ids=ESCAPES.keys())
def test_escape_fails_in_template(sandboxed: ExpressionEngine, tmp_path: Path, payload: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        sandboxed.render("x {{ " + payload + " }}", _context())

    assert not (tmp_path / "pwned").exists()


TEMPLATE_ONLY = {
    "template-reference-context": (
        "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('touch pwned').read() }}",
        SANDBOX,
    ),
    "doubling-with-concat": (
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        LIMIT,
    ),
    "doubling-with-plus": (
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        LIMIT,
    ),
    "huge-output": ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "rendered text is longer"),
    "recursive-macro": ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError"),
    "deep-nesting": ("{{ " + "(" * 300 + "1" + ")" * 300 + " }}", "too complex|RecursionError|nested"),
}


@pytest.mark.parametrize(("template", "message"), TEMPLATE_ONLY.values(), ids=TEMPLATE_ONLY.keys())
def test_template_escape_fails(sandboxed: ExpressionEngine, tmp_path: Path, template: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        sandboxed.render(template, _context())

    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'ab' * 3", "ababab"),
        ("2 ** 100", 2**100),
        ("'%05.1f' % 3.14159", "003.1"),
        ("'{:>5}'.format('a')", "    a"),
        ("'a,b'.replace(',', '; ')", "a; b"),
        ("', '.join(['a', 'b'])", "a, b"),
        ("['a', 'b']|join('-')", "a-b"),
        ("'x'|center(5)", "  x  "),
        ("'%s=%s'|format('a', 1)", "a=1"),
        ("[1, 2] + [3]", [1, 2, 3]),
    ],
    ids=["repeat", "power", "percent", "format", "replace", "join", "join-filter", "center", "format-filter", "plus"],
)
def test_ordinary_use_of_limited_operations_works(
    plain_value: ExpressionEngine, expression: str, expected: Any
) -> None:
    assert plain_value.evaluate(expression, {}) == expected


@pytest.fixture
def plain_value() -> ExpressionEngine:
    return ExpressionEngine()


# -- the budget of one evaluation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("range(1000)|map('string')|map('center', 15000000)|list", "in all"),
        ("(range(100000)|list * 150)|sort", "items"),
        ("range(100000)|map('string')|map('center', 1000)|join", "in all|characters"),
    ],
    ids=["many-results-each-under-the-limit", "huge-list-to-sort", "join-of-many-wide-strings"],
)
def test_one_evaluation_is_bounded_in_total(sandboxed: ExpressionEngine, expression: str, message: str) -> None:
    started = time.monotonic()

    with pytest.raises(ExpressionError, match=message):
        sandboxed.evaluate(expression, {})

    assert time.monotonic() - started < 10


def test_one_evaluation_is_bounded_in_time(sandboxed: ExpressionEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_EVALUATION_SECONDS", 0.2)
    started = time.monotonic()

    with pytest.raises(ExpressionError, match="ran longer than"):
        sandboxed.evaluate("range(100000)|map('string')|map('upper')|map('lower')|map('title')|list|length", {})

    assert time.monotonic() - started < 5


def test_the_budget_is_per_evaluation(sandboxed: ExpressionEngine) -> None:
    # Each evaluation stays under the total; many in a row must all succeed.
    for _ in range(6):
        assert sandboxed.evaluate("range(10)|map('string')|map('center', 5000000)|list|length", {}) == 10
