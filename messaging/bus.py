"""The node's two RabbitMQ threads (kombu); the entities themselves are in messaging.topology.

* Bus: one thread owning one connection publishes everything the node sends to the broker —
  Telegram updates from the intake, durable work for a user's shard (a relayed chat message,
  a match notice), broadcasts to every node, dead letters — with publisher confirms streamed
  (many messages in flight, each caller holding a future), and listens to this node's
  broadcast queue.
* ShardConsumer: one thread owning one connection consumes the shards the coordinator gives
  it (cluster.coordinator), hands each message to a callback and acknowledges it when the callback's
  Delivery.done() comes back from whatever thread finished the work. A shard is given up by
  cancelling its consumer and reporting "drained" once its last message in hand is acked.

kombu channels are not thread-safe: other threads only put requests on a queue and wake the
owning thread through a pipe, which waits on the broker's socket and that pipe together.
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Self

import orjson
import structlog
from kombu import Connection, Consumer, Producer
from kombu.message import Message

from messaging import topology
from observability.metrics import Metrics

log = structlog.get_logger(__name__)

PREFETCH_PER_SHARD = 64
CONSUMER_HEARTBEAT_SECONDS = 10
CONFIRM_TIMEOUT_SECONDS = 10.0
RECONNECT_MAX_SECONDS = 5.0
IDLE_WAIT_SECONDS = 1.0
MEMORY_POLL_SECONDS = 0.005
DEPTH_SAMPLE_SECONDS = 5.0
# A message delivered this many times without being acknowledged (its handling killed the
# node each time, or never finished) goes to the dead letters instead of being handled again.
MAX_DELIVERIES = 5
ERROR_HEADER_LIMIT = 2000


def open_connection(url: str, heartbeat: int = 0) -> Connection:
    if url.startswith("memory://"):
        # The in-process transport polls its queues; its default of one second is far too slow.
        return Connection(url, transport_options={"polling_interval": 0.002})
    return Connection(url, heartbeat=heartbeat, connect_timeout=5)


def encode(payload: Any) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)


class PublishError(Exception):
    """The broker refused (nacked) a message or did not confirm it in time."""


class _Waker:
    """A pipe whose read end makes the owning thread's select() return."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def fileno(self) -> int:
        return self._read

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._write, b"!")

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._read, 4096):
                pass

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


def _broker_socket(connection: Connection) -> socket.socket | None:
    return getattr(connection.connection, "sock", None)


def _wait_and_drain(connection: Connection, waker: _Waker, timeout: float) -> None:
    """Wait until the broker sends something, another thread wakes us, or timeout; then handle
    every frame that has arrived."""
    sock = _broker_socket(connection)
    if sock is None:  # memory:// polls
        with contextlib.suppress(TimeoutError, socket.timeout):
            connection.drain_events(timeout=min(timeout, MEMORY_POLL_SECONDS))
        return
    readable, _, _ = select.select([sock.fileno(), waker.fileno()], [], [], timeout)
    if waker.fileno() in readable:
        waker.clear()
    if sock.fileno() in readable:
        while True:
            try:
                connection.drain_events(timeout=0)
            except TimeoutError:
                return


@dataclass
class _Outgoing:
    exchange: str
    routing_key: str
    body: bytes
    headers: dict[str, Any]
    persistent: bool
    future: Future[None] = field(default_factory=Future)
    sent_at: float = 0.0


EventHandler = Callable[[str, dict[str, Any]], None]


def _all_confirmed(futures: list[Future[None]]) -> Future[None]:
    """A future done once every one of futures is: with the first failure, or None."""
    combined: Future[None] = Future()
    combined.set_running_or_notify_cancel()  # it stands for work already handed over
    left = len(futures)
    lock = threading.Lock()

    def one_done(future: Future[None]) -> None:
        nonlocal left
        error = None if future.cancelled() else future.exception()
        with lock:
            left -= 1
            if combined.done():
                return
            if future.cancelled() or error is not None:
                combined.set_exception(error or PublishError("publishing was cancelled"))
            elif left == 0:
                combined.set_result(None)

    if not futures:
        combined.set_result(None)
    for future in futures:
        future.add_done_callback(one_done)
    return combined


