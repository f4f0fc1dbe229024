"""The counters behind domain.action_limits: one Redis key per user, action and window,
shared by every node (a user's shard may move to another node in the middle of a window)."""

from __future__ import annotations

import time

import redis

from domain.action_limits import LIMITS, Action, Verdict, verdict
from storage.state import Keys


class ActionCounters:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def take(self, user_id: int, action: Action, now: float | None = None) -> Verdict:
        """Count one action of the user's in its window and say whether it may go. An update
        handled again after a node died counts again: at worst a person reaches a limit one
        action early, once in a while."""
        limit = LIMITS[action]
        moment = time.time() if now is None else now
        key = self._keys("limit", action.value, user_id, limit.window(moment))
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expireat(key, limit.window_end(moment) + 1)
        taken, _ = pipe.execute()
        return verdict(int(taken), limit)
