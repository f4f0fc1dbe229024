"""Node settings, read once from the environment.

Every setting the code reads is declared in ``SETTINGS`` below; ``.env.example`` is checked
against that table by the test suite, so a new setting without documentation fails CI.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it in one line."""


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw)
        if parts.scheme not in schemes or not (parts.netloc or parts.scheme == "memory"):
            starts = " or ".join(f"{scheme}://" for scheme in schemes)
            raise ValueError(f"expected a URL starting with {starts}")
        return raw.rstrip("/") if parts.scheme in ("http", "https") else raw

    return parse


def _token(raw: str) -> str:
    if not re.fullmatch(r"\d+:[A-Za-z0-9_-]{20,}", raw):
        raise ValueError("expected a token like 123456:ABC-DEF... as given by @BotFather")
    return raw


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return value

    return parse


def _float_range(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = float(raw)
        if not low <= value <= high:
            raise ValueError(f"expected a number from {low} to {high}")
        return value

    return parse


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return level


def _id_list(raw: str) -> frozenset[int]:
    return frozenset(int(part) for part in raw.replace(" ", "").split(",") if part)


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return raw

    return parse


def _name(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", raw):
        raise ValueError("expected 1-64 letters, digits, '_', '.' or '-'")
    return raw


def _optional_name(raw: str) -> str:
    return _name(raw) if raw else ""


def _optional_url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    parse = _url(schemes)
    return lambda raw: parse(raw) if raw else ""


def _optional_secret_token(raw: str) -> str:
    if raw and not re.fullmatch(r"[A-Za-z0-9_-]{32,256}", raw):
        raise ValueError(
            "expected 32-256 characters from A-Z, a-z, 0-9, '_' and '-' "
            "(e.g. the output of `openssl rand -hex 32`)"
        )
    return raw


def _secret_key(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{32,256}", raw):
        raise ValueError(
            "expected 32-256 characters from A-Z, a-z, 0-9, '_' and '-' "
            "(e.g. the output of `openssl rand -hex 32`)"
        )
    return raw


def _ip_address(raw: str) -> str:
    return str(ipaddress.ip_address(raw))


# Credentials that come with the images or have been printed in guides, and the placeholders
# of .env.example: a node refuses them (``load_settings``), so that a deployment never runs on a
# password anybody could guess. RabbitMQ's guest:guest is not here: RabbitMQ itself lets it in
# from the same host only, and the test and demo set-ups use it there.
PLACEHOLDER_SECRETS = frozenset(
    {"minioadmin", "dating", "postgres", "password", "secret", "admin", "changeme", "change-me"}
)


def is_placeholder_secret(value: str) -> bool:
    """True for an empty secret, a well-known default, or a change-me placeholder."""
    lowered = value.strip().lower()
    return (
        not lowered
        or lowered in PLACEHOLDER_SECRETS
        or lowered.startswith(("change-me", "changeme", "change_me"))
    )


def _placeholder_in(value: object) -> bool:
    """Whether a secret setting's parsed value is or holds a placeholder. An unset optional
    secret (WEBHOOK_SECRET outside webhook mode) and a URL without a password (trust, peer or a
    password file) are fine; an empty or placeholder password in a URL is not."""
    if not isinstance(value, str) or value == "":
        return False
    if "://" in value:
        password = urlsplit(value).password
        return password is not None and is_placeholder_secret(password)
    return is_placeholder_secret(value)


def _text(raw: str) -> str:
    if not raw:
        raise ValueError("must not be empty")
    return raw


@dataclass(frozen=True)
class Setting:
    """One environment variable: its parser, default (None = required) and documentation."""

    env: str
    parse: Callable[[str], Any]
    default: str | None
    doc: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("BOT_TOKEN", _token, None, "Bot token from @BotFather.", secret=True),
    Setting(
        "TELEGRAM_API_URL",
        _url(("http", "https")),
        "https://api.telegram.org",
        "Bot API root; the bot calls {root}/bot{token}/{method} and downloads "
        "from {root}/file/bot{token}/{path}.",
    ),
    Setting(
        "DATABASE_URL",
        _url(("postgresql", "postgres")),
        None,
        "PostgreSQL connection URL, e.g. postgresql://dating:PASSWORD@127.0.0.1:5432/dating; "
        "a well-known or change-me password is refused.",
        secret=True,
    ),
    Setting(
        "REDIS_URL",
        _url(("redis", "rediss")),
        "redis://127.0.0.1:6379/0",
        "Redis URL; a password goes in it as redis://:PASSWORD@host:6379/0.",
        secret=True,
    ),
    Setting(
        "REDIS_NAMESPACE",
        _name,
        "dating",
        "Prefix of every Redis key this deployment writes.",
    ),
    Setting(
        "AMQP_URL",
        _url(("amqp", "amqps", "memory")),
        "memory://",
        "RabbitMQ URL; memory:// keeps the same code path in one process without a broker.",
        secret=True,
    ),
    Setting(
        "S3_ENDPOINT",
        _url(("http", "https")),
        "http://127.0.0.1:9000",
        "S3-compatible endpoint for photos; the scheme decides TLS.",
    ),
    Setting(
        "S3_ACCESS_KEY",
        _text,
        None,
        "S3 access key; minioadmin and change-me values are refused.",
        secret=True,
    ),
    Setting(
        "S3_SECRET_KEY",
        _text,
        None,
        "S3 secret key; minioadmin and change-me values are refused.",
        secret=True,
    ),
    Setting(
        "SAFETY_SECRET",
        _secret_key,
        None,
        "Server secret (32-256 of A-Z a-z 0-9 _ -) keying what outlives a deleted account "
        "(blocks, bans, open reports) and placing shared locations: never change it once users "
        "exist, or every kept block and ban is lost (docs/privacy.md).",
        secret=True,
    ),
    Setting("S3_BUCKET", _name, "dating-photos", "Private bucket for photos, created if missing."),
    Setting("S3_REGION", _name, "us-east-1", "Region the S3 client signs requests for."),
    Setting(
        "NODE_ID",
        _optional_name,
        "",
        "Name of this node in logs and metrics; the host name if empty.",
    ),
    Setting("LOG_LEVEL", _log_level, "INFO", "DEBUG, INFO, WARNING, ERROR or CRITICAL."),
    Setting(
        "LOG_FORMAT",
        _choice("auto", "json", "console"),
        "auto",
        "json, console, or auto (console in a terminal, JSON otherwise).",
    ),
    Setting("METRICS_PORT", _int_range(0, 65535), "9100", "Port of /metrics, /healthz, /readyz."),
    Setting(
        "METRICS_HOST",
        _ip_address,
        "127.0.0.1",
        "Address /metrics, /healthz and /readyz listen on: loopback unless the monitoring runs "
        "elsewhere (0.0.0.0: every interface, as inside a container network).",
    ),
    Setting("ADMIN_IDS", _id_list, "", "Comma-separated Telegram ids of moderators."),
    Setting("SHARDS", _int_range(1, 1024), "16", "Number of update shards (queues)."),
    Setting(
        "SESSION_ACTORS",
        _int_range(1, 256),
        "8",
        "Session actors per node; a user always goes to the same one.",
    ),
    Setting(
        "NODE_PROCESSES",
        _int_range(1, 64),
        "1",
        "Processes this node runs, each a cluster member with its own actors and share of the "
        "shards (named NODE_ID-1, NODE_ID-2, ...); METRICS_PORT serves them all. Python runs "
        "one thread at a time per process: with more cores than one, more processes use them.",
    ),
    Setting(
        "SEND_RATE_PER_SECOND",
        _float_range(0.1, 100000),
        "30",
        "Messages per second the whole bot may send (Telegram's limit is about 30).",
    ),
    Setting(
        "SEND_RATE_PER_CHAT",
        _float_range(0.01, 100000),
        "1",
        "Messages per second to one chat, sustained; short bursts of a few are allowed.",
    ),
    Setting(
        "BOT_MODE",
        _choice("polling", "webhook"),
        "polling",
        "How updates arrive: polling (one node at a time long-polls, the others stand by) "
        "or webhook (Telegram POSTs to WEBHOOK_URL; every node accepts them).",
    ),
    Setting(
        "WEBHOOK_URL",
        _optional_url(("http", "https")),
        "",
        "Public URL Telegram posts updates to (a load balancer in front of the nodes); its "
        "path is the route each node serves. Required with BOT_MODE=webhook.",
    ),
    Setting(
        "WEBHOOK_SECRET",
        _optional_secret_token,
        "",
        "Secret Telegram sends with every webhook POST (32-256 of A-Z a-z 0-9 _ -, e.g. "
        "`openssl rand -hex 32`); other requests get 401. Required with BOT_MODE=webhook.",
        secret=True,
    ),
    Setting(
        "WEBHOOK_PORT",
        _int_range(0, 65535),
        "8080",
        "Port each node accepts webhook POSTs on (BOT_MODE=webhook).",
    ),
    Setting("DAILY_LIKE_LIMIT", _int_range(1, 100000), "100", "Likes one user may give per day."),
    Setting(
        "LIKE_NOTICE_MINUTES",
        _int_range(0, 1440),
        "10",
        "At most one 'someone likes you' notice per user in this many minutes.",
    ),
    Setting(
        "RATING_SWEEP_MINUTES",
        _int_range(1, 60),
        "5",
        "Minutes between sweeps that re-rate changed profiles (one node runs each).",
    ),
    Setting(
        "FULL_SWEEP_HOUR",
        _int_range(0, 23),
        "3",
        "Hour (UTC) of the nightly sweep that re-rates every profile.",
    ),
)


@dataclass(frozen=True)
class Settings:
    """The parsed settings of one node."""

    bot_token: str
    telegram_api_url: str
    database_url: str
    redis_url: str
    redis_namespace: str
    amqp_url: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    safety_secret: str
    s3_bucket: str
    s3_region: str
    node_id: str
    log_level: str
    log_format: str
    metrics_port: int
    metrics_host: str
    admin_ids: frozenset[int]
    shards: int
    session_actors: int
    node_processes: int
    send_rate_per_second: float
    send_rate_per_chat: float
    bot_mode: str
    webhook_url: str
    webhook_secret: str
    webhook_port: int
    daily_like_limit: int
    like_notice_minutes: int
    rating_sweep_minutes: int
    full_sweep_hour: int
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def bot_api_base_url(self) -> str:
        return f"{self.telegram_api_url}/bot"

    @property
    def bot_file_base_url(self) -> str:
        return f"{self.telegram_api_url}/file/bot"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse every setting; raise SettingsError naming the first bad one."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(setting.env)
        if raw is None or raw.strip() == "":
            if setting.default is None:
                raise SettingsError(f"{setting.env} is not set: {setting.doc}")
            raw = setting.default
        try:
            values[setting.env.lower()] = setting.parse(raw.strip())
        except ValueError as error:
            shown = "***" if setting.secret else repr(raw)
            raise SettingsError(f"{setting.env}={shown} is malformed: {error}") from None
        if setting.secret and _placeholder_in(values[setting.env.lower()]):
            raise SettingsError(
                f"{setting.env} holds a well-known or placeholder secret: set a real one"
            )
    if not values["node_id"]:
        values["node_id"] = socket.gethostname()
    if values["bot_mode"] == "webhook":
        for name in ("WEBHOOK_URL", "WEBHOOK_SECRET"):
            if not values[name.lower()]:
                raise SettingsError(f"{name} is not set: BOT_MODE=webhook needs it")
    return Settings(**values)
