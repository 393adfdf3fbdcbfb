"""The Jinja environment every Baton expression runs in: immutable sandbox plus size limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from baton.expr import limits


class _LimitedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` through the environment so string concatenation is size-checked.

    Jinja compiles ``~`` to a plain ``str`` join that no sandbox hook sees; a loop doubling a
    namespace attribute with ``~`` would otherwise grow without bound.
    """

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat_limited((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BatonSandbox(ImmutableSandboxedEnvironment):
    """``ImmutableSandboxedEnvironment`` with strict undefined names and amplification limits.

    Jinja's own sandbox already refuses private and internal attributes (``__class__``,
    ``__globals__``, ``gi_frame``, ``mro``...), mutation of lists and dicts, and ranges over
    ``MAX_RANGE`` items; this class adds the size checks of :mod:`baton.expr.limits`.
    """

    intercepted_binops = frozenset({"+", "*", "**", "%"})
    code_generator_class = _LimitedCodeGenerator

    def __init__(
        self,
        functions: Mapping[str, Callable[..., Any]],
        finalize: Callable[[Any], Any],
    ) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            finalize=finalize,
            # Rendered text must be the template's text: a YAML block scalar keeps its last
            # newline, and Jinja would silently drop it.
            keep_trailing_newline=True,
        )
        # lipsum(n) has no upper bound on n and is of no use in a workflow.
        self.globals.pop("lipsum", None)
        self.globals.update(functions)
        self.filters.update(limits.limited_filters(self.filters))
        self._to_text = finalize

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``obj.attribute``, where a dict's own key wins over a dict method of that name.

        Workflow data is JSON: ``response.json.items`` or ``outputs.values`` must be the data,
        not ``dict.items``; Jinja alone would give the method.
        """
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Run an intercepted operator after checking its result cannot be huge."""
        limits.check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(
        __self,  # Jinja's signature: the dunder names cannot clash with kwargs
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Call ``__obj`` from sandboxed code, size-checking amplifying ``str`` methods."""
        args = limits.check_call(__obj, args, kwargs)
        return limits.check_result(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Sandbox ``str.format`` as Jinja does, and bound the size of its result."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template: str = value.__self__
        is_format_map = value.__name__ == "format_map"

        def limited(*args: Any, **kwargs: Any) -> str:
            if is_format_map and args and isinstance(args[0], Mapping):
                values = list(args[0].values())
            else:
                values = [*args, *kwargs.values()]
            limits.check_brace_format(template, values)
            return wrapped(*args, **kwargs)

        return limited

    def concat_limited(self, parts: tuple[Any, ...]) -> str:
        """Join the operands of ``~`` (called from compiled templates).

        Operands become text exactly as ``{{ }}`` output does (``true``, ``""`` for none,
        JSON for lists), so ``"flag=" ~ x`` and ``flag={{ x }}`` agree.
        """
        texts = [str(self._to_text(part)) for part in parts]
        limits.check_size(sum(map(len, texts)), "the result of '~'")
        return "".join(texts)
