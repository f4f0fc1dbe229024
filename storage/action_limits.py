"""The counters behind domain.action_limits: one Redis key per user and action, living for
the action's window, shared by every node (a user's shard may move to another node in the
middle of a window)."""

from __future__ import annotations

import redis

from domain.action_limits import LIMITS, Action, Verdict, verdict
from storage.state import Keys


class ActionCounters:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def take(self, user_id: int, action: Action) -> Verdict:
        """Count one action of the user's in its window and say whether it may go. The window
        is the counter's lifetime, set by the first action of it. An update handled again
        after a node died counts again: at worst a person reaches a limit one action early,
        once in a while."""
        limit = LIMITS[action]
        key = self._keys("limit", action.value, user_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(key, 0, ex=limit.window_seconds, nx=True)
        pipe.incr(key)
        _, taken = pipe.execute()
        return verdict(int(taken), limit)

    def forget(self, user_id: int) -> None:
        """A deleted account: its counters go with it (each names the id)."""
        self._redis.delete(*(self._keys("limit", action.value, user_id) for action in Action))