class BrokerThread(threading.Thread):
    """A thread that owns one broker connection and serves it (_serve) until stopped. A lost
    connection is opened again with a growing pause; a failure before the thread was first
    ready is handed to start_and_wait instead."""

    def __init__(self, name: str, url: str, what: str) -> None:
        super().__init__(name=name, daemon=True)
        self._url = url
        self._what = what
        self._waker = _Waker()
        self._stop_requested = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start_and_wait(self, timeout: float = 20.0) -> Self:
        self.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"{self._what} did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_requested.set()
        self._waker.wake()
        self.join(timeout)
        self._waker.close()

    def run(self) -> None:
        delay = 0.2
        while not self._stop_requested.is_set():
            try:
                with open_connection(self._url, heartbeat=CONSUMER_HEARTBEAT_SECONDS) as conn:
                    self._serve(conn)
                    return
            except Exception as error:
                if not self._ready.is_set():
                    self._error = error
                    self._ready.set()
                    log.exception(f"{self._what} could not start")
                    return
                log.warning(f"{self._what} connection lost; reconnecting", error=str(error))
                self._connection_lost()
                time.sleep(delay)
                delay = min(RECONNECT_MAX_SECONDS, delay * 2)
        self._stopped_while_disconnected()

    def _serve(self, conn: Connection) -> None:
        raise NotImplementedError

    def _connection_lost(self) -> None:
        """The connection is gone; another is about to be opened."""

    def _stopped_while_disconnected(self) -> None:
        """Stopped between a lost connection and the next one."""


