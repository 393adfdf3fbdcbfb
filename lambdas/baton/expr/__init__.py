"""Baton's expression language: sandboxed ``{{ }}`` templates and bare expressions.

``ExpressionEngine`` renders and evaluates; ``make_functions`` builds the functions expressions
call; ``render_shell`` turns a ``command:`` template into a script whose template values
travel in environment variables, so no value can change the command's structure.

The names are loaded on first use: importing a light module of this package (``markers``)
must not pull in Jinja2, which the Lambda worker's cold start does not pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from baton.expr.engine import ExpressionEngine as ExpressionEngine
    from baton.expr.functions import make_functions as make_functions
    from baton.expr.references import Reference as Reference
    from baton.expr.shell import ShellScript as ShellScript
    from baton.expr.shell import render_argv as render_argv
    from baton.expr.shell import render_shell as render_shell
    from baton.expr.shell import shell_references as shell_references
    from baton.expr.shell import shell_template_problems as shell_template_problems

_HOMES = {
    "ExpressionEngine": "baton.expr.engine",
    "make_functions": "baton.expr.functions",
    "Reference": "baton.expr.references",
    "ShellScript": "baton.expr.shell",
    "render_argv": "baton.expr.shell",
    "render_shell": "baton.expr.shell",
    "shell_references": "baton.expr.shell",
    "shell_template_problems": "baton.expr.shell",
}

__all__ = [
    "ExpressionEngine",
    "Reference",
    "ShellScript",
    "make_functions",
    "render_argv",
    "render_shell",
    "shell_references",
    "shell_template_problems",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'baton.expr' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
