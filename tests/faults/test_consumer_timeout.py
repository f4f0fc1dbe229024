"""RabbitMQ's consumer timeout, on the real broker: it cuts off a consumer whose channel holds
a delivery unacknowledged longer than ``consumer_timeout`` (30 min by default, a server-wide
setting on 3.10, set here to 3 s and put back after; it checks about once a minute). A shard
consumer reopens its connection before that (its hold limit), so a delivery waiting for a
dependency longer than the timeout is never cut off: it is given out again, in order, and
finished once. Beside it, a consumer without the hold limit is cut off by the broker, and
comes back and finishes its deliveries all the same.

It changes a setting every test's broker shares and reads the broker's log: it runs alone
(marked restarts_services).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from kombu import Connection

from actors.delivery import Delivery
from messaging import topology
from messaging.bus import Bus
from messaging.consumer import ShardConsumer
from observability.metrics import Metrics
from tests.support.restarts import broker_consumer_timeout, broker_log_size, broker_timeouts_since
from tests.support.services import rabbitmq_vhost
from tests.support.waiting import eventually

BROKER_TIMEOUT_MS = 3000
HOLD_LIMIT_SECONDS = 1.0
SHARD = 0
UPDATES = (1, 2)


class Waiting:
    """A handler whose deliveries wait (for a dependency, say) until told to finish."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self._held: list[Delivery] = []
        self._over = False
        self._lock = threading.Lock()

    def __call__(self, delivery: Delivery) -> None:
        with self._lock:
            self.seen.append(int(delivery.update["update_id"]))
            if self._over:
                delivery.done()
            else:
                self._held.append(delivery)

    def finish(self) -> None:
        with self._lock:
            self._over = True
            for delivery in self._held:
                delivery.done()  # an old copy's acknowledgement is ignored


class Holder:
    """A bus and a shard consumer on a vhost of their own, holding one user's two updates."""

    def __init__(self, stack: ExitStack, name: str, hold_limit: float) -> None:
        self.url = stack.enter_context(rabbitmq_vhost(f"consumer-timeout-{name}"))
        metrics = Metrics(name)
        self.bus = Bus(self.url, 1, name, metrics).start_and_wait()
        stack.callback(self.bus.stop)
        self.handler = Waiting()
        self.consumer = ShardConsumer(
            self.url, self.handler, self.bus, metrics, hold_limit=hold_limit
        ).start_and_wait()
        stack.callback(self.consumer.stop)
        self.consumer.consume(SHARD, f"{name}|1")
        eventually(lambda: SHARD in self.consumer.shards, what=f"{name} subscribed")
        self.bus.publish_updates(
            [(5, {"update_id": n, "message": {"from": {"id": 5}}}) for n in UPDATES]
        )

    def given_out(self) -> int:
        """How often the updates were given to the handler."""
        return self.handler.seen.count(UPDATES[-1])

    def finish(self) -> None:
        self.handler.finish()
        eventually(lambda: self.consumer.in_flight == 0, timeout=30, what="acknowledged")
        with Connection(self.url) as conn:
            _, depth, _ = conn.channel().queue_declare(
                queue=topology.shard_queue_name(SHARD), passive=True
            )
        assert depth == 0
        # Each time given out again in their order, the new copies taking the old ones' place.
        seen = self.handler.seen
        assert seen == list(UPDATES) * (len(seen) // len(UPDATES)), seen


@pytest.fixture
def timeout_of_3_s() -> Iterator[None]:
    with broker_consumer_timeout(BROKER_TIMEOUT_MS):
        yield


@pytest.mark.restarts_services
@pytest.mark.timeout(300)
def test_the_hold_limit_beats_the_broker_consumer_timeout(timeout_of_3_s: None) -> None:
    log_at = broker_log_size()
    with ExitStack() as stack:
        limited = Holder(stack, "hold-limit", HOLD_LIMIT_SECONDS)
        unlimited = Holder(stack, "no-hold-limit", 3600.0)
        # The broker checks about once a minute: by the time it has cut the unlimited one
        # off, the updates held with the hold limit have waited through its checks too.
        eventually(
            lambda: unlimited.given_out() >= 2,
            timeout=180,
            interval=0.5,
            what="the broker cutting off the consumer without the hold limit",
        )
        cut_off = broker_timeouts_since(log_at)
        waited_through = limited.given_out()
        limited.finish()
        unlimited.finish()
    # Every cut-off the broker logged was the unlimited consumer's (one a redelivery of it).
    assert cut_off == unlimited.given_out() - 1 >= 1
    assert waited_through * HOLD_LIMIT_SECONDS > 10 * BROKER_TIMEOUT_MS / 1000
