"""The rooms of the house and which of them may import which (docs/architecture.md).

Read from the source with ``ast``, so a forbidden import fails here even when nothing runs it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "imagine_gateway"

# Each package and the packages of ours it may import (besides itself). The table in
# docs/architecture.md says the same in words.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "catalog": {"core"},
    "store": {"core"},
    "media": {"core"},
    "net": {"core", "media"},
    "telemetry": {"core", "settings"},
    "providers": {"core", "catalog", "media", "settings", "telemetry"},
    "delivery": {"core", "net", "settings", "store", "telemetry"},
    "services": {
        "core", "catalog", "delivery", "media", "net", "providers", "settings", "store", "telemetry",
    },
    "worker": {
        "core", "catalog", "delivery", "media", "providers", "runtime", "services", "settings", "store",
        "telemetry",
    },
    "runtime": {
        "core", "catalog", "delivery", "media", "providers", "services", "settings", "store", "worker",
        "telemetry",
    },
    "api": {"core", "catalog", "delivery", "media", "runtime", "services", "settings", "telemetry"},
    "client": {"_version"},
}


def _imports_of(package: str) -> dict[str, set[str]]:
    """For each module of ``package``: the top-level packages of ours it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / package).rglob("*.py")):
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "imagine_gateway" and len(parts) > 1 and parts[1] != package:
                    targets.add(parts[1])
        found[str(path.relative_to(PACKAGE))] = targets
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_the_rooms_it_may(package: str) -> None:
    forbidden = {
        module: sorted(targets - ALLOWED[package])
        for module, targets in _imports_of(package).items()
        if targets - ALLOWED[package]
    }
    assert forbidden == {}


def test_the_sdk_imports_nothing_of_the_server() -> None:
    # The client installs without the server's dependencies; the package root exports only the SDK.
    root = ast.parse((PACKAGE / "__init__.py").read_text())
    imported = {
        node.module.split(".")[1]
        for node in ast.walk(root)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("imagine_gateway.")
    }
    assert imported <= {"client", "_version"}


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 400
    }
    assert long == {}
