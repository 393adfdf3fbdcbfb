"""ExpressionEngine.references: the context names a template or expression reads."""

from __future__ import annotations

import pytest

from baton.errors import ExpressionError
from baton.expr import ExpressionEngine, Reference

S = Reference

TEMPLATE_CASES = {
    "step-output": ("{{ steps.build.outputs.x }}", [S("steps", ("build", "outputs", "x"))]),
    "quoted-key": ("{{ inputs['a b'] }}", [S("inputs", ("a b",))]),
    "step-id-at-top": ("{{ baseline.outputs.coverage }}", [S("baseline", ("outputs", "coverage"))]),
    "integer-key": ("{{ steps.fan.outputs[0] }}", [S("steps", ("fan", "outputs", 0))]),
    "negative-key": ("{{ inputs.list[-1] }}", [S("inputs", ("list", -1))]),
    "dynamic-key": (
        "{{ steps[inputs.which].outputs.x }}",
        [S("inputs", ("which",)), S("steps", ())],
    ),
    "bare-name": ("{{ index }}", [S("index")]),
    "function-excluded-args-kept": (
        "{{ hash(inputs.a, steps.b.outputs.c) }}",
        [S("inputs", ("a",)), S("steps", ("b", "outputs", "c"))],
    ),
    "method-name-dropped": ("{{ inputs.name.upper() }}", [S("inputs", ("name",))]),
    "result-of-call": ("{{ read_json(inputs.path).version }}", [S("inputs", ("path",))]),
    "filter-args": ("{{ inputs.a | default(env.B) }}", [S("inputs", ("a",)), S("env", ("B",))]),
    "loop-variable-excluded": (
        "{% for f in inputs.files %}{{ f.name }}{{ loop.index }}{% endfor %}",
        [S("inputs", ("files",))],
    ),
    "loop-filter": (
        "{% for f in inputs.files if f != secrets.X %}{{ f }}{% endfor %}",
        [S("inputs", ("files",)), S("secrets", ("X",))],
    ),
    "set-excluded": ("{% set n = inputs.n %}{{ n + 1 }}", [S("inputs", ("n",))]),
    "macro-args-excluded": ("{% macro m(a) %}{{ a }}{{ x }}{% endmacro %}{{ m(1) }}", [S("x")]),
    "conditional-in-source-order": (
        "{{ a.x if b.y else c.z }}",
        [S("a", ("x",)), S("b", ("y",)), S("c", ("z",))],
    ),
    "duplicates-removed": ("{{ inputs.a }} {{ inputs.a }} {{ inputs.b }}", [S("inputs", ("a",)), S("inputs", ("b",))]),
    "no-names": ("plain {{ 1 + 2 }}", []),
}


@pytest.mark.parametrize(("template", "expected"), TEMPLATE_CASES.values(), ids=TEMPLATE_CASES.keys())
def test_template_references(template: str, expected: list[Reference]) -> None:
    assert ExpressionEngine().references(template, bare=False) == expected


BARE_CASES = {
    "comparison": ("steps.test.outputs.exit_code == 0", [S("steps", ("test", "outputs", "exit_code"))]),
    "template-part": (
        "parse_coverage(x).line_coverage < {{ inputs.target_coverage }}",
        [S("x"), S("inputs", ("target_coverage",))],
    ),
    "item": ("item.path | length > index", [S("item", ("path",)), S("index")]),
    "not-a-string": (True, []),
}


@pytest.mark.parametrize(("expression", "expected"), BARE_CASES.values(), ids=BARE_CASES.keys())
def test_expression_references(expression: str | bool, expected: list[Reference]) -> None:
    assert ExpressionEngine().references(expression, bare=True) == expected


def test_references_reports_syntax_errors() -> None:
    with pytest.raises(ExpressionError, match="invalid template"):
        ExpressionEngine().references("{{ x. }}", bare=False)


def test_reference_prints_as_a_path() -> None:
    assert str(S("steps", ("build", "outputs", 0))) == "steps.build.outputs[0]"
