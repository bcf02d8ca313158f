"""No two modules of bots/ or jobs/ import each other, directly or round a loop, with the imports
inside functions counted too (a late import hides a cycle from Python, not from the reader).

The one exception is a package's ``__init__`` loading its own modules (``bots.commands.load``
imports every command module, each of which registers on the package's registry): that is how
the package is assembled, not two layers leaning on each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports anywhere in it, functions included.

    ``from a.b import c`` counts as importing ``a.b`` and, when it is a module, ``a.b.c``.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m in known and m != name}


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    paths = {module_name(p, root): p for package in packages for p in (root / package).rglob("*.py")}
    known = set(paths)
    graph = {name: imports(path, name, known) for name, path in paths.items()}
    for name, path in paths.items():
        if path.name == "__init__.py":  # a package loading its own modules (see the module docstring)
            graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that reach each other (strongly connected, more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_bots_and_jobs_have_no_import_cycle():
    assert cycles(import_graph(ROOT, ("bots", "jobs"))) == []


def test_discord_buttons_commands_render_and_the_cli_runner_stand_in_one_direction():
    graph = import_graph(ROOT, ("bots",))
    assert "bots.discord.render" in graph["bots.discord.commands"]
    assert "bots.discord.buttons" in graph["bots.discord.render"]
    assert graph["bots.discord.buttons"] & {"bots.discord.commands", "bots.discord.render"} == set()
    assert "bots.runner" in graph["bots.cli"]  # inside a function: counted
    assert "bots.cli" not in graph["bots.runner"]


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text("def thing():\n    from pkg import a\n    return a\n")
    (package / "c.py").write_text("from . import a\n")
    assert cycles(import_graph(tmp_path, ("pkg",))) == [["pkg.a", "pkg.b"]]
