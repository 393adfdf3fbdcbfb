"""Builtins whose options take variable names or code: ``read``, ``mapfile``/``readarray``,
``printf -v``, ``wait -p``, and the command string of ``bash -c``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from baton.expr.shell_findings import CODE_VARIABLES, Finding, ShellFacts, Word, integer_only, names_variable, refused
from baton.expr.shell_model import Slot


@dataclass(frozen=True)
class OptionRules:
    """How a builtin reads its options: which take an argument, and what that argument is."""

    with_argument: str
    names: str = ""  # options whose argument is a variable name
    code: str = ""  # options whose argument is run as code
    positional_names: bool = False  # whether the operands are variable names


OPTION_RULES = {
    "read": OptionRules("adinNptu", names="a", positional_names=True),
    "mapfile": OptionRules("dnOsuCc", code="C", positional_names=True),
    "readarray": OptionRules("dnOsuCc", code="C", positional_names=True),
    "printf": OptionRules("v", names="v"),
    "wait": OptionRules("p", names="p"),
}


def shell_command_string(name: str, args: list[int], texts: list[str], by_word: dict[int, list[Slot]]) -> list[Finding]:
    """``bash -c STRING``: the first operand after an option word holding ``c`` is code."""
    seen_c = False
    for index in args:
        text = texts[index]
        if text.startswith("-") and not text.startswith("--"):
            seen_c = seen_c or "c" in text
        elif seen_c:
            why = f"is the command string of `{name} -c`, which runs it as shell code"
            return [refused(slot, why) for slot in by_word.get(index, [])]
    return []


def optioned(
    name: str,
    args: list[int],
    texts: list[str],
    words: Sequence[Word],
    by_word: dict[int, list[Slot]],
    *,
    facts: ShellFacts,
) -> list[Finding]:
    """``read``, ``mapfile``, ``printf``, ``wait``: options (glued or not) and operands."""
    rules = OPTION_RULES[name]
    findings: list[Finding] = []
    targets: list[str] = []
    pending = ""  # the option whose argument is the next word
    options_done = False
    for index in args:
        text, slots = texts[index], by_word.get(index, [])
        if pending:
            findings += _option_argument(name, pending, rules, slots)
            targets += [text] if pending in rules.names else []
            pending = ""
        elif not options_done and text == "--":
            options_done = True
        elif not options_done and text.startswith("-") and len(text) > 1:
            letter_at = next((n for n, char in enumerate(text) if n and char in rules.with_argument), None)
            if letter_at is None:
                findings += [refused(slot, f"is an option of `{name}`") for slot in slots]
                continue
            glued = [slot for slot in slots if slot.start - words[index].start > letter_at]
            early = [slot for slot in slots if slot not in glued]
            findings += [refused(slot, f"is an option of `{name}`") for slot in early]
            if letter_at + 1 < len(text):
                findings += _option_argument(name, text[letter_at], rules, glued)
                targets += [text[letter_at + 1 :]] if text[letter_at] in rules.names else []
            else:
                pending = text[letter_at]
        else:
            if not rules.positional_names:
                break
            findings += [names_variable(slot, name) for slot in slots]
            targets.append(text)
    every_slot = [slot for slots in by_word.values() for slot in slots]  # here-strings too
    return findings + _targets_evaluating_values(name, targets, every_slot, facts)


def _option_argument(name: str, option: str, rules: OptionRules, slots: list[Slot]) -> list[Finding]:
    if option in rules.code:
        return [refused(slot, f"is the argument of `{name} -{option}`, which runs it as shell code") for slot in slots]
    if option in rules.names:
        return [names_variable(slot, f"{name} -{option}") for slot in slots]
    return []


def _targets_evaluating_values(name: str, targets: list[str], slots: list[Slot], facts: ShellFacts) -> list[Finding]:
    """A value read into an integer or prompt variable is evaluated: every template of the
    command (here-strings included) could become that value."""
    if any(target in CODE_VARIABLES for target in targets):
        why = f"may become the value `{name}` stores in a variable bash runs as code"
        return [refused(slot, why) for slot in slots]
    if any(facts.is_integer(target) for target in targets):
        return [integer_only(slot, f"a value `{name}` stores in an integer variable (`declare -i`)") for slot in slots]
    return []
