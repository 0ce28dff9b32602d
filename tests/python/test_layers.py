"""The Python package's layering: no import cycles, and the layer next to the
binding imports nothing above it.

Read from the source (module-level imports only; imports inside functions
are how commands load what they need when they run), so nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ndbridge

PACKAGE = Path(ndbridge.__file__).parent

#: The binding and its thin wrappers: the ground every other module stands on.
BINDING_LAYER = {
    "ndbridge._core",
    "ndbridge._errors",
    "ndbridge.cpp",
    "ndbridge.options",
    "ndbridge.packed",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The ndbridge modules `path` imports at module level (``if`` blocks
    included, for ``TYPE_CHECKING``)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    statements = [
        s for node in tree.body for s in (node.body if isinstance(node, ast.If) else [node])
    ]
    for node in statements:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "ndbridge"}
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                # `from . import cpp` imports a module; `from .. import X`
                # of anything else imports the package itself.
                sub = f"{target}.{alias.name}"
                found.add(sub if is_module(sub) else target)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ndbridge":
            found.add(node.module)
    return found


def is_module(name: str) -> bool:
    if name.split(".")[:2] == ["ndbridge", "_core"]:
        return True
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (
        PACKAGE / relative / "__init__.py"
    ).is_file()


GRAPH = {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_the_graph_is_read() -> None:
    assert "ndbridge.cpp" in GRAPH["ndbridge.loading"]
    assert "ndbridge.pack.packer" in GRAPH["ndbridge.pack"]
    assert len(GRAPH) > 30


def test_no_import_cycles() -> None:
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for dep in sorted(GRAPH.get(name, ())):
            visit(dep, [*path, name])
        done.add(name)

    for name in GRAPH:
        visit(name, [])


@pytest.mark.parametrize("name", sorted(BINDING_LAYER - {"ndbridge._core"}))
def test_the_binding_layer_imports_nothing_above_it(name: str) -> None:
    above = {
        d for d in GRAPH[name] if not d.startswith("ndbridge._core") and d not in BINDING_LAYER
    }
    assert not above, f"{name} imports {sorted(above)}"


def test_nothing_but_the_entry_point_imports_the_commands() -> None:
    importers = {
        name for name, deps in GRAPH.items()
        if any(d.startswith("ndbridge.cli") for d in deps) and not name.startswith("ndbridge.cli")
    }  # fmt: skip
    assert importers <= {"ndbridge.__main__"}
