"""The bus: one thread owning one connection publishes everything the node sends to the broker
— Telegram updates from the intake, durable work for a user's shard (a relayed chat message, a
match notice), broadcasts to every node, dead letters — with publisher confirms streamed (many
messages in flight, each caller holding a future), and listens to this node's broadcast queue.
The entities themselves are in messaging.topology; the thread's connection handling in
messaging.broker; consuming shards in messaging.consumer.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from kombu import Connection, Consumer, Producer
from kombu.message import Message

from messaging import topology
from messaging.broker import IDLE_WAIT_SECONDS, BrokerThread, encode, wait_and_drain
from messaging.confirms import PublishError, all_confirmed
from observability.metrics import Metrics

log = structlog.get_logger(__name__)

CONFIRM_TIMEOUT_SECONDS = 10.0
ERROR_HEADER_LIMIT = 2000


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
        return all_confirmed([item.future for item in items])

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
                wait_and_drain(conn, self._waker, 0.5 if self._unconfirmed else IDLE_WAIT_SECONDS)
                self._expire_unconfirmed()
                conn.heartbeat_check()
            self._publish_waiting(producer)
            deadline = time.monotonic() + 5
            while self._unconfirmed and time.monotonic() < deadline:
                wait_and_drain(conn, self._waker, 0.1)
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
