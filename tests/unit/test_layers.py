"""The one-way seam, checked on the source: what each layer may import."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "lucid_sessions"

# Third-party modules each inner layer may use (besides the standard library and itself).
ALLOWED = {
    "domain": {"blake3"},
    "app": {"anyio"},
}
# Packages of the project each layer may import (the layers point one way).
INWARD = {
    "domain": {"domain"},
    "app": {"app", "domain"},
}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_inner_layers_import_only_what_they_may(layer: str) -> None:
    wrong: list[str] = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top == "lucid_sessions":
                inner = name.split(".")[1] if "." in name else ""
                if inner not in INWARD[layer] and name != "lucid_sessions":
                    wrong.append(f"{path.relative_to(PACKAGE)}: {name}")
            elif top not in sys.stdlib_module_names and top not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(PACKAGE)}: {name}")
    assert wrong == []


def test_the_domain_reads_no_clock_and_no_randomness() -> None:
    banned = {"os", "time", "random", "secrets", "uuid", "logging", "socket", "pathlib"}
    wrong = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted((PACKAGE / "domain").rglob("*.py"))
        for name in imports_of(path)
        if name.split(".")[0] in banned
    ]
    assert wrong == []


def test_only_the_composition_root_knows_the_container() -> None:
    users = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name.startswith("dependency_injector") for name in imports_of(path))
    )
    assert users
    assert [user for user in users if not user.startswith("bootstrap/")] == []
