"""The test suites' own layout: helpers come from tests/support, never from a conftest."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def modules() -> list[tuple[Path, ast.Module]]:
    return [
        (path, ast.parse(path.read_text(encoding="utf-8")))
        for tree in ("tests", "bench", "sandbox", "devtools")
        for path in sorted((ROOT / tree).rglob("*.py"))
    ]


def test_nothing_imports_a_conftest() -> None:
    """No module imports from a conftest module (pytest hands fixtures out; helpers live in
    tests/support or a suite's own helper module)."""
    found = [
        f"{path.relative_to(ROOT)}: {node.module}"
        for path, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("conftest")
    ]
    assert found == []


def test_one_eventually_and_one_onboard() -> None:
    """Waiting on a condition, onboarding a user, making an image, writing a profile and
    making fresh services are each one function (module level) in the whole tree."""
    for name in ("eventually", "onboard", "jpeg", "complete_profile", "fresh_services"):
        defined = [
            str(path.relative_to(ROOT))
            for path, tree in modules()
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name == name
        ]
        assert len(defined) == 1, f"{name} is defined in {defined}"
