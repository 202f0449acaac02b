"""Every import points down the layers of docs/architecture.md, and no route imports another.

The table below is the one in docs/architecture.md: a module belongs to the
layer of its longest matching prefix. A module may import its own layer or any
layer below; middleware and routes sit side by side and import neither each
other nor (routes) their siblings, only ``gateway.routes.common``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import gateway

PACKAGE = Path(gateway.__file__).parent

LAYERS: tuple[tuple[str, ...], ...] = (
    # 0. entry: processes and the command line
    (
        "gateway.__main__", "gateway.cli", "gateway.server", "gateway.supervisor",
        "gateway.connections",
    ),
    # 1. composition root: builds the application and its services
    ("gateway.app", "gateway.services"),
    # 2. the HTTP edge: middleware and routes
    ("gateway.middleware", "gateway.cors", "gateway.routes"),
    # 3. the chat pipeline and the client-facing formats it serves
    ("gateway.proxy", "gateway.client_format", "gateway.messages", "gateway.responses"),
    # 4. the domain: providers and their adapters, the upstream client, health, keys, limits, usage
    (
        "gateway.adapters", "gateway.providers", "gateway.upstream", "gateway.http",
        "gateway.health", "gateway.keys", "gateway.limits", "gateway.ledger",
        "gateway.metrics", "gateway.usage",
    ),
    # 5. storage: the file and Redis backends, state kept in Redis for several instances
    ("gateway.storage", "gateway.cluster", "gateway.state"),
    # 6. core: settings, errors, validation, security primitives, the route table
    (
        "gateway", "gateway.settings", "gateway.errors", "gateway.egress", "gateway.transport",
        "gateway.fields", "gateway.validation", "gateway.tallies", "gateway.security",
        "gateway.logs", "gateway.endpoints", "gateway.stamps", "gateway.tasks",
    ),
)  # fmt: skip

ROUTE_HELPERS = frozenset({"gateway.routes", "gateway.routes.common"})


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best, layer = "", -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, layer = prefix, index
    assert layer >= 0, f"{module} is in no layer: add it to the table"
    return layer


def imports_of(path: Path, module: str) -> set[str]:
    """The gateway modules ``path`` imports (``from gateway.x import y`` counts y if a module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            for alias in node.names:
                if (PACKAGE.parent / (target + "." + alias.name).replace(".", "/")).exists() or (
                    PACKAGE.parent / ((target + "." + alias.name).replace(".", "/") + ".py")
                ).exists():
                    found.add(target + "." + alias.name)
    return {name for name in found if name == "gateway" or name.startswith("gateway.")}


def family(module: str) -> str:
    """``middleware``, ``routes`` or the module itself, for the edge's side-by-side rule."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("middleware", "routes") else module


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        for target in sorted(imports_of(path, module)):
            if target == "gateway" and module != "gateway":
                continue  # the package itself: __version__
            if layer_of(target) < layer_of(module):
                found.append(f"{module} imports {target}, a layer above it")
            elif {family(module), family(target)} == {"middleware", "routes"}:
                found.append(f"{module} imports {target}: middleware and routes are side by side")
            elif (
                family(module) == family(target) == "routes"
                and module not in ROUTE_HELPERS
                and target not in ROUTE_HELPERS
            ):
                found.append(f"{module} imports {target}, a sibling route")
    return found


def test_every_import_points_down_a_layer() -> None:
    assert violations() == []


def test_every_module_has_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path))


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The rule catches what it is meant to (an edge importing the composition root)."""
    source = tmp_path / "mod.py"
    source.write_text("from gateway.services import x\nfrom gateway.routes.chat import y\n")
    found = imports_of(source, "gateway.routes.models")
    assert found >= {"gateway.services", "gateway.routes.chat"}
    assert layer_of("gateway.services") < layer_of("gateway.routes.models")
    assert family("gateway.routes.chat") == family("gateway.routes.models") == "routes"
