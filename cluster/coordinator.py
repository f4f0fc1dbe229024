"""Who is in the cluster, which node consumes which shard, and who polls Telegram.

Membership: every node keeps a heartbeat in a Redis sorted set (score = the moment it expires,
by Redis's clock); a member that stops beating is gone after MEMBER_TTL_MS.

Assignment: every node computes the same plan from the same member list — rendezvous hashing
with bounded load, so each node gets floor(S/N) or ceil(S/N) of the S shards and a joining or
leaving node moves few of them.

Shard leases: a node consumes a shard only while it holds the shard's lease, a Redis key
``SET NX PX`` with the value ``<member>|<fencing token>`` (the token counts up per shard). The
owner renews its leases every tick; a renewal that finds another value means the lease was
lost and the shard is dropped at once. A node gives a shard up by cancelling its consumer,
letting the shard's work in hand finish and be acknowledged, and only then deleting the lease;
the next owner claims the free lease and consumes. The shard queues are single-active-consumer
queues as well, so even a mistaken double claim never makes two consumers active.

Intake: long polling is done by the one node that holds a PostgreSQL advisory lock on a
dedicated connection; the lock dies with the holder's connection (a killed node's socket is
closed by its kernel), and the others try to take it every INTAKE_RETRY_SECONDS.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
import redis
import structlog

from observability.metrics import Metrics
from storage.state import Keys

log = structlog.get_logger(__name__)

MEMBER_TTL_MS = 4000
LEASE_TTL_MS = 4000
TICK_SECONDS = 0.5
# A node that has not renewed its leases for this long stops consuming: they may be gone.
LEASE_SAFETY_MS = LEASE_TTL_MS - 1000
INTAKE_RETRY_SECONDS = 1.0
INTAKE_CHECK_SECONDS = 2.0

_HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[2] ~= '0' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
"""

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


def new_member_id(node_id: str) -> str:
    """A member name unique to this process: the node's name and a random suffix (two
    processes started with one NODE_ID must not be taken for one member)."""
    return f"{node_id}~{uuid.uuid4().hex[:8]}"


