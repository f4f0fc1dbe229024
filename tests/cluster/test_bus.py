"""The RabbitMQ side (real broker, a vhost of its own): shard queues consumed by one node at
a time, dead letters, and broadcasts between nodes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from kombu import Connection

from actors.delivery import Delivery
from messaging import topology
from messaging.bus import Bus
from messaging.consumer import (
    HOLD_LIMIT_SECONDS,
    MAX_DELIVERIES,
    USER_IN_FLIGHT,
    DeliveryCounts,
    ShardConsumer,
)
from observability.metrics import Metrics
from storage.journal import ReplyJournal
from tests.support.services import rabbitmq_vhost
from tests.support.waiting import eventually

SHARDS = 4


@pytest.fixture(scope="module")
def amqp_url() -> Iterator[str]:
    with rabbitmq_vhost("cluster-bus") as url:
        yield url


class Recorder:
    """A handler that remembers what it was given; acks unless told otherwise."""

    def __init__(self, name: str, act: Callable[[Delivery], None] | None = None) -> None:
        self.name = name
        self.seen: list[int] = []
        self.lock = threading.Lock()
        self.act = act or (lambda delivery: delivery.done())

    def saw(self, expected: list[int]) -> Callable[[], bool]:
        return lambda: self.seen == expected

    def __call__(self, delivery: Delivery) -> None:
        with self.lock:
            self.seen.append(int(delivery.update["update_id"]))
        self.act(delivery)


@pytest.fixture
def node_parts(amqp_url: str) -> Iterator[Callable[..., tuple[Bus, ShardConsumer, Metrics]]]:
    """Starts a bus and a shard consumer as a node would; stops them all at the end."""
    running: list[tuple[Bus, ShardConsumer]] = []

    def start(
        name: str,
        handler: Callable[[Delivery], None],
        deliveries: DeliveryCounts | None = None,
        hold_limit: float = HOLD_LIMIT_SECONDS,
    ) -> tuple[Bus, ShardConsumer, Metrics]:
        metrics = Metrics(name)
        bus = Bus(amqp_url, SHARDS, name, metrics).start_and_wait()
        consumer = ShardConsumer(
            amqp_url, handler, bus, metrics, deliveries, hold_limit=hold_limit
        ).start_and_wait()
        running.append((bus, consumer))
        return bus, consumer, metrics

    yield start
    for bus, consumer in reversed(running):
        consumer.stop()
        bus.stop()


def ignore(_: Delivery) -> None:
    """A handler whose node dies before acknowledging anything."""


class KilledEachTime:
    """The delivery counts of nodes that are killed with the message in hand: counted as the
    journal counts them, never forgiven (a killed node has no chance to)."""

    def __init__(self, journal: ReplyJournal) -> None:
        self.count_delivery = journal.count_delivery

    def forgive_deliveries(self, keys: Sequence[str]) -> None:
        """Killed: nothing is forgiven."""


def one_update_waiting(
    amqp_url: str, node_parts: Callable[..., tuple[Bus, ShardConsumer, Metrics]], update_id: int
) -> Bus:
    """An update of user 7 alone in shard 3's queue (the dead letters empty); the bus."""
    purge(amqp_url, topology.shard_queue_name(3), topology.DEAD_LETTER_QUEUE)
    bus, _, _ = node_parts("publisher", Recorder("unused"))
    bus.publish_updates([(7, update(update_id, 7))])
    return bus


def unacknowledging(
    amqp_url: str, bus: Bus, name: str, deliveries: DeliveryCounts
) -> tuple[Recorder, ShardConsumer]:
    """A consumer of shard 3 that acknowledges nothing (stop it to give its messages back)."""
    recorder = Recorder(name, act=ignore)
    consumer = ShardConsumer(amqp_url, recorder, bus, Metrics(name), deliveries)
    consumer.start_and_wait().consume(3, f"{name}|1")
    return recorder, consumer


def hear(into: list[object]) -> Callable[[str, dict[str, Any]], None]:
    return lambda _topic, payload: into.append(payload["user_id"])


