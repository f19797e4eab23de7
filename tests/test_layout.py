"""The layout shows the architecture (docs/architecture.md): config models at the bottom, then stacks,
then the commands and their shared library; local AWS beside them. Read from the source (ast), so a
lazy import inside a function counts too: it is a dependency all the same (imports for type
annotations only, under `if TYPE_CHECKING:`, do not).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGES = ("config", "stacks", "scripts", "localaws")
# What each layer may import from the project. Lower layers never import higher ones.
ALLOWED = {
    "config": {"config"},
    "stacks": {"config", "stacks"},
    "scripts.lib": {"config", "stacks", "scripts.lib"},  # the CDK runner builds the app (stacks)
    "scripts": {"config", "stacks", "scripts"},
    "localaws": {"config", "scripts", "localaws"},  # the lab runs the commands against the emulator
}
MAX_LINES = 500


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node, but those under `if TYPE_CHECKING:` (annotations only: never imported at run time)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and getattr(child.test, "id", None) == "TYPE_CHECKING":
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Project modules `path` imports at run time (absolute and relative, at any depth of the file)."""
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".")[: -node.level] if path.name != "__init__.py" else \
                    name.split(".")[: len(name.split(".")) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def layer(name: str) -> str:
    return "scripts.lib" if name.startswith("scripts.lib") else name.split(".")[0]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, name, set(known)) for name, path in known.items()}


def test_no_layer_imports_a_layer_above_it(graph):
    wrong = sorted(f"{module} imports {target}" for module, targets in graph.items() for target in targets
                   if not any(target == allowed or target.startswith(allowed + ".")
                              for allowed in ALLOWED[layer(module)]))
    assert wrong == []


def test_no_import_cycle(graph):
    cycles, state = [], {}

    def visit(module: str, stack: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            # A package imports its own modules by design (re-exports); only module-to-module cycles count.
            if module.startswith(target + "."):
                continue
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_module_is_over_500_lines():
    sources = [p for p in ROOT.glob("*.py")] + [p for package in (*PACKAGES, "tests", "benchmarks")
                                                  for p in (ROOT / package).rglob("*.py")]
    long = sorted(f"{p.relative_to(ROOT)}: {n}" for p in sources if (n := len(p.read_text().splitlines())) > MAX_LINES)
    assert long == []
