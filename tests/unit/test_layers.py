"""Layers point down only: pyproject.toml's import-linter contract holds, and covers every
package of the runtime."""

from __future__ import annotations

import tomllib
from pathlib import Path

from importlinter import configuration
from importlinter.application.use_cases import lint_imports

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
# Outside the contract: the local Bot API sandbox, the tests and the benchmarks use every layer.
OUTSIDE = {"sandbox", "tests", "bench"}


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    """No import points up a layer or across independent siblings (the report says which)."""
    configuration.configure()  # what the lint-imports command does before it lints
    assert lint_imports(str(PYPROJECT), cache_dir=None, no_logo=True, is_debug_mode=True)


def test_every_package_is_in_a_layer() -> None:
    """A new top-level package cannot escape the contract: each one is a root and a layer."""
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - OUTSIDE
    layered = {
        name.strip() for layer in config["contracts"][0]["layers"] for name in layer.split("|")
    }
    assert set(config["root_packages"]) == packages
    assert layered == packages
