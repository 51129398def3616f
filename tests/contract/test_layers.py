"""Layers point one way: tools (the sandbox, the demo, benchmarks) → product (``st_assets``
definitions → ``st_resources`` I/O) → contract (``st_contract``). Read from the source,
so an import added anywhere in a module (also inside a function) is caught."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("st_contract", "st_resources", "st_assets", "st_sandbox", "benchmarks")
# What each layer may import of ours (besides itself).
ALLOWED: dict[str, set[str]] = {
    "st_contract": set(),
    "st_resources": {"st_contract"},
    "st_assets": {"st_resources", "st_contract"},
    # The sandbox tenant serves the contract; it never runs product code.
    "st_sandbox": {"st_contract"},
    "benchmarks": {"st_contract", "st_resources", "st_assets", "st_sandbox"},
}
# The tools that launch the product against the sandbox (`st-demo`, `st-dev`).
LAUNCHERS = {"st_sandbox/demo.py", "st_sandbox/demo_writes.py", "st_sandbox/dev.py"}


def _our_imports(path: Path) -> set[str]:
    """The packages of ours that a module imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found |= {name.split(".")[0] for name in names if name.split(".")[0] in PACKAGES}
    return found


def _modules() -> list[tuple[str, Path]]:
    return [
        (package, path) for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_each_layer_imports_only_the_layers_below_it(package: str) -> None:
    broken = []
    for owner, path in _modules():
        if owner != package:
            continue
        relative = path.relative_to(ROOT).as_posix()
        allowed = ALLOWED[package] | {package}
        if relative in LAUNCHERS:
            allowed = allowed | {"st_resources", "st_assets"}
        wrong = _our_imports(path) - allowed
        if wrong:
            broken.append(f"{relative} imports {sorted(wrong)}")
    assert broken == []


def test_the_product_never_imports_the_sandbox() -> None:
    product = [p for owner, p in _modules() if owner in ("st_resources", "st_assets")]
    assert product, "no product modules found"
    assert [p.name for p in product if "st_sandbox" in _our_imports(p)] == []


def test_the_rule_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from st_assets.resources import build_resources\n")
    assert _our_imports(module) == {"st_assets"}