def update(update_id: int, user_id: int = 4) -> dict[str, object]:
    return {"update_id": update_id, "message": {"from": {"id": user_id}, "text": "hi"}}


def purge(amqp_url: str, *queues: str) -> None:
    with Connection(amqp_url) as conn:
        channel = conn.channel()
        for name in queues:
            channel.queue_purge(name)


def dead_letters(amqp_url: str) -> list[tuple[dict[str, object], dict[str, object]]]:
    """Take every dead letter: (body, headers)."""
    taken = []
    with Connection(amqp_url) as conn:
        channel = conn.channel()
        while message := channel.basic_get(topology.DEAD_LETTER_QUEUE, no_ack=True):
            taken.append((json.loads(message.body), dict(message.headers)))
    return taken


class TestSingleActiveConsumer:
    def test_a_double_claim_still_gives_each_message_to_one_consumer(
        self, amqp_url: str, node_parts: Callable[..., tuple[Bus, ShardConsumer, Metrics]]
    ) -> None:
        """Two nodes both subscribed to one shard (a mistaken double claim): only the first
        gets messages; once it lets go, the second takes over."""
        first, second = Recorder("first"), Recorder("second")
        bus, first_consumer, _ = node_parts("first", first)
        _, second_consumer, _ = node_parts("second", second)
        purge(amqp_url, topology.shard_queue_name(0))
        first_consumer.consume(0, "first|1")
        eventually(lambda: 0 in first_consumer.shards, what="the first subscription")
        second_consumer.consume(0, "second|2")
        eventually(lambda: 0 in second_consumer.shards, what="the second subscription")
        bus.publish_updates([(4, update(n)) for n in range(1, 41)])
        eventually(lambda: len(first.seen) == 40, what="all 40 reaching the first consumer")
        assert second.seen == []
        released = threading.Event()
        first_consumer.release(0, released.set)
        assert released.wait(5)
        bus.publish_updates([(4, update(n)) for n in range(41, 51)])
        eventually(lambda: len(second.seen) == 10, what="the second consumer taking over")
        assert first.seen == list(range(1, 41)) and second.seen == list(range(41, 51))

    def test_releasing_waits_for_the_work_in_hand(
        self, amqp_url: str, node_parts: Callable[..., tuple[Bus, ShardConsumer, Metrics]]
    ) -> None:
        """A shard is reported drained only after its last message in hand is acknowledged."""
        held: list[Delivery] = []
        recorder = Recorder("slow", act=held.append)
        bus, consumer, _ = node_parts("slow", recorder)
        purge(amqp_url, topology.shard_queue_name(1))
        consumer.consume(1, "slow|1")
        eventually(lambda: 1 in consumer.shards, what="the subscription")
        bus.publish_updates([(5, update(n, 5)) for n in range(1, 4)])
        eventually(lambda: len(held) == 3, what="three messages in hand")
        drained = threading.Event()
        consumer.release(1, drained.set)
        held[0].done()
        held[1].done()
        assert not drained.wait(0.3), "drained with a message still in hand"
        held[2].done()
        assert drained.wait(5)

    def test_releasing_gives_the_parked_messages_back_in_order(
        self, amqp_url: str, node_parts: Callable[..., tuple[Bus, ShardConsumer, Metrics]]
    ) -> None:
        """A released shard waits only for the messages in handling; a user's messages parked
        behind them go back to the queue and the next owner handles them, in order."""
        held: list[Delivery] = []
        recorder = Recorder("parking", act=held.append)
        bus, consumer, _ = node_parts("parking", recorder)
        purge(amqp_url, topology.shard_queue_name(1))
        consumer.consume(1, "parking|1")
        eventually(lambda: 1 in consumer.shards, what="the subscription")
        count = USER_IN_FLIGHT + 2
        bus.publish_updates([(5, update(n, 5)) for n in range(1, count + 1)])
        eventually(lambda: consumer.in_flight == count, what="every message in hand")
        assert len(held) == USER_IN_FLIGHT and consumer.parked == 2
        drained = threading.Event()
        consumer.release(1, drained.set)
        eventually(lambda: consumer.in_flight == USER_IN_FLIGHT, what="the parked given back")
        for delivery in held[:-1]:
            delivery.done()
        assert not drained.wait(0.3), "drained with a message still in handling"
        held[-1].done()
        assert drained.wait(5)
        assert recorder.seen == list(range(1, USER_IN_FLIGHT + 1))
        successor = Recorder("successor")
        _, next_owner, _ = node_parts("successor", successor)
        next_owner.consume(1, "successor|1")
        eventually(successor.saw([USER_IN_FLIGHT + 1, count]), what="the parked ones, in order")


