"""The expression engine: ``{{ }}`` templates and bare expressions in one Jinja sandbox.

Templates (``"coverage is {{ x }}%"``) render to text; a template that is exactly one
``{{ expr }}`` can also give the value itself (:meth:`ExpressionEngine.render_value`). Bare
expressions (``when:``, ``condition:``, ``for_each:``) are evaluated to a value; ``{{ e }}``
parts inside them become ``(e)`` sub-expressions, never text spliced into the source.

Every failure - syntax, an undefined name, a sandbox violation, an error while evaluating -
surfaces as :class:`baton.errors.ExpressionError` naming the expression.

Where Baton differs from plain Jinja, and why:

- an undefined name or attribute is an error, never an empty string (a typo must not pass);
- ``{{ }}`` output and ``~`` write none as ``""``, booleans as ``true``/``false`` and lists
  and dicts as compact JSON, as YAML and JSON users expect;
- ``data.items`` is the dict's ``items`` key when it has one (workflow data is JSON, where
  ``items``, ``values`` and ``keys`` are common keys), the method otherwise;
- a trailing newline is kept; ``lipsum`` is gone; sizes are limited (:mod:`.limits`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from jinja2 import Template, meta, nodes
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError
from jinja2.parser import Parser

from baton.errors import ExpressionError
from baton.expr import limits
from baton.expr.limits import MAX_TEXT_CHARS
from baton.expr.references import Reference, collect_references
from baton.expr.sandbox import BatonSandbox
from baton.expr.syntax import substitute_bare_templates
from baton.expr.values import to_native, to_text

_CACHE_SIZE = 1024
_SHOWN_CHARS = 200

# What evaluating untrusted expression code can raise besides Jinja's own errors; this is the
# sandbox boundary, so each becomes an ExpressionError rather than a crash of the engine.
_EVALUATION_ERRORS = (
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    AttributeError,
    RecursionError,
)

_T = TypeVar("_T")


@dataclass(frozen=True)
class _CompiledTemplate:
    template: Template
    #: Set when the template is exactly one ``{{ expr }}``: evaluates to the native value.
    single: TemplateExpression | None
    #: The context names the template reads: only these are handed to Jinja, which copies
    #: what it is given (a context with every step of a 10,000-step workflow is large).
    names: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _CompiledExpression:
    expression: TemplateExpression
    names: frozenset[str]


def _only(context: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """The part of ``context`` an expression reads (the others are Jinja globals or unset)."""
    return {name: context[name] for name in names if name in context}


def _free_names(tree: nodes.Template) -> frozenset[str]:
    return frozenset(meta.find_undeclared_variables(tree))


class _LRUCache(Generic[_T]):
    """A small thread-safe LRU map: parallel ``for_each`` items share one engine."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, _T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, build: Callable[[str], _T]) -> _T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build(key)  # outside the lock: compiling may be slow, and may fail
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


