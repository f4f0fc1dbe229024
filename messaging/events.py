"""Domain events between nodes, over the topic exchange (messaging.topology, messaging.bus).

Broadcasts reach every live node (each has an exclusive queue bound to the broadcast topics):
a profile changed (drop what you cached of it), a match was made, a sweep finished. They are
best effort — a node that is down misses them, and starts with empty caches anyway. Work that
must not be lost (a chat message for a user whose shard is elsewhere, a match notice) does not
travel as a broadcast but as a durable message in the user's shard queue (Outbox.deliver).

Publishing never blocks the caller; handlers run on the bus thread and must be quick.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from messaging import topology
from messaging.bus import Bus
from observability.metrics import Metrics

log = structlog.get_logger(__name__)

Handler = Callable[[dict[str, Any]], None]


class Events:
    def __init__(self, bus: Bus, metrics: Metrics) -> None:
        self._bus = bus
        self._metrics = metrics
        self._handlers: dict[str, list[Handler]] = {}
        for prefix in (topology.PROFILE_CHANGED, topology.MATCH_MADE, topology.SWEEP_FINISHED):
            bus.on_event(prefix, self._received)

    # -- publishing (any thread, never blocks) ----------------------------------------------

    def profile_changed(self, user_id: int) -> None:
        self._publish(topology.PROFILE_CHANGED, {"user_id": user_id})

    def match_made(self, first: int, second: int) -> None:
        self._publish(topology.MATCH_MADE, {"users": sorted((first, second))})

    def sweep_finished(self, name: str, **details: Any) -> None:
        self._publish(topology.SWEEP_FINISHED, {"sweep": name, **details})

    def _publish(self, topic: str, payload: dict[str, Any]) -> None:
        future = self._bus.broadcast(topic, payload)
        metrics = self._metrics
        metrics.events.labels(metrics.node_id, topic, "sent").inc()

        def failed(result: Any) -> None:
            if result.exception() is not None:
                log.warning("event not published", topic=topic, error=str(result.exception()))

        future.add_done_callback(failed)

    # -- listening ------------------------------------------------------------------------

    def on(self, topic: str, handler: Handler) -> None:
        """Call handler(payload) for every event of topic (on the bus thread)."""
        self._handlers.setdefault(topic, []).append(handler)

    def _received(self, topic: str, payload: dict[str, Any]) -> None:
        metrics = self._metrics
        metrics.events.labels(metrics.node_id, topic, "received").inc()
        log.debug("event", topic=topic, origin=payload.get("from"))
        for handler in self._handlers.get(topic, []):
            try:
                handler(payload)
            except Exception:
                log.exception("event handler failed", topic=topic)
