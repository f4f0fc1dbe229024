"""Replies for a user whose shard another node may own (a relayed chat message, a match notice).

The outbox hands them to forward() from an actor thread: they are published, durably, to the
user's shard queue. Whichever node consumes that shard gets them as a delivery of kind "send"
and hands it to receive(): they are sent once (actors.send_once), in order with that user's
own replies, and the delivery is acknowledged after sending.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
import structlog

from actors.delivery import Delivery
from actors.faults import WAITING
from actors.send_once import SendOnce
from bot_api.replies import Reply
from messaging.bus import CONFIRM_TIMEOUT_SECONDS, Bus

log = structlog.get_logger(__name__)


class Forwarding:
    """forward() on the sending side, receive() on the shard owner's; stop() when the shard
    consumer has stopped."""

    def __init__(self, bus: Bus, once: SendOnce) -> None:
        self._bus = bus
        self._once = once
        # One thread keeps the forwarded replies in order, off the consumer's thread (the
        # journal's calls block).
        self._senders = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forwarded")

    def forward(self, user_id: int, key: str, chat_id: int, replies: list[list[Any]]) -> None:
        """Outbox.deliver's route (actor threads): returns once durable in the shard queue."""
        self._bus.send_to_user(user_id, key, chat_id, replies).result(CONFIRM_TIMEOUT_SECONDS)

    def receive(self, delivery: Delivery) -> None:
        """Runs on the consumer thread: the replies are sent on the forwarding thread."""
        self._senders.submit(self._send, delivery)

    def stop(self) -> None:
        self._senders.shutdown()

    def _send(self, delivery: Delivery) -> None:
        body = delivery.update
        try:
            chat_id = int(body["chat_id"])
            replies = [Reply(str(method), dict(params)) for method, params in body["replies"]]
        except (KeyError, TypeError, ValueError) as error:
            delivery.dead_letter(f"unusable forwarded replies: {error}")
            return
        failures = 0
        while delivery.current():
            try:
                if not self._once.replay(delivery.key, delivery.done, delivery.user_id):
                    self._once.send(delivery.key, chat_id, replies, delivery.done)
                return
            except redis.RedisError as error:
                # Without the journal "once" cannot be kept: wait for Redis, in order (the
                # deliveries behind this one wait on this thread).
                failures += 1
                if failures == 1 or failures % 20 == 0:
                    log.warning(
                        "forwarded replies wait for the journal",
                        error=str(error),
                        user_id=delivery.user_id,
                    )
                time.sleep(WAITING.seconds(failures))
        log.info("forwarded replies given out again; that copy carries on", key=delivery.key)
