"""Redis: conversation state that must survive a node change, and small shared counters."""

from __future__ import annotations

import json
from typing import Any

import redis

CONVERSATION_TTL_SECONDS = 7 * 24 * 3600


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
    )


def as_text(value: bytes | str) -> str:
    """A Redis reply as text (the clients here do not decode responses)."""
    return value.decode() if isinstance(value, bytes) else value


class Keys:
    """Every key this deployment writes starts with its namespace."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def __call__(self, *parts: object) -> str:
        return ":".join((self.namespace, *(str(part) for part in parts)))


_REPLACE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1])
else redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') end
return 1
"""


class ConversationStore:
    """The non-onboarding conversation mode of each user (editing a field, chatting, ...)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys
        self._replace = client.register_script(_REPLACE)

    def get(self, user_id: int) -> dict[str, Any]:
        raw = self._redis.get(self._keys("conv", user_id))
        return json.loads(raw) if raw else {}

    def set(self, user_id: int, state: dict[str, Any]) -> None:
        key = self._keys("conv", user_id)
        if state:
            self._redis.set(
                key, json.dumps(state, separators=(",", ":")), ex=CONVERSATION_TTL_SECONDS
            )
        else:
            self._redis.delete(key)

    def clear(self, user_id: int) -> None:
        self._redis.delete(self._keys("conv", user_id))

    def forget_chats_with(self, user_id: int, partners: list[int]) -> None:
        """A deleted account: partners chatting with it stop (their state named the id)."""
        for partner in partners:
            key = self._keys("conv", partner)
            raw = self._redis.get(key)
            state = json.loads(raw) if raw else {}
            if raw is None or state.get("chat") != user_id:
                continue
            del state["chat"]
            rest = json.dumps(state, separators=(",", ":")) if state else ""
            # Only if unchanged since read: the partner's own update may have moved on.
            self._replace(keys=[key], args=[raw, rest])