def _score(shard: int, member: str) -> int:
    digest = hashlib.blake2b(f"{shard}:{member}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def assign(shards: int, members: Iterable[str]) -> dict[str, frozenset[int]]:
    """Every shard to one member, the same answer on every node for the same members.

    Rendezvous hashing with bounded load: each shard goes to the member that ranks it highest
    among those not yet full; a member is full at ceil(S/N) shards, and once S mod N members
    are, the rest are full at floor(S/N). So no node has more than one shard above another,
    and a change of members moves few shards."""
    names = sorted(set(members))
    if not names:
        return {}
    low, extra = divmod(shards, len(names))
    owned: dict[str, set[int]] = {name: set() for name in names}
    full_at_high = 0
    for shard in range(shards):
        for name in sorted(names, key=lambda member: _score(shard, member), reverse=True):
            limit = low + 1 if full_at_high < extra else low
            if len(owned[name]) < limit:
                owned[name].add(shard)
                if len(owned[name]) == low + 1:
                    full_at_high += 1
                break
    return {name: frozenset(shards_of) for name, shards_of in owned.items()}


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
        return sorted(_text(member) for member in members)

    def members(self) -> list[str]:
        return sorted(
            _text(member) for member in self._script(keys=[self._key], args=[self.member, 0])
        )

    def leave(self, client: redis.Redis) -> None:
        client.zrem(self._key, self.member)


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
        return _text(value) if value else None

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
        return {shard: _text(value).split("|", 1)[0] for shard, value in enumerate(values) if value}


class ShardWorker(Protocol):
    """What the coordinator drives: the shard consumer (messaging.bus.ShardConsumer)."""

    def consume(self, shard: int, lease: str) -> None: ...

    def release(self, shard: int, drained: Callable[[], None]) -> None: ...

    def drop(self, shard: int) -> None: ...


@dataclass
class _Held:
    value: str
    releasing: bool = False
    drained: threading.Event = field(default_factory=threading.Event)


class Coordinator:
    """A thread that keeps this node's membership and shard leases, and moves shards in and
    out of the shard consumer so that the live nodes divide them evenly."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        member: str,
        shards: int,
        worker: ShardWorker,
        metrics: Metrics,
        tick_seconds: float = TICK_SECONDS,
        ttl_ms: int = LEASE_TTL_MS,
    ) -> None:
        self.member = member
        self.shards = shards
        self._client = client
        self._keys = keys
        self._membership = Membership(client, keys, member, ttl_ms)
        self._leases = ShardLeases(client, keys, member, ttl_ms)
        self._worker = worker
        self._metrics = metrics
        self._tick = tick_seconds
        self._ttl_ms = ttl_ms
        self._held: dict[int, _Held] = {}
        self._lock = threading.Lock()
        self._members: list[str] = []
        self._stopping = threading.Event()
        self._settled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cluster-coordinator", daemon=True)
        self._last_renewed = time.monotonic()
        self._last_plan: frozenset[int] | None = None
        self._stop_deadline = 0.0

    # -- public -----------------------------------------------------------------------------

    def start(self, settle_timeout: float = 10.0) -> Coordinator:
        """Join the cluster and take the shards that are free now; the rest follow as their
        owners hand them over."""
        self._check_shard_count()
        self._step()
        self._thread.start()
        self._settled.wait(settle_timeout)
        return self

    @property
    def owned(self) -> frozenset[int]:
        with self._lock:
            return frozenset(shard for shard, held in self._held.items() if not held.releasing)

    @property
    def members(self) -> list[str]:
        return list(self._members)

    def stop(self, timeout: float = 8.0) -> None:
        """Leave: stop claiming, hand every shard over (its work in hand finished and
        acknowledged, the lease renewed meanwhile), release the leases and the membership."""
        self._stop_deadline = time.monotonic() + timeout
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout + 2)
        else:
            self._leave()

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            stopping = self._stopping.wait(self._tick)
            if stopping:
                self._hand_everything_over()
                return
            try:
                self._step()
            except redis.RedisError as error:
                log.warning("cluster step failed", error=str(error))
                self._guard_expired_leases()
            except Exception:
                log.exception("cluster step failed")

    def _hand_everything_over(self) -> None:
        with self._lock:
            shards = [shard for shard, held in self._held.items() if not held.releasing]
        for shard in shards:
            self._start_release(shard)
        while self._held and time.monotonic() < self._stop_deadline:
            try:
                self._renew()
                self._release_drained()
            except redis.RedisError as error:
                log.warning("cluster step failed while stopping", error=str(error))
            if self._held:
                time.sleep(min(0.02, self._tick))
        for shard in list(self._held):
            log.warning(
                "shard not drained in time; its unacknowledged work returns to the queue",
                shard=shard,
            )
            self._worker.drop(shard)
            self._finish_release(shard)
        self._leave()

    def _leave(self) -> None:
        try:
            self._membership.leave(self._client)
        except redis.RedisError as error:
            log.warning("could not leave the membership", error=str(error))
        self._metrics.owned_shards.labels(self._metrics.node_id).set(0)
        log.info("left the cluster", member=self.member)

    def _step(self) -> None:
        members = self._membership.beat()
        if members != self._members:
            log.info("cluster membership", members=members, member=self.member)
            self._members = members
        self._metrics.cluster_members.labels(self._metrics.node_id).set(len(members))
        self._renew()
        self._release_drained()
        plan = assign(self.shards, members).get(self.member, frozenset())
        with self._lock:
            current = {shard for shard, held in self._held.items() if not held.releasing}
        for shard in sorted(current - plan):
            self._start_release(shard)
        for shard in sorted(plan - set(self._held)):
            value = self._leases.claim(shard)
            if value is not None:
                with self._lock:
                    self._held[shard] = _Held(value)
                self._worker.consume(shard, value)
                log.info("shard claimed", shard=shard, lease=value)
        owned = self.owned
        self._metrics.owned_shards.labels(self._metrics.node_id).set(len(owned))
        if owned >= plan and not any(held.releasing for held in self._held.values()):
            self._settled.set()
        if plan != self._last_plan:
            self._last_plan = plan
            log.info(
                "shard plan",
                member=self.member,
                plan=sorted(plan),
                owned=sorted(owned),
                members=len(members),
            )

    def _renew(self) -> None:
        with self._lock:
            held = {shard: h.value for shard, h in self._held.items()}
        kept = self._leases.renew(held)
        self._last_renewed = time.monotonic()
        for shard in set(held) - kept:
            log.error("shard lease lost; dropping the shard", shard=shard)
            self._worker.drop(shard)
            with self._lock:
                self._held.pop(shard, None)

    def _guard_expired_leases(self) -> None:
        """Redis is unreachable: once our leases may have expired, stop consuming."""
        if (time.monotonic() - self._last_renewed) * 1000 < LEASE_SAFETY_MS:
            return
        with self._lock:
            shards = list(self._held)
            self._held.clear()
        for shard in shards:
            log.error("cannot renew the shard lease; dropping the shard", shard=shard)
            self._worker.drop(shard)

    def _start_release(self, shard: int) -> None:
        with self._lock:
            held = self._held.get(shard)
            if held is None or held.releasing:
                return
            held.releasing = True
        log.info("handing shard over", shard=shard)
        self._worker.release(shard, held.drained.set)

    def _release_drained(self) -> None:
        with self._lock:
            drained = [
                shard
                for shard, held in self._held.items()
                if held.releasing and held.drained.is_set()
            ]
        for shard in drained:
            self._finish_release(shard)

    def _finish_release(self, shard: int) -> None:
        with self._lock:
            held = self._held.pop(shard, None)
        if held is None:
            return
        try:
            self._leases.release(shard, held.value)
        except redis.RedisError as error:
            log.warning(
                "could not release a shard lease; it expires", shard=shard, error=str(error)
            )
        log.info("shard handed over", shard=shard)

    def _check_shard_count(self) -> None:
        """Every node must cut users into the same shards: a node whose SHARDS differs from
        the running nodes' refuses to start."""
        key = self._keys("cluster", "shards")
        recorded = self._client.get(key)
        if recorded is not None and int(recorded) != self.shards and self._membership.members():
            raise RuntimeError(f"SHARDS={self.shards} but the running nodes use {int(recorded)}")
        self._client.set(key, self.shards)


class IntakeLease:
    """The right to long-poll Telegram: a PostgreSQL advisory lock held by a dedicated
    connection (blocking calls; run them off the event loop)."""

    def __init__(self, database_url: str, bot_id: str) -> None:
        self._url = database_url
        self._name = f"dating:intake:{bot_id}"
        self._conn: psycopg.Connection[Any] | None = None
        self._standby: psycopg.Connection[Any] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; a node waiting for it keeps its connection open."""
        if self._conn is not None:
            return True
        if self._standby is None or self._standby.closed:
            self._standby = psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=5,
                keepalives=1,
                keepalives_idle=5,
                keepalives_interval=2,
                keepalives_count=2,
            )
        try:
            row = self._standby.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (self._name,)
            ).fetchone()
        except psycopg.Error:
            self._standby.close()
            self._standby = None
            raise
        if row is None or not row[0]:
            return False
        self._conn, self._standby = self._standby, None
        return True

    def alive(self) -> bool:
        """Whether the lock is still ours (its connection still answers)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            self._drop()
            return False

    def release(self) -> None:
        if self._standby is not None:
            self._standby.close()
            self._standby = None
        if self._conn is None:
            return
        with contextlib.suppress(psycopg.Error):
            self._conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (self._name,))
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def fair_share(shards: int, members: Sequence[str]) -> float:
    return shards / max(1, len(members))
