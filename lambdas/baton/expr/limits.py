"""Size limits that keep one expression from exhausting the process's memory.

Jinja's sandbox stops escapes but not amplification: ``'x' * 10**10``, ``10 ** 10 ** 10`` or
``s.replace('', s)`` chained a few times each build gigabytes from a few characters of source.
Every operation that can multiply a size is checked *before* it runs (afterwards is too late),
and every call or filter result is checked after, so a chain of small amplifications stops
at the first step past the limit.

One evaluation (one ``render``/``evaluate`` call) also has a budget: the sizes of all the
strings and lists it builds, added up, and its running time. Many results each under the
limit (``range(1000)|map('center', 15000000)``) exhaust the total; the clock is checked at
every call, filter and operator, and lists are limited in items so no single call (a
``sort``) can run for long between two checks.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from string import Formatter
from typing import Any

from baton.errors import ExpressionError

#: Longest string, list or rendered text an expression may build.
MAX_TEXT_CHARS = 16 * 1024 * 1024
#: Largest integer an expression may build, in bits (about 20,000 decimal digits).
MAX_INT_BITS = 65_536

#: Most items a list built by an expression may hold.
MAX_LIST_ITEMS = 1_000_000
#: Total characters and items all the results of one evaluation may add up to.
MAX_TOTAL_CHARS = 4 * MAX_TEXT_CHARS
#: Longest one evaluation may run.
MAX_EVALUATION_SECONDS = 5.0


@dataclass
class _Budget:
    deadline: float
    spent: int = 0


_BUDGET: ContextVar[_Budget | None] = ContextVar("baton_expression_budget", default=None)


@contextmanager
def evaluation_budget() -> Iterator[None]:
    """Bound the total size and running time of what runs inside (nested calls share it)."""
    if _BUDGET.get() is not None:
        yield
        return
    token = _BUDGET.set(_Budget(time.monotonic() + MAX_EVALUATION_SECONDS))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def tick() -> None:
    """Raise ``ExpressionError`` when the current evaluation is past its time."""
    budget = _BUDGET.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise ExpressionError(f"the expression ran longer than {MAX_EVALUATION_SECONDS:g}s")


def charge(size: int) -> None:
    """Count ``size`` characters or items built towards the evaluation's total."""
    budget = _BUDGET.get()
    if budget is None:
        return
    budget.spent += size
    if budget.spent > MAX_TOTAL_CHARS:
        raise ExpressionError(
            f"the expression built more than {MAX_TOTAL_CHARS} characters and items in all; "
            "compute large data in a step instead"
        )
    tick()


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})


def check_size(size: int, what: str) -> None:
    """Raise ``ExpressionError`` when ``what`` would hold more than ``MAX_TEXT_CHARS``."""
    if size > MAX_TEXT_CHARS:
        raise ExpressionError(
            f"{what} would have {size} characters or items; expressions are limited to {MAX_TEXT_CHARS}"
        )


def check_result(value: Any) -> Any:
    """Return ``value`` unchanged after checking a string or list result is not too large,
    counting it towards the evaluation's total."""
    if isinstance(value, str | list | tuple | bytes):
        check_size(len(value), "the result")
        if isinstance(value, list | tuple):
            check_items(len(value), "the result")
        charge(len(value))
    else:
        tick()
    return value


def check_items(count: int, what: str) -> None:
    """Raise ``ExpressionError`` when a list would hold more than ``MAX_LIST_ITEMS``."""
    if count > MAX_LIST_ITEMS:
        raise ExpressionError(f"{what} would have {count} items; lists in expressions are limited to {MAX_LIST_ITEMS}")


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Check an intercepted binary operator before it runs."""
    tick()
    if operator == "*":
        _check_multiply(left, right)
    elif operator == "**":
        _check_power(left, right)
    elif operator == "+" and _sized(left) and _sized(right):
        check_size(len(left) + len(right), "the result of '+'")
        charge(len(left) + len(right))
    elif operator == "%" and isinstance(left, str):
        values = right.values() if isinstance(right, Mapping) else right
        check_percent_format(left, values if isinstance(values, Iterable) else (values,))


def check_percent_format(template: str, values: Iterable[Any]) -> None:
    """Estimate the size of ``template % values`` and refuse ``*`` widths it cannot bound."""
    widths = count = 0
    for match in _PERCENT_SPEC.finditer(template):
        if "*" in (match.group(1), match.group(2)):
            raise ExpressionError("'*' widths in '%' formatting are not allowed in expressions")
        widths += int(match.group(1) or 0) + int(match.group(2) or 0)
        count += 1
    _check_format_estimate(template, widths, count, values)


def check_brace_format(template: str, values: Iterable[Any]) -> None:
    """Estimate the size of ``template.format(...)``; nested width fields are refused."""
    widths = count = 0
    for _literal, field, spec, _conversion in Formatter().parse(template):
        if field is None:
            continue
        if spec and "{" in spec:
            raise ExpressionError("nested fields in a format spec are not allowed in expressions")
        widths += sum(int(digits) for digits in re.findall(r"\d+", spec or ""))
        count += 1
    _check_format_estimate(template, widths, count, values)


def check_call(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Check a call to a ``str`` method that can amplify; returns the (materialised) args."""
    tick()
    owner = getattr(func, "__self__", None)
    name = getattr(func, "__name__", "")
    if not isinstance(owner, str):
        return args
    if name in _WIDTH_METHODS:
        _check_width(_arg(args, kwargs, 0, "width", 0), f"str.{name}()")
    elif name == "expandtabs":
        tabsize = _arg(args, kwargs, 0, "tabsize", 8)
        if isinstance(tabsize, int):
            check_size(len(owner) + owner.count("\t") * tabsize, "the result of expandtabs()")
    elif name == "replace" and len(args) >= 2:
        _check_replace(owner, args[0], args[1])
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        check_size(len(owner) * longest, "the result of translate()")
    elif name == "join" and args:
        items = _materialise(args[0])
        _check_join(owner, items)
        return (items, *args[1:])
    return args


