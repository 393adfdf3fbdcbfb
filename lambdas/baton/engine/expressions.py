"""The engine's door to ``baton.expr``: built lazily, and skipped for text without templates.

Importing Jinja2 costs tens of milliseconds; a step like ``command: "true"`` or a
``condition: true`` never pays it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baton.expr.markers import has_template

if TYPE_CHECKING:
    from baton.expr import ExpressionEngine


class Expressions:
    """Renders templates and evaluates expressions against a context dictionary."""

    def __init__(self, workspace: Path, now: Callable[[], datetime]) -> None:
        self._workspace = workspace
        self._now = now
        self._engine: ExpressionEngine | None = None

    @property
    def workspace(self) -> Path:
        """The directory relative paths in templates and functions refer to."""
        return self._workspace

    @property
    def engine(self) -> ExpressionEngine:
        """The expression engine, created on first use."""
        if self._engine is None:
            from baton.expr import ExpressionEngine, make_functions

            self._engine = ExpressionEngine(functions=make_functions(self._workspace, self._now))
        return self._engine

    def render(self, template: str, context: dict[str, Any]) -> str:
        """Render a template to text."""
        if not has_template(template):
            return template
        return self.engine.render(template, context)

    def render_value(self, template: Any, context: dict[str, Any]) -> Any:
        """Render a template; a template that is one ``{{ expr }}`` keeps its value's type."""
        if not has_template(template):
            return template
        return self.engine.render_value(template, context)

    def render_data(self, data: Any, context: dict[str, Any]) -> Any:
        """Render every string inside lists and mappings."""
        if not has_template(data):
            return data
        return self.engine.render_data(data, context)

    def evaluate(self, expression: Any, context: dict[str, Any]) -> Any:
        """Evaluate a bare expression (a literal boolean or list is its own value)."""
        if isinstance(expression, bool | list | int | float) or expression is None:
            return expression
        return self.engine.evaluate(expression, context)

    def render_env(self, env: dict[str, str], context: dict[str, Any]) -> dict[str, str]:
        """Render environment values to strings."""
        if not has_template(env):
            return dict(env)
        return {name: self.engine.render(str(value), context) for name, value in env.items()}