class Bus(BrokerThread):
    """Publishes with confirms (a future per message) and hears broadcasts; one thread."""

    def __init__(self, url: str, shards: int, member: str, metrics: Metrics) -> None:
        super().__init__("bus", url, "the bus")
        self.shards = shards
        self._member = member
        self._metrics = metrics
        self._confirms = not url.startswith("memory://")
        self._outgoing: queue.SimpleQueue[_Outgoing] = queue.SimpleQueue()
        self._unconfirmed: dict[int, _Outgoing] = {}
        self._next_tag = 1
        self._handlers: list[tuple[str, EventHandler]] = []

    # -- any thread -----------------------------------------------------------------------

    def on_event(self, prefix: str, handler: EventHandler) -> None:
        """Call handler(topic, payload) on the bus thread for each broadcast whose topic starts
        with prefix; register before start. A handler must be quick and must not raise."""
        self._handlers.append((prefix, handler))

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        headers: dict[str, Any] | None = None,
        persistent: bool = True,
    ) -> Future[None]:
        """Queue one message; the future resolves once the broker has confirmed it."""
        item = _Outgoing(exchange, routing_key, body, headers or {}, persistent)
        self._queue([item])
        return item.future

    def publish_update(self, user_id: int, update: dict[str, Any]) -> Future[None]:
        return self.publish_update_batch([(user_id, update)])

    def publish_update_batch(self, updates: Sequence[tuple[int, dict[str, Any]]]) -> Future[None]:
        """Queue (user_id, update) pairs with one wake-up of the bus thread; one future that
        resolves once the broker has confirmed them all (or fails with the first refusal), so
        the intake's event loop hears once per batch instead of once per update."""
        items = [
            _Outgoing(
                topology.UPDATES_EXCHANGE,
                str(topology.shard_of(user_id, self.shards)),
                encode(update),
                {
                    "update_id": update["update_id"],
                    "user_id": user_id,
                    topology.KIND_HEADER: topology.KIND_UPDATE,
                },
                True,
            )
            for user_id, update in updates
        ]
        self._queue(items)
        return _all_confirmed([item.future for item in items])

    def _queue(self, items: list[_Outgoing]) -> None:
        """Hand messages to the bus thread, waking it once."""
        for item in items:
            self._outgoing.put(item)
        self._waker.wake()

    def publish_updates(
        self,
        updates: Sequence[tuple[int, dict[str, Any]]],
        timeout: float = CONFIRM_TIMEOUT_SECONDS,
    ) -> None:
        """Publish (user_id, update) pairs; returns once the broker has confirmed each."""
        self.publish_update_batch(updates).result(timeout)

    def send_to_user(
        self, user_id: int, key: str, chat_id: int, replies: list[list[Any]], what: str = "send"
    ) -> Future[None]:
        """Durable replies for one user, handled by whichever node owns the user's shard, in
        order with their updates; key makes a second copy do nothing."""
        shard = topology.shard_of(user_id, self.shards)
        return self.publish(
            topology.EVENTS_EXCHANGE,
            topology.shard_topic(shard, what),
            encode({"key": key, "chat_id": chat_id, "replies": replies}),
            {"user_id": user_id, "key": key, topology.KIND_HEADER: topology.KIND_SEND},
        )

    def broadcast(self, topic: str, payload: dict[str, Any]) -> Future[None]:
        """Tell every live node (best effort: a node that is down misses it)."""
        return self.publish(
            topology.EVENTS_EXCHANGE,
            topic,
            encode({"topic": topic, "from": self._member, **payload}),
            persistent=False,
        )

    def dead_letter(
        self, body: bytes, headers: dict[str, Any], error: str, shard: int | None = None
    ) -> Future[None]:
        dead_headers = {
            **headers,
            "x-error": error[:ERROR_HEADER_LIMIT],
            "x-dead-node": self._member,
            "x-dead-at": time.time(),
        }
        if shard is not None:
            dead_headers["x-shard"] = shard
        return self.publish(topology.DEAD_EXCHANGE, topology.DEAD_ROUTING_KEY, body, dead_headers)

    # -- the bus thread -------------------------------------------------------------------

    def _stopped_while_disconnected(self) -> None:
        self._fail_all(PublishError("the bus stopped"))

    def _serve(self, conn: Connection) -> None:
        conn.ensure_connection(max_retries=5, interval_start=0.2, interval_step=0.5)
        channel = conn.channel()
        topology.declare_all(channel, self.shards)
        if self._confirms:
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
        producer = Producer(channel)
        listen = conn.channel()
        inbox = topology.node_events_queue(self._member)
        # Republish what the previous connection left unconfirmed, in order, with new tags.
        left = list(self._unconfirmed.values())
        self._unconfirmed.clear()
        self._next_tag = 1
        for item in left:
            self._send(producer, item)
        with Consumer(
            listen, queues=[inbox], callbacks=[self._on_event_message], accept=["json"], no_ack=True
        ):
            self._ready.set()
            while not self._stop_requested.is_set():
                self._publish_waiting(producer)
                _wait_and_drain(conn, self._waker, 0.5 if self._unconfirmed else IDLE_WAIT_SECONDS)
                self._expire_unconfirmed()
                conn.heartbeat_check()
            self._publish_waiting(producer)
            deadline = time.monotonic() + 5
            while self._unconfirmed and time.monotonic() < deadline:
                _wait_and_drain(conn, self._waker, 0.1)
        self._fail_all(PublishError("the bus stopped before the broker confirmed"))

    def _publish_waiting(self, producer: Producer) -> None:
        while True:
            try:
                item = self._outgoing.get_nowait()
            except queue.Empty:
                return
            if not item.future.set_running_or_notify_cancel():
                continue
            self._send(producer, item)

    def _send(self, producer: Producer, item: _Outgoing) -> None:
        producer.publish(
            item.body,
            exchange=item.exchange,
            routing_key=item.routing_key,
            delivery_mode=2 if item.persistent else 1,
            content_type="application/json",
            content_encoding="utf-8",
            headers=item.headers,
            retry=False,
        )
        if self._confirms:
            self._unconfirmed[self._next_tag] = item
            self._next_tag += 1
            item.sent_at = item.sent_at or time.monotonic()
        else:
            item.future.set_result(None)

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        for item in self._confirmed(delivery_tag, multiple):
            item.future.set_result(None)

    def _on_nack(self, delivery_tag: int, multiple: bool, *_: Any) -> None:
        for item in self._confirmed(delivery_tag, multiple):
            item.future.set_exception(PublishError("the broker refused a message"))

    def _confirmed(self, delivery_tag: int, multiple: bool) -> list[_Outgoing]:
        if not multiple:
            item = self._unconfirmed.pop(delivery_tag, None)
            return [item] if item is not None else []
        done = [tag for tag in self._unconfirmed if tag <= delivery_tag]
        return [self._unconfirmed.pop(tag) for tag in done]

    def _expire_unconfirmed(self) -> None:
        if not self._unconfirmed:
            return
        first = next(iter(self._unconfirmed.values()))
        if time.monotonic() - first.sent_at > CONFIRM_TIMEOUT_SECONDS:
            raise PublishError(f"{len(self._unconfirmed)} messages not confirmed in time")

    def _fail_all(self, error: Exception) -> None:
        items = list(self._unconfirmed.values())
        self._unconfirmed.clear()
        while True:
            try:
                items.append(self._outgoing.get_nowait())
            except queue.Empty:
                break
        for item in items:
            if not item.future.done():
                item.future.set_exception(error)

    def _on_event_message(self, body: Any, message: Message) -> None:
        try:
            payload = orjson.loads(body) if isinstance(body, (bytes, str)) else body
            topic = str(payload.get("topic", message.delivery_info.get("routing_key", "")))
        except (ValueError, AttributeError) as error:
            log.warning("unreadable broadcast dropped", error=str(error))
            return
        for prefix, handler in self._handlers:
            if topic.startswith(prefix):
                try:
                    handler(topic, payload)
                except Exception:
                    log.exception("event handler failed", topic=topic)


