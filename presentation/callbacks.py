"""Signed callback data: a button only works for the user it was sent to.

callback_data is chosen by the client, so anyone can forge it. Each button's data carries a
short HMAC over the recipient's user id and the payload; data that fails the check (forged,
copied from another user's chat, or garbage) is refused before any handler sees it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

CALLBACK_DATA_MAX_BYTES = 64
SIGNATURE_BYTES = 6  # 48 bits: forging one needs ~2^47 tries against a rate-limited bot
SEPARATOR = "~"
# How long a destructive button (delete the account, ban, unmatch, block) acts: older ones ask
# again, so a confirmation never acts on what changed since it was sent (an account made
# later, reports filed later).
CONFIRMATION_SECONDS = 600


def issued_now() -> str:
    """The time a button is made, as a part of its (signed) data."""
    return format(int(time.time()), "x")


def still_valid(issued: str, max_age: int = CONFIRMATION_SECONDS) -> bool:
    """Whether a button made at ``issued`` (issued_now's form) may still act."""
    try:
        age = time.time() - int(issued, 16)
    except ValueError:
        return False
    return -60 <= age <= max_age  # a minute of clock skew between nodes


class CallbackSigner:
    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"callback-data:" + secret).digest()

    def _signature(self, user_id: int, payload: str) -> str:
        digest = hmac.new(self._key, f"{user_id}:{payload}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:SIGNATURE_BYTES]).decode()

    def sign(self, user_id: int, *parts: str) -> str:
        payload = ":".join(parts)
        data = f"{payload}{SEPARATOR}{self._signature(user_id, payload)}"
        if len(data.encode()) > CALLBACK_DATA_MAX_BYTES:
            raise ValueError(f"callback data over {CALLBACK_DATA_MAX_BYTES} bytes: {payload!r}")
        return data

    def verify(self, user_id: int, data: str) -> list[str] | None:
        """The payload's parts if data was signed for this user, otherwise None."""
        payload, separator, signature = data.rpartition(SEPARATOR)
        if not separator or not payload:
            return None
        if not hmac.compare_digest(signature, self._signature(user_id, payload)):
            return None
        return payload.split(":")
