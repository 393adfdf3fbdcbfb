"""ExpressionEngine: rendering, native values, bare expressions, strictness, syntax checks."""

from __future__ import annotations

from typing import Any

import pytest

from baton.errors import ExpressionError
from baton.expr import ExpressionEngine
from baton.expr.engine import _LRUCache

CONTEXT: dict[str, Any] = {
    "inputs": {"name": "app.py", "target_coverage": 90, "flags": ["a", "b"], "text": "1 or true"},
    "steps": {
        "test": {"status": "succeeded", "outputs": {"exit_code": 0, "report": {"lines": 12}}},
        "lint": {"status": "skipped", "outputs": {}},
    },
    "item": {"id": 7},
    "nothing": None,
    "yes": True,
}


@pytest.fixture
def plain_engine() -> ExpressionEngine:
    return ExpressionEngine()


RENDER_CASES = {
    "plain-text": ("no templates here", "no templates here"),
    "name": ("file {{ inputs.name }}", "file app.py"),
    "number": ("{{ inputs.target_coverage }}%", "90%"),
    "none-is-empty": ("[{{ nothing }}]", "[]"),
    "true-lowercase": ("{{ yes }}/{{ not yes }}", "true/false"),
    "list-as-json": ("{{ inputs.flags }}", '["a","b"]'),
    "dict-as-json": ("{{ steps.test.outputs }}", '{"exit_code":0,"report":{"lines":12}}'),
    "non-ascii-json": ("{{ ['é'] }}", '["é"]'),
    "loop": ("{% for f in inputs.flags %}{{ loop.index }}{{ f }} {% endfor %}", "1a 2b "),
    "filter": ("{{ inputs.name | upper }}", "APP.PY"),
    "concat-like-output": ("{{ 'x=' ~ yes ~ nothing }}", "x=true"),
    "trailing-newline-kept": ("line\n", "line\n"),
    "generator-as-list": ("{{ inputs.flags | map('upper') }}", '["A","B"]'),
}


@pytest.mark.parametrize(("template", "expected"), RENDER_CASES.values(), ids=RENDER_CASES.keys())
def test_render(plain_engine: ExpressionEngine, template: str, expected: str) -> None:
    assert plain_engine.render(template, CONTEXT) == expected


RENDER_VALUE_CASES = {
    "int": ("{{ inputs.target_coverage }}", 90),
    "arithmetic": ("{{ inputs.target_coverage + 1 }}", 91),
    "list": ("{{ inputs.flags }}", ["a", "b"]),
    "dict": (" {{ steps.test.outputs }}\n", {"exit_code": 0, "report": {"lines": 12}}),
    "bool": ("{{ yes }}", True),
    "none": ("{{ nothing }}", None),
    "string-stays-string": ("{{ inputs.text }}", "1 or true"),
    "range-becomes-list": ("{{ range(3) }}", [0, 1, 2]),
    "generator-becomes-list": ("{{ inputs.flags | map('upper') }}", ["A", "B"]),
    "tuple-becomes-list": ("{{ (1, 2) }}", [1, 2]),
    "text-around-is-text": ("n={{ inputs.target_coverage }}", "n=90"),
    "two-templates-are-text": ("{{ 1 }}{{ 2 }}", "12"),
    "plain-string": ("hello", "hello"),
    "non-string-passes": (42, 42),
    "list-passes": ([1, "{{ x }}"], [1, "{{ x }}"]),
}


@pytest.mark.parametrize(("template", "expected"), RENDER_VALUE_CASES.values(), ids=RENDER_VALUE_CASES.keys())
def test_render_value_gives_native_values(plain_engine: ExpressionEngine, template: Any, expected: Any) -> None:
    result = plain_engine.render_value(template, CONTEXT)

    assert result == expected
    assert type(result) is type(expected)


