""".env.example against the settings module (config/settings.py) and docker-compose.yml."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

from config.settings import SETTINGS, Setting
from tests.deploy import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    ROOT,
    EnvEntry,
    environment,
    is_placeholder,
    parse_env_example,
    referenced_variables,
    services,
)


def settings_problems(entries: dict[str, EnvEntry], settings: Sequence[Setting]) -> list[str]:
    """Everything that keeps the settings part of .env.example from documenting `settings`."""
    problems: list[str] = []
    documented = {name for name, entry in entries.items() if entry.section == "settings"}
    declared = {setting.env for setting in settings}
    problems += [f"{name} is a setting but not in .env.example" for name in declared - documented]
    problems += [
        f"{name} is in .env.example but no setting reads it" for name in documented - declared
    ]
    for setting in settings:
        entry = entries.get(setting.env)
        if entry is None or entry.section != "settings":
            continue
        if " ".join(setting.doc.split()) not in entry.comment_text:
            problems.append(f"{setting.env}: its comment lacks the setting's doc {setting.doc!r}")
        if setting.default is None:
            if not entry.marker.startswith("required") or entry.value:
                problems.append(f"{setting.env}: required (no default): mark it and leave it empty")
        elif setting.secret:
            if not is_placeholder(entry.value) or not entry.secret:
                problems.append(f"{setting.env}: a secret: mark it so and give a placeholder")
        elif entry.value != setting.default:
            problems.append(
                f"{setting.env}={entry.value!r}, but its default is {setting.default!r}"
            )
        elif entry.marker != f"default: {setting.default or '(empty)'}":
            problems.append(f"{setting.env}: its comment does not state the default")
    return problems


def entries() -> dict[str, EnvEntry]:
    return parse_env_example(ENV_EXAMPLE.read_text(encoding="utf-8"))


def test_every_setting_is_documented_with_its_default() -> None:
    """Every SETTINGS entry, and nothing else, is in .env.example's settings part, with its doc
    and its default (a placeholder for a secret)."""
    assert settings_problems(entries(), SETTINGS) == []


def test_a_new_undocumented_setting_fails_the_check() -> None:
    """The check above fails for a setting added to SETTINGS without regenerating the file."""
    new = Setting("SWEEP_INTERVAL_SECONDS", int, "60", "Seconds between two sweeps.")
    problems = settings_problems(entries(), (*SETTINGS, new))
    assert problems == ["SWEEP_INTERVAL_SECONDS is a setting but not in .env.example"]
    stale = settings_problems(entries(), SETTINGS[1:])
    assert stale == [f"{SETTINGS[0].env} is in .env.example but no setting reads it"]


def test_file_is_what_the_generator_renders() -> None:
    """scripts/env_example.py --check passes: the file was regenerated after the last change."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "env_example.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_documented_values_parse() -> None:
    """Every value .env.example gives a setting (or the default it stands for) parses."""
    for setting in SETTINGS:
        value = entries()[setting.env].value or setting.default
        if value is None:
            continue  # required and empty: the operator fills it in
        setting.parse(value)


def test_secrets_have_placeholder_values() -> None:
    """No secret, setting or compose password, has a real value in .env.example."""
    env = entries()
    secret_settings = {setting.env for setting in SETTINGS if setting.secret}
    compose_secrets = {
        name for name, entry in env.items() if entry.section == "compose" and entry.secret
    }
    assert {
        "POSTGRES_PASSWORD",
        "RABBITMQ_DEFAULT_PASS",
        "MINIO_ROOT_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
    } <= compose_secrets
    for name in secret_settings | compose_secrets:
        assert is_placeholder(env[name].value), f"{name} has a real value in .env.example"
    for name in compose_secrets:
        assert env[name].value == "", f"{name}: leave it empty so compose refuses to start"
    for entry in env.values():  # and no URL anywhere carries a real password
        assert "://" not in entry.value or is_placeholder(entry.value), entry.name
    assert not is_placeholder("hunter2")  # the predicate itself can say no
    assert not is_placeholder("postgresql://dating:dating@127.0.0.1:5432/dating")


def test_compose_variables_are_documented_and_used() -> None:
    """Every ${VAR} docker-compose.yml reads is in .env.example, and every compose-only entry
    there is read by docker-compose.yml."""
    env = entries()
    used = referenced_variables(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert used - set(env) == set(), "document these in scripts/env_example.py"
    compose_only = {name for name, entry in env.items() if entry.section == "compose"}
    assert compose_only - used == set(), "docker-compose.yml does not read these"
    assert not compose_only & {setting.env for setting in SETTINGS}


def test_compose_notes_match_the_bot_service() -> None:
    """A setting whose compose value is not its own .env value carries a 'docker compose:' note."""
    env = entries()
    bot = environment(services()["bot"])
    for name, value in bot.items():
        passthrough = value.startswith(f"${{{name}:") or value == f"${{{name}}}"
        if not passthrough:
            assert "docker compose:" in env[name].comment_text, name
