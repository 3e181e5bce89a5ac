"""One vocabulary (hwmap.vocabulary, hwmap.units): each list of words is written once, the CLI's choices are built
from it, and path selection says ``goal`` where the mapper says ``objective``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hwmap import units, vocabulary

PACKAGE = Path(__file__).resolve().parents[1] / "hwmap"
LISTS = {name: getattr(vocabulary, name) for name in vocabulary.__all__
         if isinstance(getattr(vocabulary, name), tuple)} | {"BUDGET_UNITS": units.BUDGET_UNITS}
HOMES = {"BUDGET_UNITS": "units.py"}


def _string_groups(tree: ast.AST):
    """(line, set of words) of every tuple/list/set of string constants, Literal[...] of strings, and Enum class
    whose members are strings."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items = node.elts
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("Literal"):
            items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        elif isinstance(node, ast.ClassDef) and any("Enum" in ast.unparse(base) for base in node.bases):
            items = [stmt.value for stmt in node.body if isinstance(stmt, ast.Assign)]
        else:
            continue
        if len(items) > 1 and all(isinstance(i, ast.Constant) and isinstance(i.value, str) for i in items):
            yield node.lineno, frozenset(i.value for i in items)


def _groups_by_file():
    return {path: list(_string_groups(ast.parse(path.read_text(encoding="utf-8"))))
            for path in sorted(PACKAGE.rglob("*.py"))}


@pytest.mark.parametrize("name", sorted(LISTS))
def test_each_list_is_written_once(name):
    words = frozenset(LISTS[name])
    home = PACKAGE / HOMES.get(name, "vocabulary.py")
    copies = sorted({f"{path.relative_to(PACKAGE.parent)}:{line}" for path, groups in _groups_by_file().items()
                     for line, group in groups if group == words and path != home})
    assert copies == [], f"{name} is written again outside {home.name}"
    _line_of(home, name)  # and defined there (literally, or from the lists beside it)


def _line_of(path: Path, name: str) -> int:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(getattr(t, "id", None) == name for t in targets):
                return node.value.lineno
    raise AssertionError(f"{name} is not defined in {path}")


def test_the_grep_sees_a_copy():
    tree = ast.parse('MODES = ("auto", "sdpa", "eager", "compiled")\nX = Literal["ws", "os", "is"]\n'
                     'class Goal(str, Enum):\n    accuracy = "accuracy"\n    frontier = "frontier"\n')
    found = {group for _, group in _string_groups(tree)}
    assert {frozenset(vocabulary.GPU_MODES), frozenset(vocabulary.DATAFLOWS),
            frozenset(vocabulary.SELECTION_GOALS)} <= found


# option name -> the vocabulary list its choices must be
CHOICES = {"dataflow": vocabulary.DATAFLOWS, "mode": vocabulary.GPU_MODES, "dtype": vocabulary.GPU_DTYPES,
           "objective": vocabulary.MAPPER_OBJECTIVES, "goal": vocabulary.SELECTION_GOALS,
           "metric": vocabulary.BUDGET_METRICS, "by": vocabulary.BREAKDOWNS, "mapping": vocabulary.MAPPINGS,
           "fusion": vocabulary.FUSIONS, "kind": vocabulary.TEMPLATE_KINDS}


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name)), command


def test_cli_choices_are_the_vocabulary():
    import typer

    from hwmap.cli import _register_commands, app
    from tests.cli.test_api_contract import _choices

    _register_commands([])  # every command module
    checked = set()
    for name, command in _commands(typer.main.get_group(app)):
        for option in command.params:
            choices = _choices(option)
            if option.name in CHOICES and choices is not None:
                assert tuple(choices) == CHOICES[option.name], (name, option.name)
                checked.add(option.name)
    assert checked == set(CHOICES)


def _public_names(path: Path):
    """Module-level public definitions, their parameters, and public fields, methods and properties of classes."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
            yield node.name
            if isinstance(node, ast.FunctionDef):
                yield from (a.arg for a in (*node.args.args, *node.args.kwonlyargs))
            else:
                for item in node.body:
                    if isinstance(item, ast.AnnAssign):
                        yield item.target.id
                    elif isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                        yield item.name
                        yield from (a.arg for a in (*item.args.args, *item.args.kwonlyargs))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for target in [node.target] if isinstance(node, ast.AnnAssign) else node.targets:
                if isinstance(target, ast.Name) and not target.id.startswith("_"):
                    yield target.id


def test_selection_says_goal_not_objective():
    names = {f"{path.name}: {name}" for path in sorted((PACKAGE / "select").glob("*.py"))
             for name in _public_names(path) if "objective" in name.lower()}
    assert names == set()
    problem = {name for name in _public_names(PACKAGE / "select" / "problem.py")}
    assert {"goal", "goal_value", "SelectionTerms"} <= problem  # the check reads what it should