def limited_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Wrap every filter so its result is size-checked, and pre-check the amplifying ones."""
    return {name: _limit_filter(name, func) for name, func in filters.items()}


def _limit_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # Filters marked pass_context / pass_eval_ctx / pass_environment get that object first.
    offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def limited(*args: Any, **kwargs: Any) -> Any:
        tick()
        args = (*args[:offset], *_pre_check_filter(name, args[offset:], kwargs))
        return check_result(func(*args, **kwargs))

    return limited


def _pre_check_filter(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    value, rest = (args[0], args[1:]) if args else (None, ())
    if name == "center":
        _check_width(_arg(rest, kwargs, 0, "width", 80), "center")
    elif name == "indent":
        width = _arg(rest, kwargs, 0, "width", 4)
        prefix = len(width) if isinstance(width, str) else width
        lines = str(value).count("\n") + 1
        _check_width(prefix, "indent")
        check_size(len(str(value)) + lines * int(prefix or 0), "the result of indent")
    elif name == "replace" and len(rest) >= 2:
        _check_replace(str(value), rest[0], rest[1])
    elif name == "join":
        items = _materialise(value)
        _check_join(str(_arg(rest, kwargs, 0, "d", "")), items)
        return (items, *rest)
    elif name == "format" and isinstance(value, str):
        check_percent_format(value, [*rest, *kwargs.values()])
    elif name == "wordwrap":
        wrap = _arg(rest, kwargs, 2, "wrapstring", None)
        text = str(value)
        check_size(len(text) + (len(text) + 1) * len(wrap or "\n"), "the result of wordwrap")
    elif name in ("batch", "slice"):
        _check_width(_arg(rest, kwargs, 0, "linecount" if name == "batch" else "slices", 1), name)
    elif name == "tojson":
        _check_width(_arg(rest, kwargs, 0, "indent", 0), "tojson indent")
    return args


def _check_multiply(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise ExpressionError(f"the result of '*' would exceed {MAX_INT_BITS} bits")
        return
    sequence, count = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(count, int) and _sized(sequence):
        check_size(len(sequence) * max(count, 0), "the result of '*'")
        if isinstance(sequence, list | tuple):
            check_items(len(sequence) * max(count, 0), "the result of '*'")


def _check_power(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 0:
        return  # floats overflow with an error instead of growing; negative powers shrink
    if abs(base) > 1 and exponent * math.log2(abs(base)) > MAX_INT_BITS:
        raise ExpressionError(f"the result of '**' would exceed {MAX_INT_BITS} bits")


def _check_replace(text: str, old: Any, new: Any) -> None:
    if isinstance(old, str) and isinstance(new, str):
        occurrences = text.count(old) if old else len(text) + 1
        check_size(len(text) + occurrences * len(new), "the result of replace")


def _check_join(separator: str, items: list[Any]) -> None:
    total = len(separator) * max(len(items) - 1, 0)
    total += sum(len(item) if isinstance(item, str) else 32 for item in items)
    check_size(total, "the result of join")


def _check_width(width: Any, what: str) -> None:
    if isinstance(width, int):
        check_size(width, f"the width given to {what}")


def _check_format_estimate(template: str, widths: int, count: int, values: Iterable[Any]) -> None:
    # str() of each value once is bounded by the values' own (already limited) sizes.
    longest = max((len(str(value)) for value in values), default=0)
    check_size(len(template) + widths + count * longest, "the formatted string")


def _materialise(items: Any) -> list[Any]:
    if isinstance(items, str):
        return list(items)
    if isinstance(items, Sized):
        check_size(len(items), "the joined sequence")
    result: list[Any] = []
    for item in items:
        result.append(item)
        if len(result) > MAX_TEXT_CHARS:
            check_size(len(result), "the joined sequence")
    return result


def _sized(value: Any) -> bool:
    return isinstance(value, str | list | tuple | bytes)


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: Any) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)