def test_render_data_renders_every_string_but_not_keys(plain_engine: ExpressionEngine) -> None:
    data = {
        "{{ inputs.name }}": "{{ inputs.name }}",
        "nested": [{"n": "{{ inputs.target_coverage }}"}, "x {{ yes }}", 3, None],
    }

    assert plain_engine.render_data(data, CONTEXT) == {
        "{{ inputs.name }}": "app.py",
        "nested": [{"n": 90}, "x true", 3, None],
    }


EVALUATE_CASES = {
    "comparison": ("steps.test.outputs.exit_code == 0", True),
    "status": ("steps.lint.status == 'skipped'", True),
    "arithmetic": ("inputs.target_coverage // 4", 22),
    "list": ("inputs.flags + ['c']", ["a", "b", "c"]),
    "template-as-operand": ("steps.test.outputs.report.lines < {{ inputs.target_coverage }}", True),
    "template-with-filter": ("{{ inputs.flags | length }} == 2", True),
    "string-literal-with-braces": ("'{{' ~ inputs.name", "{{app.py"),
    "bool-passes": (False, False),
    "defined-test": ("inputs.missing is defined", False),
    "generator-becomes-list": ("inputs.flags | map('upper')", ["A", "B"]),
}


@pytest.mark.parametrize(("expression", "expected"), EVALUATE_CASES.values(), ids=EVALUATE_CASES.keys())
def test_evaluate(plain_engine: ExpressionEngine, expression: str | bool, expected: Any) -> None:
    assert plain_engine.evaluate(expression, CONTEXT) == expected


def test_template_in_expression_is_an_operand_not_source(plain_engine: ExpressionEngine) -> None:
    # GIVEN an input whose text is itself an expression: spliced as text it would be `1 or true`
    context = {"inputs": {"x": "1 or true"}}

    # THEN it is one string operand: the value, compared as a string, and never `or`-ed in
    assert plain_engine.evaluate("{{ inputs.x }}", context) == "1 or true"
    assert plain_engine.evaluate("{{ inputs.x }} == '1 or true'", context) is True
    assert plain_engine.evaluate("{{ inputs.x }} == 1", context) is False
    assert plain_engine.evaluate("not {{ inputs.x }}", context) is False


def test_template_in_expression_cannot_escape_parentheses(plain_engine: ExpressionEngine) -> None:
    context = {"inputs": {"x": ") or (1"}}

    assert plain_engine.evaluate("{{ inputs.x }} == 'no'", context) is False


STRICT_CASES = {
    "missing-name": ("{{ nope }}", "'nope' is undefined"),
    "missing-key": ("{{ inputs.nope }}", "no attribute 'nope'"),
    "missing-step": ("{{ steps.deploy.outputs.url }}", "no attribute 'deploy'"),
    "missing-inside-list": ("{{ [inputs.nope] }}", "no attribute 'nope'"),
    "missing-in-text": ("x {{ inputs.nope }} y", "no attribute 'nope'"),
    "missing-in-concat": ("{{ 'a' ~ inputs.nope }}", "no attribute 'nope'"),
}