class TestFairness:
    def test_a_flooding_user_leaves_the_shard_to_the_others(
        self, amqp_url: str, node_parts: Callable[..., tuple[Bus, ShardConsumer, Metrics]]
    ) -> None:
        """While someone's 50 messages wait for their replies, only a few are in handling and
        another user of the same shard is served at once; the flood then goes in order."""
        held: list[Delivery] = []

        def act(delivery: Delivery) -> None:
            if delivery.user_id == 9:
                delivery.done()
            else:
                held.append(delivery)

        recorder = Recorder("fair", act=act)
        bus, consumer, _ = node_parts("fair", recorder)
        purge(amqp_url, topology.shard_queue_name(1))
        consumer.consume(1, "fair|1")
        eventually(lambda: 1 in consumer.shards, what="the subscription")
        bus.publish_updates([(5, update(n, 5)) for n in range(1, 51)])
        eventually(lambda: consumer.parked == 50 - USER_IN_FLIGHT, what="the flood parked")
        bus.publish_updates([(9, update(1000 + n, 9)) for n in range(3)])
        eventually(lambda: recorder.seen[-3:] == [1000, 1001, 1002], what="the other user")
        assert len(held) == USER_IN_FLIGHT
        while len(held) < 50:
            count = len(held)
            held[count - USER_IN_FLIGHT].done()
            eventually(lambda: len(held) == count + 1, what="the next parked one")  # noqa: B023 (waited on before the loop goes on)
        for delivery in held[-USER_IN_FLIGHT:]:
            delivery.done()
        flood = [n for n in recorder.seen if n < 1000]
        assert flood == list(range(1, 51))
        eventually(lambda: consumer.in_flight == 0, what="everything acknowledged")


class TestDeadLetters:
    def test_a_message_that_keeps_failing_goes_to_the_dead_letters(
        self, amqp_url: str, node_parts: Callable[..., tuple[Bus, ShardConsumer, Metrics]]
    ) -> None:
        """An update whose handler gives up lands in the dead letter queue with the error,
        and the node counts it."""
        recorder = Recorder("poison", act=lambda d: d.dead_letter("ValueError: bad input"))
        bus, consumer, metrics = node_parts("poison", recorder)
        purge(amqp_url, topology.shard_queue_name(2), topology.DEAD_LETTER_QUEUE)
        consumer.consume(2, "poison|1")
        eventually(lambda: 2 in consumer.shards, what="the subscription")
        bus.publish_updates([(6, update(77, 6))])
        letters = eventually(lambda: dead_letters(amqp_url), what="a dead letter")
        [(body, headers)] = letters
        assert body["update_id"] == 77
        assert headers["x-error"] == "ValueError: bad input"
        assert headers["update_id"] == 77 and headers["x-shard"] == 2
        eventually(
            lambda: metrics.dead_letters.labels("poison")._value.get() == 1,
            what="the dead letter being counted",
        )

    def test_a_message_delivered_too_often_is_not_handled_again(
        self,
        amqp_url: str,
        journal: ReplyJournal,
        node_parts: Callable[..., tuple[Bus, ShardConsumer, Metrics]],
    ) -> None:
        """A message that is never acknowledged (its node keeps dying) is dead-lettered on
        its fifth delivery instead of being handed to the handler once more."""
        bus = one_update_waiting(amqp_url, node_parts, 99)
        handled = 0
        for attempt in range(1, MAX_DELIVERIES + 1):
            recorder, consumer = unacknowledging(
                amqp_url, bus, f"crashing-{attempt}", KilledEachTime(journal)
            )
            if attempt < MAX_DELIVERIES:
                eventually(recorder.saw([99]), what=f"delivery {attempt}")
                handled += 1
                consumer.stop()  # its connection closes: the broker gives the message out again
            else:
                letters = eventually(lambda: dead_letters(amqp_url), what="a dead letter")
                consumer.stop()
                assert recorder.seen == []
                assert "delivered 5 times" in str(letters[0][1]["x-error"])
        assert handled == MAX_DELIVERIES - 1

    def test_messages_a_live_node_gives_back_are_never_dead_lettered(
        self,
        amqp_url: str,
        journal: ReplyJournal,
        node_parts: Callable[..., tuple[Bus, ShardConsumer, Metrics]],
    ) -> None:
        """A message given back more than MAX_DELIVERIES times by nodes that live on (they
        stopped, or lost the broker) is still handled: only a node killed with it counts."""
        bus = one_update_waiting(amqp_url, node_parts, 98)
        for attempt in range(1, MAX_DELIVERIES + 2):
            recorder, consumer = unacknowledging(amqp_url, bus, f"stopping-{attempt}", journal)
            eventually(recorder.saw([98]), what=f"delivery {attempt}")
            consumer.stop()
        finisher = Recorder("finisher")
        _, consumer, _ = node_parts("finisher", finisher, journal)
        consumer.consume(3, "finisher|1")
        eventually(finisher.saw([98]), what="the message handled at last")
        eventually(lambda: consumer.in_flight == 0, what="it acknowledged")
        assert dead_letters(amqp_url) == []


