"""The dependencies as a whole: each import is declared where its code runs, and each runtime
dependency's licence lets the bot be distributed under its own (MIT, see LICENSE)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy import LOCK_FILE, ROOT, locked_versions

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# Code that only runs on developers' machines and in CI: it may use the dev dependencies.
DEV_TREES = ("tests", "bench", "devtools", "sandbox", "docs")
# Licences that let an MIT program use the library and be shipped with it.
PERMISSIVE = re.compile(
    r"^(MIT(-0|-CMU)?|MIT License|BSD(-[23]-Clause)?|0BSD|2-clause BSD License|BSD License"
    r"|Zlib|CC0-1\.0|Apache[- ]2\.0|Apache Software License"
    r"|ISC|PSF-2\.0|Python Software Foundation License|MPL-2\.0"
    r"|Mozilla Public License 2\.0 \(MPL 2\.0\)|Unlicense)$"
)
# LGPL libraries the bot imports unmodified and loads dynamically (pip installs them as they
# are; nothing is linked into our code): the LGPL asks only that users can replace them, which
# a pip-installed package allows, so it fits an MIT program.
LGPL_AS_LIBRARY = {"psycopg", "psycopg-binary", "psycopg-pool", "python-telegram-bot"}
LGPL = re.compile(
    r"^(LGPL-3\.0(-only|-or-later)?|GNU Lesser General Public License v3 \(LGPLv3\))$"
)


def declared(extra: str | None) -> set[str]:
    texts = PYPROJECT["project"]["dependencies"]
    if extra is not None:
        texts = [*texts, *PYPROJECT["project"]["optional-dependencies"][extra]]
    return {canonicalize_name(Requirement(text).name) for text in texts}


def runtime_packages() -> list[Path]:
    patterns = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(ROOT / pattern.rstrip("*") for pattern in patterns)


def first_party() -> set[str]:
    return {path.stem for path in ROOT.iterdir() if path.suffix == ".py" or path.is_dir()}


def imported(tree: Path) -> Iterator[tuple[Path, str]]:
    """(file, top-level module) for every absolute import in a file or a tree's files."""
    for path in sorted(tree.rglob("*.py")) if tree.is_dir() else [tree]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                yield path, name.split(".", 1)[0]


def undeclared(trees: list[Path], allowed: set[str]) -> list[str]:
    """Imports of third-party modules whose distribution is not among allowed."""
    distributions = metadata.packages_distributions()
    ours = first_party()
    found: set[str] = set()
    for tree in trees:
        for path, module in imported(tree):
            if module in sys.stdlib_module_names or module in ours:
                continue
            owners = {canonicalize_name(name) for name in distributions.get(module, [])}
            if not owners & allowed:
                where = path.relative_to(ROOT)
                found.add(f"{where}: {module} (from {sorted(owners) or 'nothing installed'})")
    return sorted(found)


def test_runtime_code_imports_only_runtime_dependencies() -> None:
    """The packages the image ships import only what pyproject.toml's dependencies declare."""
    assert undeclared(runtime_packages(), declared(None)) == []


def test_dev_code_imports_only_declared_dependencies() -> None:
    """Tests, benchmarks and dev tools import only runtime or dev dependencies."""
    trees = [ROOT / name for name in DEV_TREES if (ROOT / name).is_dir()]
    top_level = list(ROOT.glob("*.py"))
    assert undeclared([*trees, *top_level], declared("dev")) == []


def licences(name: str) -> list[str]:
    """What a distribution says its licence is: its SPDX expression split into identifiers,
    else its License field, else its licence classifiers."""
    meta = metadata.distribution(name).metadata
    expression = next(iter(meta.get_all("License-Expression") or []), "")
    if expression:
        return [part for part in re.split(r"\s+(?:AND|OR|WITH)\s+|[()]", expression) if part]
    field = next(iter(meta.get_all("License") or []), "").strip()
    if field and "\n" not in field:
        return [field]
    return [
        classifier.rsplit(" :: ", 1)[1]
        for classifier in meta.get_all("Classifier") or []
        if classifier.startswith("License :: ")
    ]


def fits_mit(name: str, licence: str) -> bool:
    if PERMISSIVE.match(licence) or licence == "BSD":
        return True
    return name in LGPL_AS_LIBRARY and bool(LGPL.match(licence))


def test_every_runtime_dependency_has_a_licence_that_fits_mit() -> None:
    """Each package of requirements.lock is under a licence on the allowlist (a permissive
    one, or LGPL for the libraries named in LGPL_AS_LIBRARY)."""
    misfits = []
    for name in locked_versions(LOCK_FILE):
        found = licences(name)
        if not found or not all(fits_mit(name, licence) for licence in found):
            misfits.append(f"{name}: {found or 'no licence stated'}")
    assert misfits == [], "licences that do not fit MIT:\n" + "\n".join(misfits)


def test_the_project_is_mit_licensed() -> None:
    """pyproject.toml and the LICENSE file name the same licence."""
    assert PYPROJECT["project"]["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_the_dev_lock_pins_every_dev_dependency_once() -> None:
    """requirements-dev.lock pins each dev dependency at an allowed version, and nothing that
    requirements.lock already pins (bootstrap installs the two together)."""
    runtime = locked_versions(LOCK_FILE)
    dev = locked_versions(ROOT / "requirements-dev.lock")
    assert sorted(runtime.keys() & dev.keys()) == []
    pins = {**runtime, **dev}
    for text in PYPROJECT["project"]["optional-dependencies"]["dev"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is a dev dependency missing from requirements-dev.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"the locks pin {name}=={pins[name]}, pyproject.toml wants {requirement}"
        )