@pytest.mark.parametrize(("template", "message"), STRICT_CASES.values(), ids=STRICT_CASES.keys())
def test_undefined_names_are_errors(plain_engine: ExpressionEngine, template: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        plain_engine.render_value(template, CONTEXT)


@pytest.mark.parametrize(
    "expression",
    ["inputs.nope", "inputs.nope == 1", "[steps.nope]", "{{ inputs.nope }}"],
    ids=["bare", "compared", "in-list", "in-template-part"],
)
def test_undefined_names_in_expressions_are_errors(plain_engine: ExpressionEngine, expression: str) -> None:
    with pytest.raises(ExpressionError, match="nope"):
        plain_engine.evaluate(expression, CONTEXT)


EVALUATION_ERRORS = {
    "division-by-zero": ("1 / 0", "ZeroDivisionError"),
    "type-error": ("1 + 'a'", "TypeError"),
    "bad-method": ("'a'.index('b')", "ValueError"),
}


@pytest.mark.parametrize(("expression", "message"), EVALUATION_ERRORS.values(), ids=EVALUATION_ERRORS.keys())
def test_evaluation_errors_name_the_expression(plain_engine: ExpressionEngine, expression: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message) as caught:
        plain_engine.evaluate(expression, CONTEXT)

    assert repr(expression) in str(caught.value)


CHECK_ERRORS = {
    "unclosed-template": ("a {{ x", False, "unexpected end of template"),
    "bad-operator": ("line one\n{{ x + }}", False, r"\(line 2\)"),
    "unknown-filter": ("{{ x | nosuchfilter }}", False, "No filter named 'nosuchfilter'"),
    "unclosed-block": ("{% if x %}yes", False, "endif"),
    "bare-trailing-text": ("x y", True, "chunk after expression"),
    "bare-incomplete": ("x ==", True, "unexpected 'end of template'"),
    "bare-unclosed-part": ("x == {{ y", True, "missing"),
    "bare-empty-part": ("x == {{ }}", True, "empty template"),
    "bare-whitespace-control": ("{{- x }}", True, "whitespace control"),
}


@pytest.mark.parametrize(("text", "bare", "message"), CHECK_ERRORS.values(), ids=CHECK_ERRORS.keys())
def test_check_reports_syntax_errors(plain_engine: ExpressionEngine, text: str, bare: bool, message: str) -> None:
    with pytest.raises(ExpressionError, match=message) as caught:
        plain_engine.check(text, bare=bare)

    assert ("invalid expression" if bare else "invalid template") in str(caught.value)


@pytest.mark.parametrize(
    ("text", "bare"),
    [("{{ a.b[0] | default(1) }} and {% for x in y %}{{ x }}{% endfor %}", False), ("a.b == {{ c }}", True)],
    ids=["template", "bare"],
)
def test_check_accepts_valid_syntax_without_a_context(plain_engine: ExpressionEngine, text: str, bare: bool) -> None:
    plain_engine.check(text, bare=bare)  # names are not resolved at check time


def test_error_messages_truncate_long_expressions(plain_engine: ExpressionEngine) -> None:
    long_expression = "nope + " + "1 + " * 200 + "1"

    with pytest.raises(ExpressionError) as caught:
        plain_engine.evaluate(long_expression, {})

    assert len(str(caught.value)) < 400


def test_compiled_templates_are_cached(plain_engine: ExpressionEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    env = plain_engine._env
    compiled: list[object] = []
    original = env.from_string

    def counting_from_string(source: Any, *args: Any, **kwargs: Any) -> Any:
        compiled.append(source)
        return original(source, *args, **kwargs)

    monkeypatch.setattr(env, "from_string", counting_from_string)

    for _ in range(3):
        plain_engine.render("n={{ inputs.target_coverage }}", CONTEXT)

    assert len(compiled) == 1


def test_lru_cache_evicts_the_least_recently_used() -> None:
    cache: _LRUCache[str] = _LRUCache(2)
    builds: list[str] = []

    def build(key: str) -> str:
        builds.append(key)
        return key.upper()

    cache.get("a", build)
    cache.get("b", build)
    cache.get("a", build)  # "a" is now the most recent
    cache.get("c", build)  # evicts "b"
    cache.get("a", build)
    cache.get("b", build)

    assert builds == ["a", "b", "c", "b"]


def test_functions_become_globals() -> None:
    engine = ExpressionEngine({"double": lambda value: value * 2})

    assert engine.evaluate("double(21)", {}) == 42
    assert engine.render("{{ double('ab') }}", {}) == "abab"


def test_dict_keys_win_over_dict_methods(plain_engine: ExpressionEngine) -> None:
    context = {"data": {"items": [1, 2], "values": "v"}, "plain": {"a": 1}}

    assert plain_engine.evaluate("data.items", context) == [1, 2]
    assert plain_engine.render("{{ data.values }}", context) == "v"
    assert plain_engine.evaluate("plain.items() | list", context) == [["a", 1]]
