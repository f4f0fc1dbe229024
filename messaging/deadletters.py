"""The dead letters, for people: read them, give them back to their shards, or drop them.

A dead letter is a copy of a message the node gave up on (a failure while every dependency
was healthy, or one delivered too often), with the original headers plus ``x-error``,
``x-dead-node``, ``x-dead-at`` and ``x-shard`` (messaging.bus). The queue keeps them 7 days
(messaging.topology). Each call here opens its own connection and takes the messages one by
one; what it does not acknowledge goes back to the queue when its channel closes, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kombu import Connection, Producer

from messaging import topology
from messaging.broker import open_connection


@dataclass(frozen=True)
class DeadLetter:
    user_id: int | None
    kind: str
    key: str
    error: str
    node: str
    dead_at: float
    body: bytes

    @classmethod
    def of(cls, message: Any) -> DeadLetter:
        """From a message as basic_get gives it."""
        headers: dict[str, Any] = dict(message.headers or {})
        user = headers.get("user_id")
        kind = str(headers.get(topology.KIND_HEADER, topology.KIND_UPDATE))
        return cls(
            user_id=int(user) if user is not None else None,
            kind=kind,
            key=str(headers.get("key") or headers.get("update_id") or ""),
            error=str(headers.get("x-error", "")),
            node=str(headers.get("x-dead-node", "")),
            dead_at=float(headers.get("x-dead-at", 0.0)),
            body=bytes(message.body),
        )


class DeadLetters:
    def __init__(self, url: str, shards: int) -> None:
        self._url = url
        self._shards = shards

    def list(self, user_id: int | None = None) -> list[DeadLetter]:
        """Every dead letter (of one user), oldest first; the queue is left as it was."""
        found: list[DeadLetter] = []
        with self._each() as each:
            for message in each:
                letter = DeadLetter.of(message)
                if user_id is None or letter.user_id == user_id:
                    found.append(letter)
        return found

    def replay(self, user_id: int | None = None) -> int:
        """Give dead letters (of one user) back to their shard queues, to be handled again as
        if just received; how many. An update's journal entry makes one that was handled
        after all do nothing twice."""
        with open_connection(self._url) as conn:
            producer = Producer(conn.channel())

            def republish(message: Any) -> None:
                headers = {
                    name: value
                    for name, value in dict(message.headers or {}).items()
                    if not str(name).startswith("x-")
                }
                user = int(headers["user_id"])
                shard = topology.shard_of(user, self._shards)
                if headers.get(topology.KIND_HEADER) == topology.KIND_SEND:
                    exchange, routing_key = (
                        topology.EVENTS_EXCHANGE,
                        topology.shard_topic(shard, "send"),
                    )
                else:
                    exchange, routing_key = topology.UPDATES_EXCHANGE, str(shard)
                producer.publish(
                    message.body,
                    exchange=exchange,
                    routing_key=routing_key,
                    delivery_mode=2,
                    content_type="application/json",
                    content_encoding="utf-8",
                    headers=headers,
                    retry=False,
                )

            return self._take(user_id, republish, conn)

    def purge(self, user_id: int | None = None) -> int:
        """Drop dead letters (of one user); how many."""
        with open_connection(self._url) as conn:
            return self._take(user_id, lambda _message: None, conn)

    def _take(self, user_id: int | None, then: Callable[[Any], None], conn: Connection) -> int:
        taken = 0
        with self._each(conn) as each:
            for message in each:
                if user_id is None or DeadLetter.of(message).user_id == user_id:
                    then(message)
                    message.channel.basic_ack(message.delivery_tag)
                    taken += 1
        return taken

    @contextmanager
    def _each(self, conn: Connection | None = None) -> Iterator[Iterator[Any]]:
        """The queue's messages, taken unacknowledged one at a time; those not acked return
        to the queue when the channel closes."""
        own = conn is None
        connection = open_connection(self._url) if conn is None else conn
        try:
            channel = connection.channel()
            topology.declare_all(channel, self._shards)

            # Only those there now: a replayed letter that fails again comes back behind them.
            _, present, _ = channel.queue_declare(queue=topology.DEAD_LETTER_QUEUE, passive=True)

            def messages() -> Iterator[Any]:
                for _ in range(present):
                    message = channel.basic_get(topology.DEAD_LETTER_QUEUE)
                    if message is None:
                        return
                    yield message

            try:
                yield messages()
            finally:
                channel.close()
        finally:
            if own:
                connection.release()
