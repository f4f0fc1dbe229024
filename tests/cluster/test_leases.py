"""Shard leases and the coordinators that move shards between live nodes (real Redis)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import redis

from cluster.assignment import assign
from cluster.coordinator import Coordinator
from cluster.leases import ShardLeases
from observability.metrics import Metrics
from storage import state
from tests.support.waiting import eventually

SHARDS = 16
TICK = 0.05
TTL_MS = 600


class Consumers:
    """Stands in for every node's shard consumer and checks that no shard is consumed by
    two nodes at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owner: dict[int, str] = {}
        self.violations: list[str] = []

    def worker(self, name: str) -> FakeWorker:
        return FakeWorker(self, name)

    def owned_by(self, name: str) -> set[int]:
        with self.lock:
            return {shard for shard, owner in self.owner.items() if owner == name}


class FakeWorker:
    def __init__(self, consumers: Consumers, name: str) -> None:
        self.consumers = consumers
        self.name = name

    def consume(self, shard: int, lease: str) -> None:
        with self.consumers.lock:
            holder = self.consumers.owner.get(shard)
            if holder is not None and holder != self.name:
                self.consumers.violations.append(f"{self.name} took {shard} from {holder}")
            self.consumers.owner[shard] = self.name

    def release(self, shard: int, drained: Callable[[], None]) -> None:
        self.drop(shard)
        drained()

    def drop(self, shard: int) -> None:
        with self.consumers.lock:
            if self.consumers.owner.get(shard) == self.name:
                del self.consumers.owner[shard]


@pytest.fixture
def cluster(client: redis.Redis, keys: state.Keys) -> Iterator[Callable[[str], Coordinator]]:
    """Starts coordinators (fast ticks, short leases) that share one namespace."""
    consumers = Consumers()
    started: list[Coordinator] = []

    def join(name: str) -> Coordinator:
        coordinator = Coordinator(
            client,
            keys,
            name,
            SHARDS,
            consumers.worker(name),
            Metrics(name),
            tick_seconds=TICK,
            ttl_ms=TTL_MS,
        )
        coordinator.consumers = consumers  # type: ignore[attr-defined]
        started.append(coordinator.start(settle_timeout=0))
        return coordinator

    yield join
    for coordinator in started:
        coordinator.stop(timeout=1)
    assert consumers.violations == []


def settled(coordinators: list[Coordinator]) -> bool:
    """Each coordinator owns exactly its share of the plan for these members."""
    plan = assign(SHARDS, [c.member for c in coordinators])
    return all(c.owned == plan[c.member] and c.members == sorted(plan) for c in coordinators)


class TestShardLeases:
    def test_only_one_claimant_wins_under_contention(
        self, client: redis.Redis, keys: state.Keys
    ) -> None:
        """Eight nodes racing for one shard's lease never hold it at the same time, and every
        new holder gets a larger fencing token."""
        holding = 0
        tokens: list[int] = []
        lock = threading.Lock()
        errors: list[str] = []

        def contend(name: str) -> None:
            nonlocal holding
            leases = ShardLeases(client, keys, name, ttl_ms=5000)
            for _ in range(40):
                value = leases.claim(0)
                if value is None:
                    continue
                with lock:
                    holding += 1
                    if holding != 1:
                        errors.append(f"{holding} holders")
                    tokens.append(int(value.split("|")[1]))
                with lock:
                    holding -= 1
                leases.release(0, value)

        threads = [threading.Thread(target=contend, args=(f"node-{n}",)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens) > 8

    def test_a_lease_held_by_another_is_refused_until_it_expires(
        self, client: redis.Redis, keys: state.Keys
    ) -> None:
        """A lease whose holder stops renewing it becomes free after its time to live."""
        first = ShardLeases(client, keys, "first", ttl_ms=300)
        second = ShardLeases(client, keys, "second", ttl_ms=300)
        held = first.claim(3)
        assert held is not None and held.startswith("first|")
        assert second.claim(3) is None
        assert first.renew({3: held}) == {3}
        taken = eventually(lambda: second.claim(3), timeout=2, what="the lease to expire")
        assert taken is not None
        assert int(taken.split("|")[1]) > int(held.split("|")[1])
        assert first.renew({3: held}) == set(), "the old holder must learn it lost the lease"


class TestCoordinators:
    def test_nodes_divide_the_shards_evenly(self, cluster: Callable[[str], Coordinator]) -> None:
        """Three nodes end up with 5 or 6 of 16 shards each, every shard consumed once."""
        nodes = [cluster(name) for name in ("a", "b", "c")]
        eventually(lambda: settled(nodes), what="an even split")
        assert sorted(len(node.owned) for node in nodes) == [5, 5, 6]

    def test_a_joining_node_gets_its_share_handed_over(
        self, cluster: Callable[[str], Coordinator]
    ) -> None:
        """Shards move to a node that joins, each one released before it is taken."""
        first, second = cluster("a"), cluster("b")
        eventually(lambda: settled([first, second]), what="two nodes settling")
        third = cluster("c")
        eventually(lambda: settled([first, second, third]), what="three nodes settling")
        assert len(third.owned) >= 5

    def test_a_leaving_node_hands_its_shards_to_the_others(
        self, cluster: Callable[[str], Coordinator]
    ) -> None:
        """After a node stops gracefully the remaining two own every shard at once."""
        nodes = [cluster(name) for name in ("a", "b", "c")]
        eventually(lambda: settled(nodes), what="three nodes settling")
        nodes[2].stop(timeout=1)
        eventually(lambda: settled(nodes[:2]), what="two nodes taking over", timeout=3)

    def test_a_dead_nodes_shards_are_taken_once_its_leases_expire(
        self, cluster: Callable[[str], Coordinator]
    ) -> None:
        """A node that vanishes without a word loses its shards to the live ones within
        about a lease's time to live."""
        nodes = [cluster(name) for name in ("a", "b", "c")]
        eventually(lambda: settled(nodes), what="three nodes settling")
        dead = nodes[2]
        orphans = dead.owned
        dead._hand_everything_over = lambda: None  # type: ignore[method-assign]
        dead._stopping.set()  # its thread ends without releasing anything: a crash
        consumers: Consumers = dead.consumers  # type: ignore[attr-defined]
        with consumers.lock:
            for shard in orphans:
                consumers.owner.pop(shard, None)  # a dead node consumes nothing
        eventually(
            lambda: settled(nodes[:2]),
            what="the live nodes taking over",
            timeout=TTL_MS / 1000 * 3 + 1,
        )
