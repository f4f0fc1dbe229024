"""The counters behind domain.action_limits: one Redis key per user and action, living for
the action's window, shared by every node (a user's shard may move to another node in the
middle of a window)."""

from __future__ import annotations

import redis

from domain.action_limits import LIMITS, Action, Verdict, verdict
from storage.state import Keys

# KEYS[1]: the user's counter of one action, a hash {n: actions counted, update: the last
# one's update id}; ARGV[1]: the window; ARGV[2]: this update's id ('' for none). The same
# update asking again (tried again after a dependency failed, or handled again after its node
# died) is answered the count it had: the user's later updates wait behind it, so it is the
# last one counted. A counter of the old plain form is started afresh.
_TAKE = """
if redis.call('TYPE', KEYS[1]).ok == 'string' then redis.call('DEL', KEYS[1]) end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'update') == ARGV[2] then
  return tonumber(redis.call('HGET', KEYS[1], 'n'))
end
local taken = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSET', KEYS[1], 'update', ARGV[2])
if taken == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return taken
"""


class ActionCounters:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys
        self._take = client.register_script(_TAKE)

    def take(self, user_id: int, action: Action, update_id: int | None = None) -> Verdict:
        """Count one action of the user's in its window and say whether it may go. The window
        is the counter's lifetime, set by the first action of it. An update counts once,
        however often it is tried (a photo upload retried while S3 was down used to spend
        the whole photo limit and be refused)."""
        limit = LIMITS[action]
        key = self._keys("limit", action.value, user_id)
        update = "" if update_id is None else str(update_id)
        taken = self._take(keys=[key], args=[limit.window_seconds, update])
        return verdict(int(taken), limit)

    def forget(self, user_id: int) -> None:
        """A deleted account: its counters go with it (each names the id)."""
        self._redis.delete(*(self._keys("limit", action.value, user_id) for action in Action))
