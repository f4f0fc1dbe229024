"""The key under which safety records outlive an account: a keyed hash of the Telegram id.

Blocks (both directions), bans and open reports must follow a person who deletes the account
and comes back with the same Telegram id, yet deletion must erase the id itself. An HMAC-SHA256
of the id with a server secret does both: the same id always gives the same key, the key alone
names nobody, and unlike a plain hash it cannot be reversed by hashing every possible id (there
are only a few billion) without the secret. The secret must never change once records exist:
a new secret orphans every record made with the old one.
"""

from __future__ import annotations

import hashlib
import hmac

_DOMAIN = b"dating-safety-v1:"


def safety_key(telegram_id: int, secret: bytes) -> bytes:
    """The 32-byte key of ``telegram_id``'s safety records (schema.sql: safety_*)."""
    if not secret:
        raise ValueError("the safety secret must not be empty")
    return hmac.new(secret, _DOMAIN + str(telegram_id).encode(), hashlib.sha256).digest()


def pseudonym(secret: bytes, *parts: object) -> str:
    """A short keyed name for something that involves people (the send key of a match
    notice): stable for the same parts, naming nobody in Redis without the secret."""
    text = ":".join(str(part) for part in parts).encode()
    return hmac.new(secret, b"dating-pseudonym-v1:" + text, hashlib.sha256).hexdigest()[:32]
