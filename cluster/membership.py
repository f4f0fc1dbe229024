"""Who is in the cluster: every node keeps a heartbeat in a Redis sorted set (score = the
moment it expires, by Redis's clock); a member that stops beating is gone after MEMBER_TTL_MS."""

from __future__ import annotations

import uuid

import redis

from storage.state import Keys, as_text

MEMBER_TTL_MS = 4000

_HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[2] ~= '0' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
"""


def new_member_id(node_id: str) -> str:
    """A member name unique to this process: the node's name and a random suffix (two
    processes started with one NODE_ID must not be taken for one member)."""
    return f"{node_id}~{uuid.uuid4().hex[:8]}"


class Membership:
    """This node's heartbeat and the list of live members (Redis; blocking calls)."""

    def __init__(
        self, client: redis.Redis, keys: Keys, member: str, ttl_ms: int = MEMBER_TTL_MS
    ) -> None:
        self.member = member
        self._key = keys("cluster", "members")
        self._ttl_ms = ttl_ms
        self._script = client.register_script(_HEARTBEAT)

    def beat(self) -> list[str]:
        """Renew this node's membership; the live members, sorted."""
        members = self._script(keys=[self._key], args=[self.member, self._ttl_ms])
        return sorted(as_text(member) for member in members)

    def members(self) -> list[str]:
        return sorted(
            as_text(member) for member in self._script(keys=[self._key], args=[self.member, 0])
        )

    def leave(self, client: redis.Redis) -> None:
        client.zrem(self._key, self.member)
