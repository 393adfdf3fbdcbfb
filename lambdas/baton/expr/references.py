"""Which context names an expression reads, found from its syntax tree without evaluating it.

Validation uses this to report ``steps.nope.outputs.x`` or ``inputs.typo`` before anything
runs. Names the template binds itself (``for`` targets, ``set``, macro arguments) and the names
of called functions are not references; everything else read by name is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from jinja2 import nodes


@dataclass(frozen=True)
class Reference:
    """A name path read by an expression: ``steps.build.outputs.x`` is
    ``Reference("steps", ("build", "outputs", "x"))``.

    The path stops at the first key that is not a constant string or integer
    (``steps[name].outputs`` gives ``Reference("steps", ())``).
    """

    root: str
    path: tuple[str | int, ...] = ()

    def __str__(self) -> str:
        return self.root + "".join(f".{key}" if isinstance(key, str) else f"[{key}]" for key in self.path)


def collect_references(tree: nodes.Node) -> list[Reference]:
    """Every reference in ``tree``, in source order, without duplicates."""
    walker = _Walker(_names_set_anywhere(tree))
    walker.walk(tree, frozenset())
    return list(dict.fromkeys(walker.found))


class _Walker:
    def __init__(self, assigned: frozenset[str]) -> None:
        # A name ``set`` anywhere counts as local everywhere: templates are short, and a
        # false "unknown name" at validate time would be worse than a missed one.
        self.assigned = assigned
        self.found: list[Reference] = []

    def walk(self, node: nodes.Node | None, bound: frozenset[str]) -> None:
        if node is None:
            return
        if isinstance(node, nodes.Name):
            self._add(node, (), bound)
        elif isinstance(node, nodes.Getattr | nodes.Getitem):
            self._chain(node, bound)
        elif isinstance(node, nodes.Call):
            self._call(node, bound)
        elif isinstance(node, nodes.CondExpr):
            self.walk_all([node.expr1, node.test, node.expr2], bound)
        elif isinstance(node, nodes.For):
            self._for(node, bound)
        elif isinstance(node, nodes.Macro | nodes.CallBlock):
            self._macro(node, bound)
        elif isinstance(node, nodes.With):
            self.walk_all(node.values, bound)
            self.walk_all(node.body, bound | _stored_names(node.targets))
        else:
            self.walk_all(node.iter_child_nodes(), bound)

    def walk_all(self, items: Iterable[nodes.Node | None], bound: frozenset[str]) -> None:
        for item in items:
            self.walk(item, bound)

    def _add(self, name: nodes.Name, path: tuple[str | int, ...], bound: frozenset[str]) -> None:
        if name.ctx == "load" and name.name not in bound and name.name not in self.assigned:
            self.found.append(Reference(name.name, path))

    def _chain(self, node: nodes.Expr, bound: frozenset[str], drop_last: bool = False) -> None:
        keys: list[str | int] = []
        while isinstance(node, nodes.Getattr | nodes.Getitem):
            key = node.attr if isinstance(node, nodes.Getattr) else _constant_key(node.arg)
            if key is None and isinstance(node, nodes.Getitem):
                # A computed key: the path after it is unknown, and the key is an expression.
                self.walk(node.arg, bound)
                keys.clear()
            elif key is not None:
                keys.append(key)
            node = node.node
        path = tuple(reversed(keys))
        if drop_last:
            path = path[:-1]
        if isinstance(node, nodes.Name):
            self._add(node, path, bound)
        else:
            self.walk(node, bound)

    def _call(self, node: nodes.Call, bound: frozenset[str]) -> None:
        callee = node.node
        if isinstance(callee, nodes.Getattr):
            self._chain(callee, bound, drop_last=True)  # a method: the object is the reference
        elif not isinstance(callee, nodes.Name):
            self.walk(callee, bound)
        self.walk_all([*node.args, *node.kwargs, node.dyn_args, node.dyn_kwargs], bound)

    def _for(self, node: nodes.For, bound: frozenset[str]) -> None:
        self.walk(node.iter, bound)
        inner = bound | _stored_names([node.target]) | {"loop"}
        self.walk(node.test, inner)
        self.walk_all(node.body, inner)
        self.walk_all(node.else_, bound)

    def _macro(self, node: nodes.Macro | nodes.CallBlock, bound: frozenset[str]) -> None:
        if isinstance(node, nodes.CallBlock):
            self.walk(node.call, bound)
        self.walk_all(node.defaults, bound)
        inner = bound | {arg.name for arg in node.args} | {"caller", "varargs", "kwargs"}
        self.walk_all(node.body, inner)


def _constant_key(arg: nodes.Expr) -> str | int | None:
    if isinstance(arg, nodes.Const) and isinstance(arg.value, str | int):
        return None if isinstance(arg.value, bool) else arg.value
    if isinstance(arg, nodes.Neg) and isinstance(arg.node, nodes.Const):
        value = arg.node.value
        return -value if isinstance(value, int) and not isinstance(value, bool) else None
    return None


def _stored_names(targets: Iterable[nodes.Node]) -> frozenset[str]:
    names: set[str] = set()
    for target in targets:
        names.update(name.name for name in target.find_all(nodes.Name) if name.ctx == "store")
        if isinstance(target, nodes.Name) and target.ctx == "store":
            names.add(target.name)
    return frozenset(names)


def _names_set_anywhere(tree: nodes.Node) -> frozenset[str]:
    targets = [node.target for node in tree.find_all(nodes.Assign)]
    targets += [node.target for node in tree.find_all(nodes.AssignBlock)]
    macros = {node.name for node in tree.find_all(nodes.Macro)}
    return _stored_names(targets) | macros
