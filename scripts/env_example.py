"""Render `.env.example` from `config.settings.SETTINGS` and the docker compose variables.

    python scripts/env_example.py           # print the file
    python scripts/env_example.py --write   # rewrite .env.example
    python scripts/env_example.py --check   # exit 1 if .env.example differs from the rendering

The settings part comes from the settings module, so a new setting shows up here (and
tests/deploy/test_env_example.py fails until the file is regenerated). Secrets never get a real
value: a required secret is left empty, the others get an obvious `change-me` placeholder.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python scripts/env_example.py` from anywhere
    sys.path.insert(0, str(ROOT))

from config.settings import SETTINGS, Setting  # noqa: E402

ENV_EXAMPLE = ROOT / ".env.example"
PLACEHOLDER = "change-me"
COMPOSE_HEADING = "# ======== docker compose (docker-compose.yml) ========"
SETTINGS_HEADING = "# ======== bot settings (config/settings.py) ========"


@dataclass(frozen=True)
class ComposeVariable:
    """A variable only docker-compose.yml reads (interpolated as ${NAME})."""

    name: str
    default: str | None  # None: required, compose refuses to start without it
    doc: str
    secret: bool = False


COMPOSE_VARIABLES: tuple[ComposeVariable, ...] = (
    ComposeVariable(
        "POSTGRES_PASSWORD",
        None,
        "Password of the PostgreSQL superuser 'postgres', for the operator; the bot never gets it.",
        secret=True,
    ),
    ComposeVariable(
        "DATABASE_PASSWORD",
        None,
        "Password of the bot's PostgreSQL role 'dating', which owns only the database "
        "'dating' (no superuser). URL-safe characters, e.g. the output of `openssl rand -hex "
        "24`: the bot's DATABASE_URL is built from it.",
        secret=True,
    ),
    ComposeVariable(
        "REDIS_PASSWORD",
        None,
        "Password Redis requires (--requirepass). URL-safe characters: the bot's REDIS_URL is "
        "built from it.",
        secret=True,
    ),
    ComposeVariable(
        "RABBITMQ_DEFAULT_PASS",
        None,
        "Password of the RabbitMQ user 'dating' (AMQP and the management UI). URL-safe "
        "characters: the bot's AMQP_URL is built from it.",
        secret=True,
    ),
    ComposeVariable(
        "MINIO_ROOT_USER",
        "dating-admin",
        "MinIO administrator (console login); only minio-init uses it.",
    ),
    ComposeVariable(
        "MINIO_ROOT_PASSWORD",
        None,
        "MinIO administrator password, at least 8 characters.",
        secret=True,
    ),
    ComposeVariable(
        "GRAFANA_ADMIN_PASSWORD",
        None,
        "Password of Grafana's 'admin' user (profile monitoring). Compose checks it on every "
        "command, so set it even without that profile.",
        secret=True,
    ),
    ComposeVariable(
        "BIND_ADDRESS",
        "127.0.0.1",
        "Host address the admin UIs are published on; 0.0.0.0 opens them to the network.",
    ),
    ComposeVariable(
        "RABBITMQ_MANAGEMENT_PORT", "15672", "Host port of the RabbitMQ management UI."
    ),
    ComposeVariable("MINIO_CONSOLE_PORT", "9001", "Host port of the MinIO console."),
    ComposeVariable("PROMETHEUS_PORT", "9090", "Host port of Prometheus (profile monitoring)."),
    ComposeVariable("GRAFANA_PORT", "3000", "Host port of Grafana (profile monitoring)."),
)

# Settings for which docker-compose.yml does more than pass the .env value through to the bot
# (it passes every setting): what the bot gets under compose, shown as a "docker compose:" note.
COMPOSE_NOTES: dict[str, str] = {
    "DATABASE_URL": "postgresql://dating:${DATABASE_PASSWORD}@postgres:5432/dating",
    "REDIS_URL": "redis://:${REDIS_PASSWORD}@redis:6379/0",
    "AMQP_URL": "amqp://dating:${RABBITMQ_DEFAULT_PASS}@rabbitmq:5672/",
    "S3_ENDPOINT": "http://minio:9000",
    "S3_ACCESS_KEY": "required; minio-init creates this MinIO user, allowed only S3_BUCKET",
    "S3_SECRET_KEY": "required; minio-init refuses a change-me value",
    "S3_BUCKET": "minio-init creates this bucket and keeps it private",
    "NODE_ID": "empty, so that each replica is named after its container",
    "METRICS_PORT": "9100 inside each container (Prometheus and the health checks use it)",
    "METRICS_HOST": "0.0.0.0 inside each container (the project network only; no host port)",
}

# What a secret setting shows in .env.example instead of its built-in development default.
SECRET_PLACEHOLDERS: dict[str, str] = {
    "BOT_TOKEN": "",
}


def is_placeholder(value: str) -> bool:
    """True when a secret's value is empty, a change-me placeholder, a ${VAR} reference, or a
    URL whose password is one of those (or that has no password)."""
    if value == "" or value.lower().startswith((PLACEHOLDER, "changeme")) or "${" in value:
        return True
    if "://" in value:
        password = urlsplit(value).password
        return password is None or is_placeholder(password)
    return False


def example_value(setting: Setting) -> str:
    """The value written for a setting: its default, or a placeholder for a secret."""
    if setting.secret:
        if setting.env in SECRET_PLACEHOLDERS:
            return SECRET_PLACEHOLDERS[setting.env]
        if setting.default is not None and is_placeholder(setting.default):
            return setting.default  # e.g. AMQP_URL=memory:// holds no credential
        return ""  # a secret nobody thought about yet: empty, never its development value
    return setting.default or ""


def _default_line(default: str | None, secret: bool) -> str:
    if default is None:
        return "# required, secret" if secret else "# required"
    if secret and not is_placeholder(default):
        return "# secret; the built-in default is a development value, set your own"
    shown = default if default else "(empty)"
    return f"# secret; default: {shown}" if secret else f"# default: {shown}"


def _comment(text: str) -> list[str]:
    lines: list[str] = []
    line = "#"
    for word in text.split():
        if len(line) + 1 + len(word) > 96 and line != "#":
            lines.append(line)
            line = "#"
        line += " " + word
    lines.append(line)
    return lines


def render() -> str:
    """The whole .env.example, as text."""
    out = [
        "# Environment of the dating bot, for `docker compose` and for `python bot.py`.",
        "# Copy it to .env and fill in every value marked required: cp .env.example .env",
        "# Values are literal: no quotes, no comment after a value. An empty value means the",
        "# default. docker-compose.yml passes every bot setting to the bot containers, except",
        "# where a 'docker compose:' line says what it sets instead.",
        "# Generated by `python scripts/env_example.py --write` from config/settings.py;",
        "# tests/deploy/test_env_example.py checks it against the settings module.",
        "",
        COMPOSE_HEADING,
        "",
    ]
    for variable in COMPOSE_VARIABLES:
        out += _comment(variable.doc)
        out.append(_default_line(variable.default, variable.secret))
        value = "" if variable.secret else (variable.default or "")
        out += [f"{variable.name}={value}", ""]
    out += [SETTINGS_HEADING, ""]
    for setting in SETTINGS:
        out += _comment(setting.doc)
        out.append(_default_line(setting.default, setting.secret))
        if setting.env in COMPOSE_NOTES:
            out += _comment(f"docker compose: {COMPOSE_NOTES[setting.env]}")
        out += [f"{setting.env}={example_value(setting)}", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite .env.example")
    mode.add_argument("--check", action="store_true", help="fail if .env.example is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        ENV_EXAMPLE.write_text(text, encoding="utf-8")
        return 0
    if args.check:
        current = ENV_EXAMPLE.read_text(encoding="utf-8") if ENV_EXAMPLE.exists() else ""
        if current == text:
            return 0
        sys.stderr.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                ".env.example",
                "rendered from config/settings.py",
            )
        )
        print(
            "\n.env.example is stale: run `python scripts/env_example.py --write`", file=sys.stderr
        )
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
