"""``baton.resource_names``: stdlib-only, and the names it builds fit AWS's limits."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from baton import resource_names as names


def test_module_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(names.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    }
    assert imported, "the parse found no imports at all; the check is broken"
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
    assert not any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree))


def test_environment_variables_are_unique_and_prefixed() -> None:
    assert len(set(names.ENVIRONMENT_VARIABLES)) == len(names.ENVIRONMENT_VARIABLES) == 9
    assert all(name.startswith("BATON_") for name in names.ENVIRONMENT_VARIABLES)


@pytest.mark.parametrize(
    ("prefix", "valid"),
    [
        ("baton", True),
        ("baton-dev-2", True),
        ("b" * names.MAX_RESOURCE_PREFIX_LENGTH, True),
        ("b" * (names.MAX_RESOURCE_PREFIX_LENGTH + 1), False),
        ("", False),
        ("Baton", False),
        ("2baton", False),
        ("baton_dev", False),
    ],
    ids=[
        "plain",
        "hyphens-digits",
        "longest",
        "too-long",
        "empty",
        "upper",
        "digit-first",
        "underscore",
    ],
)
def test_is_valid_resource_prefix(prefix: str, valid: bool) -> None:
    assert names.is_valid_resource_prefix(prefix) is valid


def test_names_built_from_the_prefix() -> None:
    assert names.event_bus_name("baton") == "baton-bus"
    assert names.rule_name_prefix("baton") == "baton-rule-"
    assert names.schedule_name_prefix("baton") == "baton-schedule-"


def test_longest_prefix_leaves_room_in_rule_and_schedule_names() -> None:
    prefix = "b" * names.MAX_RESOURCE_PREFIX_LENGTH
    assert names.MAX_RULE_NAME_LENGTH - len(names.rule_name_prefix(prefix)) >= 32
    assert names.MAX_SCHEDULE_NAME_LENGTH - len(names.schedule_name_prefix(prefix)) >= 24


def test_names_the_stack_adds() -> None:
    assert names.schedule_group_name("baton") == "baton"
    assert [names.function_name("baton", role) for role in names.FUNCTION_ROLES] == [
        "baton-registrar", "baton-starter", "baton-worker", "baton-approver"
    ]  # fmt: skip
    assert names.ENV_SCHEDULE_GROUP.startswith("BATON_")
    assert names.ENV_SCHEDULE_GROUP not in names.ENVIRONMENT_VARIABLES


def test_longest_prefix_leaves_function_names_within_lambdas_limit() -> None:
    prefix = "b" * names.MAX_RESOURCE_PREFIX_LENGTH
    assert max(len(names.function_name(prefix, role)) for role in names.FUNCTION_ROLES) <= 64
