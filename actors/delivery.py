"""A delivery: one piece of work handed to a node, with the calls that acknowledge it.

It is a plain value, so whoever handles it (a session actor, the forwarding of replies) needs
nothing from the messaging layer that made it (messaging.consumer builds it from a shard
queue's message)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Delivery:
    """A Telegram update (kind "update", the update in ``update``) or replies for a user (kind
    "send", ``update`` = {"key", "chat_id", "replies"}); ``key`` identifies the work for "do
    nothing twice" (the update_id or the send key). done() or dead_letter(error) may be called
    from any thread, once: the first acknowledges it, the second sends a copy to the dead
    letters with the error and then acknowledges it."""

    update: dict[str, Any]
    user_id: int
    key: str
    kind: str
    redelivered: bool
    done: Callable[[], None]
    dead_letter: Callable[[str], None]
    # False once the broker will give this message out again (the connection it came on is
    # gone): whoever still holds it stops, and the new copy carries on.
    current: Callable[[], bool] = lambda: True