class ExpressionEngine:
    """Renders templates and evaluates bare expressions in a hardened Jinja sandbox.

    ``functions`` (see :func:`baton.expr.make_functions`) become global names. Undefined
    names and attributes are errors, never empty strings. Compiled templates are cached by
    source, as a run renders the same templates many times.
    """

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self._env = BatonSandbox(dict(functions or {}), finalize=to_text)
        self._templates: _LRUCache[_CompiledTemplate] = _LRUCache(_CACHE_SIZE)
        self._expressions: _LRUCache[_CompiledExpression] = _LRUCache(_CACHE_SIZE)

    def render(self, template: str, context: Mapping[str, Any]) -> str:
        """Render a ``{{ }}`` template to text."""
        with _translated_errors("template", template), limits.evaluation_budget():
            compiled = self._templates.get(template, self._compile_template)
            return _render_limited(compiled.template, _only(context, compiled.names))

    def render_value(self, template: Any, context: Mapping[str, Any]) -> Any:
        """Like :meth:`render`, but a template that is exactly one ``{{ expr }}`` (surrounding
        whitespace allowed) gives the expression's value: a number, list, dict... Values that
        are not strings pass through unchanged."""
        if not isinstance(template, str):
            return template
        with _translated_errors("template", template), limits.evaluation_budget():
            compiled = self._templates.get(template, self._compile_template)
            if compiled.single is None:
                return _render_limited(compiled.template, _only(context, compiled.names))
            return to_native(compiled.single(_only(context, compiled.names)))

    def render_data(self, data: Any, context: Mapping[str, Any]) -> Any:
        """Apply :meth:`render_value` to every string inside nested dicts and lists (dict keys
        are left as they are)."""
        if isinstance(data, dict):
            return {key: self.render_data(value, context) for key, value in data.items()}
        if isinstance(data, list | tuple):
            return [self.render_data(item, context) for item in data]
        return self.render_value(data, context)

    def evaluate(self, expression: str | bool, context: Mapping[str, Any]) -> Any:
        """Evaluate a bare expression (``steps.test.outputs.exit_code == 0``) to its value.

        ``{{ e }}`` parts become ``(e)`` sub-expressions before compiling, so a value can never
        change the expression's structure. Non-strings (``when: true``) pass through.
        """
        if not isinstance(expression, str):
            return expression
        with _translated_errors("expression", expression), limits.evaluation_budget():
            compiled = self._expressions.get(expression, self._compile_expression)
            return to_native(compiled.expression(_only(context, compiled.names)))

    def check(self, text: str, *, bare: bool) -> None:
        """Check syntax only (unknown filters and tests included); raises ``ExpressionError``."""
        kind = "expression" if bare else "template"
        with _translated_errors(kind, text):
            if bare:
                self._expressions.get(text, self._compile_expression)
            else:
                self._templates.get(text, self._compile_template)

    def references(self, text: str | bool, *, bare: bool) -> list[Reference]:
        """Every context name path ``text`` reads, in source order, without evaluating it."""
        if not isinstance(text, str):
            return []
        kind = "expression" if bare else "template"
        with _translated_errors(kind, text):
            tree = self._parse_bare(text) if bare else self._env.parse(text)
        return collect_references(tree)

    def _compile_template(self, source: str) -> _CompiledTemplate:
        template = self._env.from_string(source)
        tree = self._env.parse(source)
        names = _free_names(tree)
        expression = _single_expression(tree)
        if expression is None:
            return _CompiledTemplate(template, None, names)
        return _CompiledTemplate(template, self._compile_tree(expression), names)

    def _compile_expression(self, source: str) -> _CompiledExpression:
        compiled = self._env.compile_expression(substitute_bare_templates(source), undefined_to_none=False)
        tree = nodes.Template([nodes.Output([self._parse_bare(source)])], lineno=1)
        tree.set_environment(self._env)
        return _CompiledExpression(compiled, _free_names(tree))

    def _compile_tree(self, expression: nodes.Expr) -> TemplateExpression:
        # What Environment.compile_expression does, from an already parsed expression.
        body = [nodes.Assign(nodes.Name("result", "store"), expression, lineno=1)]
        template = self._env.from_string(nodes.Template(body, lineno=1))
        return TemplateExpression(template, undefined_to_none=False)

    def _parse_bare(self, text: str) -> nodes.Expr:
        parser = Parser(self._env, substitute_bare_templates(text), state="variable")
        expression = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno)
        return expression


def _single_expression(tree: nodes.Template) -> nodes.Expr | None:
    """The expression of a template that is exactly one ``{{ expr }}`` plus whitespace."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    parts = [
        node for node in tree.body[0].nodes if not (isinstance(node, nodes.TemplateData) and not node.data.strip())
    ]
    if len(parts) == 1 and not isinstance(parts[0], nodes.TemplateData):
        return parts[0]
    return None


def _render_limited(template: Template, context: Mapping[str, Any]) -> str:
    # Rendered chunk by chunk so a loop printing a large value stops at the limit instead
    # of first building the whole text.
    chunks: list[str] = []
    size = 0
    for chunk in template.generate(dict(context)):
        size += len(chunk)
        limits.tick()
        if size > MAX_TEXT_CHARS:
            raise ExpressionError(f"rendered text is longer than {MAX_TEXT_CHARS} characters")
        chunks.append(chunk)
    return "".join(chunks)


@contextmanager
def _translated_errors(kind: str, text: str) -> Iterator[None]:
    """Turn whatever evaluating ``text`` raised into an ``ExpressionError`` that names it."""
    shown = _shown(text)
    try:
        yield
    except TemplateSyntaxError as exc:
        line = f" (line {exc.lineno})" if exc.lineno else ""
        raise ExpressionError(f"invalid {kind} {shown}: {exc.message}{line}") from exc
    except SecurityError as exc:
        raise ExpressionError(f"{kind} {shown} is not allowed in the sandbox: {exc.message or exc}") from exc
    except (ExpressionError, TemplateError) as exc:
        raise ExpressionError(f"{kind} {shown} failed: {_message(exc)}") from exc
    except SyntaxError as exc:
        # Python's compiler refuses the code Jinja generates for very deeply nested input.
        raise ExpressionError(f"{kind} {shown} is too complex to compile: {exc.msg}") from exc
    except OverflowError as exc:
        # Jinja reports a range over MAX_RANGE items as an OverflowError.
        raise ExpressionError(f"{kind} {shown} failed: {exc}") from exc
    except _EVALUATION_ERRORS as exc:
        raise ExpressionError(f"{kind} {shown} failed: {type(exc).__name__}: {exc}") from exc


def _message(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc)


def _shown(text: str) -> str:
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "..."
    return repr(text)
