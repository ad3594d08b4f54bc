"""The one-way seam, checked on the source: the import contracts of pyproject.toml.

There is one set of rules, `[tool.importlinter]` in pyproject.toml: `lint-imports` checks it,
and so does this test, which reads the contracts from there and checks each on the source
(the imports in every module, wherever they are written, `TYPE_CHECKING` blocks included). It
knows the contract types and options the project uses and fails on any other, so a contract
added to pyproject.toml is checked here too or the test says why not.

The contracts have no exceptions: an `ignore_imports` option fails this test. Besides the
contracts it checks one convention that keeps them whole: every third-party package an inner
layer imports is forbidden by its contract or named in `[tool.lucid_sessions.layer_libraries]`
(the library the layer is built on, and which its contract therefore does not forbid). A
forbidden list alone would let a layer use any library nobody thought to list.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections import deque
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
CONFIG: dict[str, Any] = TOOLS["importlinter"]
LIBRARIES: dict[str, list[str]] = TOOLS["lucid_sessions"]["layer_libraries"]
PACKAGE: str = CONFIG["root_package"]
SOURCE = ROOT / "src" / PACKAGE
CONTRACTS: list[dict[str, Any]] = CONFIG["contracts"]

# What this test can check, by contract type: the options it understands.
COMMON = {"name", "type"}  # no ignore_imports: the contracts hold without exceptions
OPTIONS = {
    "layers": COMMON | {"layers"},
    "forbidden": COMMON | {"source_modules", "forbidden_modules", "allow_indirect_imports"},
    "protected": COMMON | {"protected_modules", "allowed_importers"},
}


def module_of(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


FILES = {module_of(path): path for path in sorted(SOURCE.rglob("*.py"))}


def in_project(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def is_third_party(name: str) -> bool:
    return not in_project(name) and name not in sys.stdlib_module_names


def imported_module(name: str) -> str:
    """What an import of `name` imports, as import-linter sees it: the project's module that
    is `name` or holds it, or the top-level package of anything outside the project."""
    if not in_project(name):
        return name.split(".")[0]
    while name not in FILES:
        name = name.rpartition(".")[0]
    return name


def imports_of(module: str) -> set[str]:
    path = FILES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(imported_module(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(imported_module(submodule if submodule in FILES else base))
    found.discard(module)
    return found


IMPORTS = {module: imports_of(module) for module in FILES}


@cache
def expression(pattern: str) -> re.Pattern[str]:
    """A module expression of import-linter: `*` is one name, `**` one or more."""
    parts = {"*": r"[^.]+", "**": r"[^.]+(?:\.[^.]+)*"}
    return re.compile(r"\.".join(parts.get(part, re.escape(part)) for part in pattern.split(".")))


def within(name: str, patterns: Iterable[str]) -> bool:
    """Whether `name` is a module the patterns name, or inside one (a package's modules)."""
    return any(
        re.fullmatch(expression(pattern).pattern + r"(?:\..+)?", name) for pattern in patterns
    )


def modules_named(patterns: Iterable[str]) -> list[str]:
    patterns = list(patterns)
    for pattern in patterns:
        if not any(within(module, [pattern]) for module in FILES):
            pytest.fail(f"{pattern!r} names no module of {PACKAGE}")
    return [module for module in FILES if within(module, patterns)]


def chains(starts: list[str], goals: list[str]) -> list[str]:
    """Every module in `goals` that `starts` import, directly or through the project's other
    modules, each with the chain of imports that reaches it."""
    came_from: dict[str, str | None] = dict.fromkeys(starts)
    queue = deque(starts)
    found: list[str] = []
    while queue:
        module = queue.popleft()
        for target in sorted(IMPORTS.get(module, ())):
            if target in came_from:
                continue
            came_from[target] = module
            if within(target, goals):
                chain, step = [target], module
                while step is not None:
                    chain.append(step)
                    step = came_from[step]
                found.append(" -> ".join(reversed(chain)))
            elif target in FILES:
                queue.append(target)
    return found


def broken_layers(contract: dict[str, Any]) -> list[str]:
    """A lower layer imports no higher one, directly or through other modules."""
    layers: list[str] = contract["layers"]  # highest first
    for layer in layers:
        if not re.fullmatch(r"[\w.*]+", layer):
            pytest.fail(f"layer {layer!r}: only plain module names are understood here")
    broken: list[str] = []
    for index, lower in enumerate(layers[1:], start=1):
        higher = layers[:index]
        broken += chains(modules_named([lower]), higher)
    return broken


def broken_forbidden(contract: dict[str, Any]) -> list[str]:
    """The source modules import none of the forbidden ones (directly only, when indirect
    imports are allowed); and every third-party package they import is forbidden or one of
    the layer's own libraries."""
    forbidden: list[str] = contract["forbidden_modules"]
    sources = modules_named(contract["source_modules"])
    libraries = {
        library
        for layer, named in LIBRARIES.items()
        if any(within(source, [layer]) for source in sources)
        for library in named
    }
    broken = [
        f"{library}: named a library of the layer, and forbidden to it"
        for library in sorted(libraries)
        if within(library, forbidden)
    ]
    for source in sources:
        for target in sorted(IMPORTS[source]):
            if within(target, forbidden) and not within(source, forbidden):
                broken.append(f"{source} -> {target}")
            elif is_third_party(target) and target not in libraries:
                broken.append(
                    f"{source} -> {target}: a third-party package the contract does not name "
                    "(forbid it, or name it in [tool.lucid_sessions.layer_libraries])"
                )
    if not contract.get("allow_indirect_imports", False):
        broken += chains(sources, forbidden)
    return sorted(set(broken))


def broken_protected(contract: dict[str, Any]) -> list[str]:
    """Only the allowed importers import the protected modules (directly)."""
    protected: list[str] = contract["protected_modules"]
    allowed: list[str] = contract["allowed_importers"]
    modules_named(allowed)
    importers = [
        (source, target)
        for source, targets in IMPORTS.items()
        for target in sorted(targets)
        if within(target, protected) and not within(source, protected)
    ]
    assert importers, f"nothing imports {protected}: the contract guards nothing"
    return [f"{source} -> {target}" for source, target in importers if not within(source, allowed)]


CHECKS = {"layers": broken_layers, "forbidden": broken_forbidden, "protected": broken_protected}


@pytest.mark.parametrize("contract", CONTRACTS, ids=[c["name"] for c in CONTRACTS])
def test_the_source_keeps_each_import_contract(contract: dict[str, Any]) -> None:
    kind = contract["type"]
    if kind not in CHECKS:
        pytest.fail(f"contract type {kind!r} is not checked here: teach test_layers.py")
    unknown = set(contract) - OPTIONS[kind]
    assert not unknown, f"options not checked here: {sorted(unknown)}"
    assert CHECKS[kind](contract) == []


def test_the_contracts_cover_the_four_layers() -> None:
    """The rules exist at all: the layers, and the inner layers' forbidden imports."""
    (layers,) = (c for c in CONTRACTS if c["type"] == "layers")
    inner = {PACKAGE + ".app", PACKAGE + ".domain"}
    assert {PACKAGE + f".{name}" for name in ("bootstrap", "adapters")} | inner <= set(
        layers["layers"]
    )
    sources = {s for c in CONTRACTS if c["type"] == "forbidden" for s in c["source_modules"]}
    assert inner <= sources


@pytest.mark.parametrize("layer", sorted(LIBRARIES))
def test_each_named_library_is_one_its_layer_uses(layer: str) -> None:
    """A library named for a layer is imported there (a stale name would let it back in)."""
    used = {target for source in modules_named([layer]) for target in IMPORTS[source]}
    assert set(LIBRARIES[layer]) <= used
