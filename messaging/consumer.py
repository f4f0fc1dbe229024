"""The shard consumer: one thread owning one connection consumes the shards the coordinator
gives it (cluster.coordinator), hands each message to a callback as a Delivery
(actors.delivery) and acknowledges it when the delivery's done() comes back from whatever
thread finished the work. A shard is given up by cancelling its consumer and reporting
"drained" once its last message in hand is acked.

Fairness: one user holds at most USER_IN_FLIGHT messages in handling at a time. A message
is acknowledged only after its replies are sent, at about one a second per chat, so without
this someone sending 50 messages at once would hold most of the shard's slots for a minute
and everyone else on the shard would wait behind them. The user's further messages are parked
here, in order and still unacknowledged, and handed on one by one as the earlier ones are
acknowledged; the broker's prefetch is several times the handling slots so parked messages
leave room for other users' messages to arrive. A parked message is never lost: the broker
gives it out again if this connection dies, and a shard given up hands its parked messages
back to the queue, in their places, for the next owner.
"""

from __future__ import annotations

import contextlib
import queue
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import structlog
from kombu import Connection, Consumer
from kombu.message import Message

from actors.delivery import Delivery
from messaging import topology
from messaging.broker import IDLE_WAIT_SECONDS, BrokerThread, Reopen, wait_and_drain
from messaging.bus import Bus
from observability.metrics import Metrics

log = structlog.get_logger(__name__)

# Messages one user may have in handling at once; the rest of theirs wait parked, in order.
# More than one lets a user's next update be handled while the previous reply is on its way.
USER_IN_FLIGHT = 4
# Handling slots a shard's users share: in practice, how many messages of a shard are worked
# on at once.
HANDLING_SLOTS_PER_SHARD = 64
# Unacknowledged messages the broker gives a shard's consumer: the handling slots and room for
# parked ones, so that a user's parked flood leaves other users' messages arriving. Parked
# messages wait about a second each behind their chat's pacing (and much less once the
# action limits answer a flood with silence), far from the broker's consumer timeout.
PREFETCH_PER_SHARD = 4 * HANDLING_SLOTS_PER_SHARD
DEPTH_SAMPLE_SECONDS = 5.0
# RabbitMQ closes a channel holding a delivery unacknowledged for its consumer_timeout (30 min
# by default, a server setting on 3.10). Before that, the consumer opens its connection anew
# itself: the broker gives the messages in hand out again, in their order, and whoever held
# the old copies lets them go (Delivery.current) — a wait for a dependency carries on with the
# new copies instead of being cut off by the broker.
HOLD_LIMIT_SECONDS = 20 * 60
# A message delivered this many times without being acknowledged (its handling killed the
# node each time, or never finished) goes to the dead letters instead of being handled again.
MAX_DELIVERIES = 5


@dataclass
class _InHand:
    shard: int
    message: Message
    user_id: int | None = None  # whose turn it takes (None: handled outside any turn)
    counted: str = ""  # the key its deliveries are counted under ("": not counted)
    handled: bool = True  # handed to the handler (a parked message is not, yet)
    since: float = field(default_factory=time.monotonic)  # when it came into hand


@dataclass
class _UserTurn:
    """A user's messages in handling, and those parked behind them in arrival order."""

    in_flight: int = 0
    parked: deque[tuple[int, Delivery]] = field(default_factory=deque)


class DeliveryCounts(Protocol):
    """How often a message was given to a node that died before acknowledging it."""

    def count_delivery(self, key: str) -> int:
        """One more delivery of a message given out again; the deliveries in all."""
        ...

    def forgive_deliveries(self, keys: Sequence[str]) -> None:
        """These messages go back to the broker from a node that lives on (it lost its
        connection, gave a shard up, or reopened before the consumer timeout): their
        delivery does not count."""
        ...


class HeldTooLong(Reopen):
    """A delivery was held so long that the broker's consumer timeout is near."""


