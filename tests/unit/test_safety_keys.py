"""Keyed hashes of Telegram ids for safety records (domain.safety_keys)."""

from __future__ import annotations

import hashlib

import pytest

from domain.safety_keys import safety_key


def test_key_is_stable_per_id_and_secret() -> None:
    """The same id and secret give the same 32-byte key; another id or secret another one."""
    key = safety_key(123456789, b"secret")
    assert key == safety_key(123456789, b"secret") and len(key) == 32
    assert key != safety_key(123456780, b"secret")
    assert key != safety_key(123456789, b"other secret")


def test_key_is_not_a_plain_hash_of_the_id() -> None:
    """Hashing candidate ids without the secret does not find the key."""
    key = safety_key(42, b"secret")
    assert key not in {hashlib.sha256(str(42).encode()).digest(), hashlib.sha256(b"42").digest()}


def test_empty_secret_is_refused() -> None:
    """Without a secret the key would be a plain hash; it is refused."""
    with pytest.raises(ValueError):
        safety_key(42, b"")
