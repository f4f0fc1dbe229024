"""Shard leases: a node consumes a shard only while it holds the shard's lease, a Redis key
``SET NX PX`` with the value ``<member>|<fencing token>`` (the token counts up per shard). The
owner renews its leases every tick (cluster.coordinator); a renewal that finds another value
means the lease was lost. A released lease is deleted only if it is still the releaser's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis

from storage.state import Keys, as_text

LEASE_TTL_MS = 4000

_CLAIM = """
local current = redis.call('GET', KEYS[1])
if current then
  if string.sub(current, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '|' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return current
  end
  return false
end
local fence = redis.call('INCR', KEYS[2])
local value = ARGV[1] .. '|' .. fence
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value
"""

_RENEW = """
local kept = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
    kept[i] = 1
  else
    kept[i] = 0
  end
end
return kept
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass
class ShardLeases:
    """Per-shard leases with fencing tokens (Redis; blocking calls)."""

    client: redis.Redis
    keys: Keys
    member: str
    ttl_ms: int = LEASE_TTL_MS
    _claim: Any = field(init=False)
    _renew: Any = field(init=False)
    _release: Any = field(init=False)

    def __post_init__(self) -> None:
        self._claim = self.client.register_script(_CLAIM)
        self._renew = self.client.register_script(_RENEW)
        self._release = self.client.register_script(_RELEASE)

    def key(self, shard: int) -> str:
        return self.keys("cluster", "shard", shard)

    def claim(self, shard: int) -> str | None:
        """The lease's value (``member|token``) if it is now ours, None if another holds it."""
        value = self._claim(
            keys=[self.key(shard), self.keys("cluster", "fence", shard)],
            args=[self.member, self.ttl_ms],
        )
        return as_text(value) if value else None

    def renew(self, held: dict[int, str]) -> set[int]:
        """Renew the given leases (shard → value); the shards whose lease is still ours."""
        if not held:
            return set()
        shards = sorted(held)
        kept = self._renew(
            keys=[self.key(shard) for shard in shards],
            args=[self.ttl_ms, *(held[shard] for shard in shards)],
        )
        return {shard for shard, ok in zip(shards, kept, strict=True) if int(ok)}

    def release(self, shard: int, value: str) -> None:
        self._release(keys=[self.key(shard)], args=[value])

    def holders(self, shards: int) -> dict[int, str]:
        """Who holds each held lease (shard → member), for tests and operators."""
        values = self.client.mget([self.key(shard) for shard in range(shards)])
        return {
            shard: as_text(value).split("|", 1)[0] for shard, value in enumerate(values) if value
        }