# -- consuming shards -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message taken off a shard queue: a Telegram update (kind "update", the update in
    ``update``) or replies for a user (kind "send", {"key", "chat_id", "replies"}).
    done() or dead_letter() may be called from any thread, once."""

    update: dict[str, Any]
    user_id: int
    shard: int
    tag: int
    redelivered: bool
    kind: str = topology.KIND_UPDATE
    generation: int = 0
    consumer: ShardConsumer | None = None

    @property
    def key(self) -> str:
        """What identifies the work for "do nothing twice": the update_id or the send key."""
        if self.kind == topology.KIND_SEND:
            return str(self.update.get("key"))
        return str(self.update.get("update_id"))

    def done(self) -> None:
        if self.consumer is not None:
            self.consumer.report(("ack", self.generation, self.tag, ""))

    def dead_letter(self, error: str) -> None:
        """Give up on it: a copy goes to the dead letters with the error, then it is acked."""
        if self.consumer is not None:
            self.consumer.report(("dead", self.generation, self.tag, error))


@dataclass
class _InHand:
    shard: int
    message: Message


class ShardConsumer(BrokerThread):
    """Consumes the shards it is told to (consume/release/drop from any thread)."""

    def __init__(
        self,
        url: str,
        handle: Callable[[Delivery], None],
        bus: Bus,
        metrics: Metrics,
        count_delivery: Callable[[str], int] | None = None,
        name: str = "shard-consumer",
    ) -> None:
        super().__init__(name, url, "shard consumer")
        self._handle = handle
        self._bus = bus
        self._metrics = metrics
        self._count_delivery = count_delivery
        self._requests: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._wanted: dict[int, str] = {}  # shard → lease value (what we should consume)
        self._consumers: dict[int, Consumer] = {}
        self._in_hand: dict[int, _InHand] = {}  # delivery tag → message
        self._by_shard: dict[int, set[int]] = {}
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
            _wait_and_drain(conn, self._waker, IDLE_WAIT_SECONDS)
            self._serve_requests()
            self._sample_depth()
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
        self._in_hand.clear()
        self._by_shard.clear()
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
        if self._by_shard.get(shard):
            self._draining[shard] = drained
        else:
            self._by_shard.pop(shard, None)
            drained()

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
        self._in_hand[tag] = _InHand(shard, message)
        self._by_shard.setdefault(shard, set()).add(tag)
        redelivered = bool(message.delivery_info.get("redelivered"))
        delivery = Delivery(payload, user_id, shard, tag, redelivered, kind, self._generation, self)
        if redelivered and self._count_delivery is not None:
            try:
                count = self._count_delivery(f"{kind}:{delivery.key}")
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
        try:
            self._handle(delivery)
        except Exception:
            log.exception(
                "could not hand a message over; it stays unacknowledged",
                shard=shard,
                user_id=user_id,
            )

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

        def published(result: Future[None]) -> None:
            if result.exception() is None:
                metrics.dead_letters.labels(metrics.node_id).inc()
                self.report(("ack", generation, tag, ""))
            else:
                log.error(
                    "could not dead-letter a message; it stays unacknowledged",
                    error=str(result.exception()),
                )

        future.add_done_callback(published)

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
