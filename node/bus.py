"""RabbitMQ entities and the two ends of the update pipeline (kombu).

Intake publishes each update, persistent and confirmed, to the queue of the user's shard; a
ShardConsumer thread owns its own connection, hands each update to a callback and acknowledges
it only when the callback's completion is reported back (from any thread) — kombu channels are
not thread-safe, so acknowledgements travel to the owning thread through a queue.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.message import Message

log = structlog.get_logger(__name__)

UPDATES_EXCHANGE = "dating.updates"
EVENTS_EXCHANGE = "dating.events"
DEAD_LETTER_QUEUE = "dating.updates.dead"
PREFETCH_PER_NODE = 256
DRAIN_TIMEOUT_SECONDS = 0.02
# A dead consumer's unacknowledged updates go back to the queue when the broker notices.
CONSUMER_HEARTBEAT_SECONDS = 10
PUBLISH_ATTEMPTS = 5
CONFIRM_TIMEOUT_SECONDS = 10.0


def shard_of(user_id: int, shards: int) -> int:
    return user_id % shards


def shard_queue_name(shard: int) -> str:
    return f"dating.updates.shard.{shard:04d}"


def updates_exchange() -> Exchange:
    return Exchange(UPDATES_EXCHANGE, type="direct", durable=True)


def shard_queue(shard: int) -> Queue:
    return Queue(shard_queue_name(shard), exchange=updates_exchange(), routing_key=str(shard),
                 durable=True)


def dead_letter_queue() -> Queue:
    return Queue(DEAD_LETTER_QUEUE, exchange=updates_exchange(), routing_key="dead",
                 durable=True)


def open_connection(url: str, heartbeat: int = 0, confirm_publish: bool = True) -> Connection:
    if url.startswith("memory://"):
        # The in-process transport polls its queues; its default of one second is far too slow.
        return Connection(url, transport_options={"polling_interval": 0.002})
    return Connection(url, transport_options={"confirm_publish": confirm_publish},
                      heartbeat=heartbeat)


class PublishError(Exception):
    """The broker refused (nacked) a message or did not confirm it in time."""


class UpdatePublisher:
    """Publishes updates to their shards; used by exactly one thread (the intake's).

    Publisher confirms are streamed: a batch is published in one go and then the broker's
    confirms are awaited together. (kombu's confirm_publish waits for each message in turn,
    one disk flush at a time: 5-10 ms per update here.) A batch that fails is published again
    whole on a fresh channel; the consumer side drops repeated update_ids.
    """

    def __init__(self, url: str, shards: int) -> None:
        self.shards = shards
        self._url = url
        self._confirms = not url.startswith("memory://")
        self._connection = open_connection(url, confirm_publish=False)
        self._open_channel()

    def _open_channel(self) -> None:
        self._connection.ensure_connection(max_retries=5, interval_start=0.2, interval_step=0.5)
        channel = self._connection.channel()
        for shard in range(self.shards):
            shard_queue(shard)(channel).declare()
        dead_letter_queue()(channel).declare()
        self._unconfirmed: set[int] = set()
        self._next_tag = 1
        if self._confirms:
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
        self._nacked = False
        self._channel = channel
        self._producer = Producer(channel, exchange=updates_exchange())

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self._unconfirmed = {tag for tag in self._unconfirmed if tag > delivery_tag}
        else:
            self._unconfirmed.discard(delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool, *_: Any) -> None:
        self._nacked = True
        self._on_ack(delivery_tag, multiple)

    def publish(self, updates: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """Publish (user_id, update) pairs; returns once the broker has confirmed each."""
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                self._publish_once(updates)
                return
            except Exception as error:  # connection lost, nack, confirm timeout
                if attempt == PUBLISH_ATTEMPTS:
                    raise
                log.warning("publishing a batch again", error=str(error), attempt=attempt)
                self._connection.close()
                self._connection = open_connection(self._url, confirm_publish=False)
                self._open_channel()

    def _publish_once(self, updates: Sequence[tuple[int, dict[str, Any]]]) -> None:
        for user_id, update in updates:
            self._producer.publish(
                json.dumps(update, separators=(",", ":"), ensure_ascii=False).encode(),
                routing_key=str(shard_of(user_id, self.shards)), delivery_mode=2,
                content_type="application/json", content_encoding="utf-8",
                headers={"update_id": update["update_id"], "user_id": user_id},
            )
            if self._confirms:
                self._unconfirmed.add(self._next_tag)
                self._next_tag += 1
        deadline = time.monotonic() + CONFIRM_TIMEOUT_SECONDS
        while self._unconfirmed:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PublishError(f"{len(self._unconfirmed)} updates not confirmed in time")
            self._connection.drain_events(timeout=left)
        if self._nacked:
            self._nacked = False
            raise PublishError("the broker refused an update")

    def close(self) -> None:
        self._connection.release()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One update taken off a shard queue; done() may be called from any thread, once."""

    update: dict[str, Any]
    user_id: int
    tag: int
    redelivered: bool
    _acks: queue.SimpleQueue[int]

    def done(self) -> None:
        self._acks.put(self.tag)


class ShardConsumer(threading.Thread):
    """Consumes the shard queues it is given and feeds each update to handle()."""

    def __init__(self, url: str, shards: Iterable[int], handle: Callable[[Delivery], None],
                 name: str = "shard-consumer") -> None:
        super().__init__(name=name, daemon=True)
        self._url = url
        self._wanted = set(shards)
        self._handle = handle
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._pending: dict[int, Message] = {}
        self._stop_requested = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start_and_wait(self, timeout: float = 15.0) -> None:
        self.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("shard consumer did not start")
        if self._error:
            raise self._error

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_requested.set()
        self.join(timeout)

    def _on_message(self, body: Any, message: Message) -> None:
        try:
            update = json.loads(body) if isinstance(body, (bytes, str)) else body
            user_id = int(message.headers.get("user_id"))
        except (ValueError, TypeError) as error:
            log.error("undecodable update dropped", error=str(error))
            message.ack()
            return
        tag = int(message.delivery_tag)
        self._pending[tag] = message
        redelivered = bool(message.delivery_info.get("redelivered"))
        self._handle(Delivery(update, user_id, tag, redelivered, self._acks))

    def _flush_acks(self) -> None:
        while True:
            try:
                tag = self._acks.get_nowait()
            except queue.Empty:
                return
            message = self._pending.pop(tag, None)
            if message is not None:
                message.ack()

    def run(self) -> None:
        try:
            with open_connection(self._url, heartbeat=CONSUMER_HEARTBEAT_SECONDS) as connection:
                channel = connection.channel()
                channel.basic_qos(0, PREFETCH_PER_NODE, False)
                queues = [shard_queue(shard) for shard in sorted(self._wanted)]
                with Consumer(channel, queues=queues, callbacks=[self._on_message],
                              accept=["json"], no_ack=False):
                    self._ready.set()
                    while not self._stop_requested.is_set():
                        with contextlib.suppress(TimeoutError):
                            connection.drain_events(timeout=DRAIN_TIMEOUT_SECONDS)
                        self._flush_acks()
                        connection.heartbeat_check()
                    self._drain_pending_acks()
        except BaseException as error:
            self._error = error
            self._ready.set()
            log.exception("shard consumer stopped by an error")

    def _drain_pending_acks(self, timeout: float = 5.0) -> None:
        """On stop, wait a little for work in hand to finish so its messages are acked."""
        deadline = time.monotonic() + timeout
        while self._pending and (left := deadline - time.monotonic()) > 0:
            try:
                tag = self._acks.get(timeout=left)
            except queue.Empty:
                break
            message = self._pending.pop(tag, None)
            if message is not None:
                message.ack()
