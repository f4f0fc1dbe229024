"""A node refuses well-known and placeholder secrets and short webhook secrets (config.settings)."""

from __future__ import annotations

import pytest

from config.settings import SettingsError, load_settings

VALID = {
    "BOT_TOKEN": "123456789:TEST-token-for-the-settings-check-01",
    "DATABASE_URL": "postgresql://dating:Zx81kq0vbc7@127.0.0.1:5432/dating",
    "S3_ACCESS_KEY": "bot-user",
    "S3_SECRET_KEY": "Qm2v8rT0pL5wX9",
    "SAFETY_SECRET": "Kp3s9QwE7rT1yU5iO0pA2sD4fG6hJ8kL",
}


def test_real_secrets_are_accepted_and_the_metrics_address_is_loopback() -> None:
    """Non-placeholder secrets load; health and metrics listen on 127.0.0.1 unless told."""
    settings = load_settings(VALID)
    assert settings.metrics_host == "127.0.0.1"
    assert load_settings(VALID | {"METRICS_HOST": "0.0.0.0"}).metrics_host == "0.0.0.0"
    # A URL without a password (trust, peer, a password file) is not a placeholder.
    load_settings(VALID | {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/dating"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("S3_ACCESS_KEY", "minioadmin"),
        ("S3_SECRET_KEY", "minioadmin"),
        ("S3_SECRET_KEY", "change-me-secret-key"),
        ("S3_ACCESS_KEY", "CHANGEME"),
        ("DATABASE_URL", "postgresql://dating:dating@127.0.0.1:5432/dating"),
        ("DATABASE_URL", "postgresql://dating:change-me@127.0.0.1:5432/dating"),
        ("DATABASE_URL", "postgresql://dating:@127.0.0.1:5432/dating"),
        ("REDIS_URL", "redis://:password@127.0.0.1:6379/0"),
        ("AMQP_URL", "amqp://dating:dating@127.0.0.1:5672/"),
    ],
)
def test_placeholder_secrets_are_refused_in_one_line(name: str, value: str) -> None:
    """A well-known default or change-me value stops the node with one line naming the setting
    and never showing the value."""
    with pytest.raises(SettingsError) as error:
        load_settings(VALID | {name: value})
    message = str(error.value)
    assert message.startswith(name) and "\n" not in message and value not in message


@pytest.mark.parametrize("name", ["DATABASE_URL", "S3_ACCESS_KEY", "S3_SECRET_KEY"])
def test_credentials_have_no_built_in_default(name: str) -> None:
    """Database and S3 credentials must be set: there is no working default."""
    environ = {key: value for key, value in VALID.items() if key != name}
    with pytest.raises(SettingsError, match=rf"^{name} is not set"):
        load_settings(environ)


def test_webhook_secret_needs_32_characters() -> None:
    """A webhook secret shorter than 32 characters is refused; 32 are accepted."""
    webhook = VALID | {"BOT_MODE": "webhook", "WEBHOOK_URL": "https://bot.example.org/hook"}
    with pytest.raises(SettingsError, match=r"^WEBHOOK_SECRET"):
        load_settings(webhook | {"WEBHOOK_SECRET": "s" * 31})
    assert load_settings(webhook | {"WEBHOOK_SECRET": "s" * 32}).webhook_secret == "s" * 32
