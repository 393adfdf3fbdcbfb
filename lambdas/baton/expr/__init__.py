"""Baton's expression language: sandboxed ``{{ }}`` templates and bare expressions.

``ExpressionEngine`` renders and evaluates; ``make_functions`` builds the functions expressions
call; ``render_shell`` turns a ``command:`` template into a script whose template values
travel in environment variables, so no value can change the command's structure.
"""

from baton.expr.engine import ExpressionEngine
from baton.expr.functions import make_functions
from baton.expr.references import Reference
from baton.expr.shell import (
    ShellScript,
    render_argv,
    render_shell,
    shell_references,
    shell_template_problems,
)

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
