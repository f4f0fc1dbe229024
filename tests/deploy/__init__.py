"""Checks of the deployment files (docker-compose.yml, Dockerfile, .env.example, deploy/), made
without Docker: they parse the files and hold them to what the code and the operators need.

Helpers shared by the test modules live here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
LOCK_FILE = ROOT / "requirements.lock"
DEPLOY = ROOT / "deploy"

COMPOSE_HEADING = "# ======== docker compose (docker-compose.yml) ========"
SETTINGS_HEADING = "# ======== bot settings (config/settings.py) ========"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}; $$ is a literal $.
INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?)(?P<arg>[^}]*))?\}"
)
# Names of environment variables that hold a credential.
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|_PASS$|SECRET|TOKEN|_KEY$|CREDENTIAL")


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def services() -> dict[str, dict[str, Any]]:
    found = load_compose().get("services")
    assert isinstance(found, dict) and found, "docker-compose.yml has no services"
    return found


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's `environment`, in either of compose's two forms, as name -> raw value."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in raw)
        return {name: value for name, value in pairs}
    return {str(name): "" if value is None else str(value) for name, value in raw.items()}


class MissingVariable(LookupError):
    """A ${NAME:?message} variable is unset or empty."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Resolve compose-style interpolation against env, as `docker compose config` would."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset = not value if op in (":-", ":?") else value is None
        if not unset:
            return value or ""
        if op in (":?", "?"):
            raise MissingVariable(f"{name}: {arg}")
        return arg if op in (":-", "-") else ""

    return INTERPOLATION.sub(replace, text)


def referenced_variables(text: str) -> set[str]:
    return {match.group("name") for match in INTERPOLATION.finditer(text) if match.group("name")}


def is_placeholder(value: str) -> bool:
    """Whether a secret's value gives nothing away: empty, a change-me placeholder, a ${VAR}
    reference, or a URL whose password is one of those (or that carries no password)."""
    if value == "" or value.lower().startswith(("change-me", "changeme")):
        return True
    if INTERPOLATION.fullmatch(value):
        return True
    if "://" in value:
        # Hide interpolations first: their messages may hold characters a URL may not.
        password = urlsplit(INTERPOLATION.sub("change-me", value)).password
        return password is None or is_placeholder(password)
    return False


@dataclass
class EnvEntry:
    name: str
    value: str
    section: str  # "compose" or "settings"
    comments: list[str] = field(default_factory=list)
    line: int = 0

    @property
    def comment_text(self) -> str:
        return " ".join(" ".join(self.comments).split())

    @property
    def marker(self) -> str:
        """The comment line that says `required`, `default: ...` or `secret...`."""
        for comment in self.comments:
            if comment.startswith(("required", "default:", "secret")):
                return comment
        return ""

    @property
    def secret(self) -> bool:
        return self.marker.startswith("secret") or self.marker == "required, secret"


def parse_env_example(text: str) -> dict[str, EnvEntry]:
    """.env.example as name -> entry; raises AssertionError on anything compose would misread."""
    entries: dict[str, EnvEntry] = {}
    section = ""
    comments: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line == COMPOSE_HEADING:
            section, comments = "compose", []
        elif line == SETTINGS_HEADING:
            section, comments = "settings", []
        elif not line.strip():
            comments = []
        elif line.startswith("#"):
            comments.append(line.lstrip("#").strip())
        else:
            match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line)
            assert match, f".env.example line {number} is not NAME=value: {line!r}"
            name, value = match.groups()
            assert section, f".env.example line {number}: {name} comes before any section"
            assert name not in entries, f".env.example line {number}: {name} is set twice"
            assert not value.startswith(("'", '"')), f"{name}: values are literal, no quotes"
            assert " #" not in value, f"{name}: no comment after a value (compose keeps it)"
            assert comments, f".env.example line {number}: {name} has no comment above it"
            entries[name] = EnvEntry(name, value, section, comments, number)
            comments = []
    return entries


def locked_versions(path: Path) -> dict[str, Version]:
    """The pins of a lock file (name==version lines, comments allowed), by canonical name."""
    pins: dict[str, Version] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.+!-]+)", line)
        assert match, f"{path.name} line {number} is not name==version: {raw!r}"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"{name} is pinned twice in {path.name}"
        pins[name] = Version(match.group(2))
    return pins
