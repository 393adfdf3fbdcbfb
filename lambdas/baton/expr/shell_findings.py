"""What the shell command rules share: the words of a command, what a script declares, and
the findings about its templates (refused, or integers only)."""

from __future__ import annotations

from dataclasses import dataclass, field

from baton.expr.shell_model import Slot

#: Variables whose value bash expands as a prompt or runs as code.
CODE_VARIABLES = frozenset({"PS0", "PS1", "PS2", "PS4", "PROMPT_COMMAND", "BASH_ENV", "ENV"})


@dataclass
class ShellFacts:
    """What the script declares, shared by all nesting levels of one scan.

    ``prior`` is the previous pass's facts: integer variables and disqualified names must be
    known before their first use in the text (a loop or a function can run a later line first).
    """

    prior: ShellFacts | None = None
    integer_names: set[str] = field(default_factory=set)
    associative: set[str] = field(default_factory=set)
    not_associative: set[str] = field(default_factory=set)

    def is_integer(self, name: str) -> bool:
        """Whether ``name`` is declared ``-i`` anywhere in the script."""
        return name in self.integer_names or (self.prior is not None and name in self.prior.integer_names)

    def is_associative(self, name: str) -> bool:
        """Whether ``name`` is surely an associative array here (see the module docstring)."""
        disqualified = self.prior.not_associative if self.prior is not None else set()
        return name in self.associative and name not in disqualified and name not in self.not_associative

    @property
    def needs_second_pass(self) -> bool:
        """Whether what was learnt could change what an earlier line means."""
        return self.prior is None and bool(self.integer_names or self.not_associative)


@dataclass(eq=False)
class Word:
    """One word of a simple command: ``src[start:end]``; ``kind`` is ``word``, ``redirect``
    (the target of ``>``) or ``operator`` (``&&``, ``(``... inside ``[[ ]]``)."""

    start: int
    end: int = -1
    kind: str = "word"


@dataclass(frozen=True)
class Finding:
    """A template in a position where bash evaluates values: refused, or integers only."""

    slot: Slot
    message: str
    integer_only: bool


def integer_only(slot: Slot, reason: str) -> Finding:
    return Finding(slot, reason, integer_only=True)


def refused(slot: Slot, why: str) -> Finding:
    return Finding(slot, f"template {slot.source} {why}; a value there would become code", False)


def names_variable(slot: Slot, builtin: str) -> Finding:
    return Finding(
        slot,
        f"template {slot.source} gives a variable name to `{builtin}`, and bash evaluates array "
        "subscripts in names as arithmetic, which can run commands; use a fixed name",
        integer_only=False,
    )
