"""The library's shape, read from its source: stage packages, import direction, no cycle, short modules.

Every import counts, including the ones inside functions (a lazy import still ties two modules).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "karma"
MAX_LINES = 700
STAGES = ("data", "reward", "ppo", "evaluation", "report", "demo")
# A stage may import the core and the stages before it, never a later one (demo feeds every stage's
# rules but is fed by none; report reads evaluation's cell format).
LAYER = {"core": 0, "data": 1, "reward": 2, "ppo": 3, "evaluation": 4, "report": 5, "demo": 6}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Every karma module ``path`` imports; ``from karma.pkg import name`` counts ``karma.pkg.name``
    when that is a module, else ``karma.pkg``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("karma"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("karma"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in known else node.module)
    return found & known


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    # Package __init__ files hold only a docstring (checked below), so an edge to one is no cycle risk.
    return {name: imported_modules(path, known) - {name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), or self-loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in STAGES else "core"


def test_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_library():
    assert cycles(import_graph()) == []


def test_the_ppo_backend_does_not_import_its_orchestrator():
    assert "karma.ppo.training" not in import_graph()["karma.ppo.trl_backend"]


def test_stages_import_only_the_core_and_earlier_stages():
    wrong = [
        f"{module} ({layer(module)}) imports {target} ({layer(target)})"
        for module, targets in import_graph().items()
        for target in targets
        if LAYER[layer(target)] > LAYER[layer(module)]
    ]
    assert wrong == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_module_is_at_most_700_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_every_stage_is_a_package_with_a_docstring_and_nothing_else():
    for stage in STAGES:
        init = PACKAGE / stage / "__init__.py"
        tree = ast.parse(init.read_text())
        assert ast.get_docstring(tree), f"{init} needs a docstring: what the stage reads, writes, which rules"
        assert len(tree.body) == 1, f"{init} must hold only its docstring (no re-exports)"


def test_the_library_never_imports_snakemake():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "snakemake" or n.startswith("snakemake.") for n in names):
                offenders.append(str(path.relative_to(SRC)))
    assert offenders == []


def test_every_module_imports():
    """A moved module leaves no stale import behind, lazy or not (lm-eval loads tasks/utils.py by path)."""
    import importlib

    for name in all_modules():
        importlib.import_module(name)


def test_every_karma_import_names_something_that_exists():
    """Lazy imports inside functions, scripts and tests included: each ``from karma.x import y`` resolves."""
    import importlib

    root = SRC.parent
    files = [*PACKAGE.rglob("*.py"), *(root / "workflow" / "scripts").glob("*.py"),
             *(root / "benchmarks").glob("*.py"), *(root / "tests").rglob("*.py")]
    stale = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "karma":
                try:
                    module = importlib.import_module(node.module)
                except ImportError as err:
                    stale.append(f"{path.relative_to(root)}: {node.module} ({err})")
                    continue
                for alias in node.names:
                    if not hasattr(module, alias.name):
                        try:
                            importlib.import_module(f"{node.module}.{alias.name}")
                        except ImportError:
                            stale.append(f"{path.relative_to(root)}: {node.module}.{alias.name}")
    assert stale == []