class TestConsumerTimeout:
    def test_a_wait_longer_than_the_hold_limit_carries_on_with_new_copies(
        self,
        amqp_url: str,
        journal: ReplyJournal,
        node_parts: Callable[..., tuple[Bus, ShardConsumer, Metrics]],
    ) -> None:
        """A user's update waiting for a dependency longer than the hold limit (which stays
        under RabbitMQ's consumer timeout): the consumer reopens its connection, the copies in
        hand are let go, the broker gives the messages out again in order, and the new copies
        finish them once — over and over, never dead-lettered."""
        over = threading.Event()

        def wait_until_over(delivery: Delivery) -> None:
            if over.is_set():
                delivery.done()
            else:
                held.append(delivery)

        held: list[Delivery] = []
        recorder = Recorder("waiting", act=wait_until_over)
        bus, consumer, _ = node_parts("waiting", recorder, journal, hold_limit=1.0)
        purge(amqp_url, topology.shard_queue_name(2), topology.DEAD_LETTER_QUEUE)
        consumer.consume(2, "waiting|1")
        eventually(lambda: 2 in consumer.shards, what="the subscription")
        bus.publish_updates([(6, update(n, 6)) for n in (201, 202)])
        copies = MAX_DELIVERIES + 1
        eventually(
            lambda: recorder.seen.count(202) >= copies,
            timeout=60,
            what=f"the waiting updates given out {copies} times",
        )
        over.set()
        for delivery in list(held):
            delivery.done()  # an old copy's acknowledgement is ignored
        eventually(lambda: consumer.in_flight == 0, timeout=30, what="both acknowledged")
        # Each time given out again in their order, the new copies taking the old ones' place.
        assert recorder.seen == [201, 202] * (len(recorder.seen) // 2), recorder.seen
        assert 2 in consumer.shards
        assert dead_letters(amqp_url) == []


class TestBroadcasts:
    def test_every_live_node_hears_a_broadcast(
        self, node_parts: Callable[..., tuple[Bus, ShardConsumer, Metrics]]
    ) -> None:
        """A profile change published by one node reaches every node, itself included."""
        heard: dict[str, list[object]] = {"a": [], "b": [], "c": []}
        buses = []
        for name, into in heard.items():
            bus, _, _ = node_parts(f"listener-{name}", Recorder(name))
            bus.on_event(topology.PROFILE_CHANGED, hear(into))
            buses.append(bus)
        # Handlers are registered after start here; the bus reads them per message.
        buses[0].broadcast(topology.PROFILE_CHANGED, {"user_id": 42}).result(5)
        eventually(
            lambda: all(values == [42] for values in heard.values()),
            what="every node hearing the event",
        )
