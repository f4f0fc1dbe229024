"""The coordinator: a thread that keeps this node's membership (cluster.membership) and shard
leases (cluster.leases), and moves shards in and out of the shard consumer so that the live
nodes divide them as the plan says (cluster.assignment).

A node gives a shard up by cancelling its consumer, letting the shard's work in hand finish
and be acknowledged, and only then deleting the lease; the next owner claims the free lease
and consumes. A lease lost (another value found on renewal) makes the shard be dropped at
once. The shard queues are single-active-consumer queues as well, so even a mistaken double
claim never makes two consumers active. Who polls Telegram is cluster.intake_lease."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import redis
import structlog

from cluster.assignment import assign
from cluster.leases import LEASE_TTL_MS, ShardLeases
from cluster.membership import Membership
from observability.metrics import Metrics
from storage.state import Keys

log = structlog.get_logger(__name__)

TICK_SECONDS = 0.5
# A node that has not renewed its leases for this long stops consuming: they may be gone.
LEASE_SAFETY_MS = LEASE_TTL_MS - 1000


class ShardWorker(Protocol):
    """What the coordinator drives: the shard consumer (messaging.consumer.ShardConsumer)."""

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