class ShardConsumer(BrokerThread):
    """Consumes the shards it is told to (consume/release/drop from any thread)."""

    def __init__(
        self,
        url: str,
        handle: Callable[[Delivery], None],
        bus: Bus,
        metrics: Metrics,
        deliveries: DeliveryCounts | None = None,
        name: str = "shard-consumer",
        hold_limit: float = HOLD_LIMIT_SECONDS,
    ) -> None:
        super().__init__(name, url, "shard consumer")
        self._handle = handle
        self._bus = bus
        self._metrics = metrics
        self._deliveries = deliveries
        self._hold_limit = hold_limit
        self._requests: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._wanted: dict[int, str] = {}  # shard → lease value (what we should consume)
        self._consumers: dict[int, Consumer] = {}
        self._in_hand: dict[int, _InHand] = {}  # delivery tag → message
        self._by_shard: dict[int, set[int]] = {}
        self._turns: dict[int, _UserTurn] = {}  # user → their handling and parked messages
        self._draining: dict[int, Callable[[], None]] = {}
        self._generation = 0
        self._channel: Any = None
        self._next_depth_sample = 0.0

    # -- any thread -----------------------------------------------------------------------

    def report(self, request: tuple[Any, ...]) -> None:
        self._requests.put(request)
        self._waker.wake()

    def consume(self, shard: int, lease: str) -> None:
        self.report(("consume", shard, lease))

    def release(self, shard: int, drained: Callable[[], None]) -> None:
        self.report(("release", shard, drained))

    def drop(self, shard: int) -> None:
        self.report(("drop", shard))

    @property
    def in_flight(self) -> int:
        return len(self._in_hand)

    @property
    def parked(self) -> int:
        return sum(1 for in_hand in self._in_hand.values() if not in_hand.handled)

    @property
    def shards(self) -> frozenset[int]:
        return frozenset(self._consumers)

    # -- the consumer thread --------------------------------------------------------------

    def _serve(self, conn: Connection) -> None:
        conn.ensure_connection(max_retries=5, interval_start=0.2, interval_step=0.5)
        channel = conn.channel()
        channel.basic_qos(0, PREFETCH_PER_SHARD, False)
        self._channel = channel
        for shard in sorted(self._wanted):
            self._subscribe(shard)
        self._ready.set()
        while not self._stop_requested.is_set():
            self._serve_requests()
            wait_and_drain(conn, self._waker, IDLE_WAIT_SECONDS)
            self._serve_requests()
            self._sample_depth()
            self._check_holding()
            conn.heartbeat_check()
        self._serve_requests()
        for shard in list(self._consumers):
            self._cancel(shard)
        if self._in_hand:
            log.warning(
                "stopping with messages in hand; the broker gives them out again",
                count=len(self._in_hand),
            )
        self._connection_lost()

    def _connection_lost(self) -> None:
        """The broker gives the connection's unacknowledged messages out again; acks for them
        from the old connection must be ignored."""
        self._generation += 1
        self._forgive(list(self._in_hand.values()))
        self._in_hand.clear()
        self._by_shard.clear()
        self._turns.clear()
        self._consumers.clear()
        self._channel = None
        for shard, drained in list(self._draining.items()):
            del self._draining[shard]
            drained()

    def _serve_requests(self) -> None:
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            kind = request[0]
            if kind == "ack":
                self._ack(request[1], request[2])
            elif kind == "dead":
                self._bury(request[1], request[2], request[3])
            elif kind == "consume":
                self._wanted[request[1]] = request[2]
                if self._channel is not None:
                    self._subscribe(request[1])
            elif kind == "release":
                self._release(request[1], request[2])
            elif kind == "drop":
                self._wanted.pop(request[1], None)
                self._cancel(request[1])
                self._give_back_parked(request[1])
                self._draining.pop(request[1], None)

    def _subscribe(self, shard: int) -> None:
        if shard in self._consumers:
            return
        consumer = Consumer(
            self._channel,
            queues=[topology.shard_queue(shard)],
            # Raw messages: the body is read here with orjson, faster than
            # kombu's decoding; what it cannot read is dead-lettered.
            on_message=lambda message: self._on_message(shard, message),
            no_ack=False,
        )
        consumer.consume()
        self._consumers[shard] = consumer
        self._by_shard.setdefault(shard, set())
        log.info("consuming shard", shard=shard, lease=self._wanted.get(shard))

    def _cancel(self, shard: int) -> None:
        consumer = self._consumers.pop(shard, None)
        if consumer is not None:
            with contextlib.suppress(Exception):
                consumer.cancel()
            with contextlib.suppress(KeyError, ValueError):
                self._metrics.shard_queue_depth.remove(self._metrics.node_id, str(shard))

    def _release(self, shard: int, drained: Callable[[], None]) -> None:
        self._wanted.pop(shard, None)
        self._cancel(shard)
        self._give_back_parked(shard)
        if self._by_shard.get(shard):
            self._draining[shard] = drained
        else:
            self._by_shard.pop(shard, None)
            drained()

    def _give_back_parked(self, shard: int) -> None:
        """A shard given up returns its parked messages to the queue, where they keep their
        place: the next owner consumes only once this node reported the shard drained, that
        is after the messages in handling here, so the users' order holds, and a handover
        waits for a few messages per user instead of a whole flood."""
        returned: list[int] = []
        for user_id, turn in list(self._turns.items()):
            if not turn.parked or self._in_hand[turn.parked[0][0]].shard != shard:
                continue
            returned.extend(tag for tag, _ in turn.parked)
            turn.parked.clear()
            if turn.in_flight <= 0:
                del self._turns[user_id]
        self._forgive([self._in_hand[tag] for tag in returned])
        for tag in reversed(returned):
            in_hand = self._in_hand.pop(tag)
            self._by_shard.get(shard, set()).discard(tag)
            try:
                in_hand.message.reject(requeue=True)
            except Exception as error:
                # The connection is going: the broker gives the message out again anyway.
                log.warning("a parked message not given back", shard=shard, error=str(error))
        if returned:
            log.info("parked messages given back", shard=shard, count=len(returned))

    def _on_message(self, shard: int, message: Message) -> None:
        headers = dict(message.headers or {})
        kind = str(headers.get(topology.KIND_HEADER, topology.KIND_UPDATE))
        try:
            payload = orjson.loads(message.body)
            user_id = int(headers["user_id"])
            if not isinstance(payload, dict):
                raise TypeError("the body is not an object")
        except (ValueError, TypeError, KeyError) as error:
            self._undecodable(shard, message, error)
            return
        tag = int(message.delivery_tag)
        in_hand = _InHand(shard, message)
        self._in_hand[tag] = in_hand
        self._by_shard.setdefault(shard, set()).add(tag)
        redelivered = bool(message.delivery_info.get("redelivered"))
        generation = self._generation
        key = str(payload.get("key") if kind == topology.KIND_SEND else payload.get("update_id"))
        delivery = Delivery(
            payload,
            user_id,
            key,
            kind,
            redelivered,
            done=lambda: self.report(("ack", generation, tag, "")),
            dead_letter=lambda error: self.report(("dead", generation, tag, error)),
            current=lambda: generation == self._generation,
        )
        if self._deliveries is not None:
            in_hand.counted = f"{kind}:{delivery.key}"
        if redelivered and self._deliveries is not None:
            try:
                count = self._deliveries.count_delivery(in_hand.counted)
            except Exception as error:
                log.warning("could not count a redelivery", error=str(error))
                count = 0
            if count >= MAX_DELIVERIES:
                log.error(
                    "message delivered too often; dead-lettered",
                    shard=shard,
                    user_id=user_id,
                    key=delivery.key,
                    deliveries=count,
                )
                self._bury(
                    self._generation, tag, f"delivered {count} times without being acknowledged"
                )
                return
        turn = self._turns.setdefault(user_id, _UserTurn())
        in_hand.user_id = user_id
        if turn.in_flight < USER_IN_FLIGHT:
            turn.in_flight += 1
            self._hand_over(shard, delivery)
        else:
            in_hand.handled = False
            turn.parked.append((tag, delivery))

    def _hand_over(self, shard: int, delivery: Delivery) -> None:
        try:
            self._handle(delivery)
        except Exception:
            log.exception(
                "could not hand a message over; it stays unacknowledged",
                shard=shard,
                user_id=delivery.user_id,
            )

    def _next_turn(self, user_id: int) -> None:
        """A message of the user's was acknowledged: their next parked one goes in."""
        turn = self._turns.get(user_id)
        if turn is None:
            return
        turn.in_flight -= 1
        if turn.parked:
            tag, delivery = turn.parked.popleft()
            turn.in_flight += 1
            in_hand = self._in_hand[tag]
            in_hand.handled = True
            self._hand_over(in_hand.shard, delivery)
        elif turn.in_flight <= 0:
            del self._turns[user_id]

    def _undecodable(self, shard: int, message: Message, error: Exception) -> None:
        log.error("undecodable message dead-lettered", shard=shard, error=str(error))
        tag = int(message.delivery_tag)
        self._in_hand[tag] = _InHand(shard, message)
        self._by_shard.setdefault(shard, set()).add(tag)
        self._bury(self._generation, tag, f"undecodable: {type(error).__name__}: {error}")

    def _ack(self, generation: int, tag: int) -> None:
        if generation != self._generation:
            return
        in_hand = self._in_hand.pop(tag, None)
        if in_hand is None:
            return
        in_hand.message.ack()
        if in_hand.user_id is not None:
            self._next_turn(in_hand.user_id)
        tags = self._by_shard.get(in_hand.shard)
        if tags is not None:
            tags.discard(tag)
            if not tags and in_hand.shard in self._draining:
                del self._by_shard[in_hand.shard]
                self._draining.pop(in_hand.shard)()

    def _bury(self, generation: int, tag: int, error: str) -> None:
        """Dead-letter a message in hand: publish a copy with the error, then ack it."""
        if generation != self._generation:
            return
        in_hand = self._in_hand.get(tag)
        if in_hand is None:
            return
        message = in_hand.message
        future = self._bus.dead_letter(
            message.body, dict(message.headers or {}), error, in_hand.shard
        )
        metrics = self._metrics

        headers = dict(message.headers or {})

        def published(result: Future[None]) -> None:
            if result.exception() is None:
                metrics.dead_letters.labels(metrics.node_id).inc()
                log.error(
                    "dead-lettered; see python -m app.deadletters list",
                    shard=in_hand.shard,
                    user_id=headers.get("user_id"),
                    key=headers.get("key") or headers.get("update_id"),
                    error=error.strip().splitlines()[-1] if error.strip() else "",
                )
                self.report(("ack", generation, tag, ""))
            else:
                log.error(
                    "could not dead-letter a message; it stays unacknowledged",
                    error=str(result.exception()),
                )

        future.add_done_callback(published)

    def _forgive(self, given_back: Sequence[_InHand]) -> None:
        """Messages this node gives back alive: a wait for a dependency that outlasts the hold
        limit, or broker restarts, must not add up to the deliveries that dead-letter a
        message (only a node dying with it in hand counts)."""
        keys = [in_hand.counted for in_hand in given_back if in_hand.counted]
        if not keys or self._deliveries is None:
            return
        try:
            self._deliveries.forgive_deliveries(keys)
        except Exception as error:
            log.warning("deliveries given back not forgiven", count=len(keys), error=str(error))

    def _check_holding(self) -> None:
        if not self._in_hand:
            return
        # Dicts keep insertion order: the first message in hand is the oldest.
        oldest = next(iter(self._in_hand.values()))
        held = time.monotonic() - oldest.since
        if held > self._hold_limit:
            log.warning(
                "a delivery held too long; the broker gives out what is in hand again",
                shard=oldest.shard,
                held=round(held),
                in_hand=len(self._in_hand),
            )
            raise HeldTooLong(f"held {held:.0f} s")

    def _sample_depth(self) -> None:
        now = time.monotonic()
        if now < self._next_depth_sample or self._channel is None:
            return
        self._next_depth_sample = now + DEPTH_SAMPLE_SECONDS
        for shard in sorted(self._consumers):
            try:
                _, depth, _ = self._channel.queue_declare(
                    queue=topology.shard_queue_name(shard), passive=True
                )
            except Exception as error:
                log.warning("queue depth not sampled", shard=shard, error=str(error))
                return
            self._metrics.shard_queue_depth.labels(self._metrics.node_id, str(shard)).set(depth)
