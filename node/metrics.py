"""Prometheus metrics of one node, on a registry of its own (several nodes may share a process
in tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, node_id: str) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry

        def counter(name: str, doc: str, *names: str) -> Counter:
            return Counter(name, doc, ("node_id", *names), registry=registry)

        self.node_id = node_id
        self.updates = counter("bot_updates_handled_total", "Updates handled, by kind", "kind")
        self.errors = counter("bot_errors_total", "Errors caught, by place", "where")
        self.api_calls = counter("bot_api_calls_total", "Bot API calls, by method and outcome",
                                 "method", "outcome")
        self.api_429 = counter("bot_api_429_total", "Bot API answers 429 Too Many Requests")
        self.user_actions = counter("bot_user_actions_total", "User actions", "action")
        self.handler_seconds = Histogram(
            "bot_handler_seconds", "From taking an update off the queue to its replies sent",
            ("node_id",), buckets=LATENCY_BUCKETS, registry=registry)
        self.mailbox = Gauge("bot_actor_mailbox_size", "Messages waiting in actor mailboxes",
                             ("node_id", "actor"), registry=registry)
        self.owned_shards = Gauge("bot_owned_shards", "Shards this node consumes", ("node_id",),
                                  registry=registry)
        self.dead_letters = counter("bot_dead_letters_total", "Updates sent to the dead letters")

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
