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
        self.api_calls = counter(
            "bot_api_calls_total", "Bot API calls, by method and outcome", "method", "outcome"
        )
        self.api_429 = counter("bot_api_429_total", "Bot API answers 429 Too Many Requests")
        self.user_actions = counter("bot_user_actions_total", "User actions", "action")
        self.limited = counter(
            "bot_actions_limited_total", "Actions refused by a per-user limit", "action"
        )
        self.handler_seconds = Histogram(
            "bot_handler_seconds",
            "From taking an update off the queue to its replies sent",
            ("node_id",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.mailbox = Gauge(
            "bot_actor_mailbox_size",
            "Messages waiting in actor mailboxes",
            ("node_id", "actor"),
            registry=registry,
        )
        self.owned_shards = Gauge(
            "bot_owned_shards", "Shards this node consumes", ("node_id",), registry=registry
        )
        self.dead_letters = counter("bot_dead_letters_total", "Updates sent to the dead letters")
        self.shard_queue_depth = Gauge(
            "bot_shard_queue_depth",
            "Messages waiting in a shard's queue, sampled by its owner",
            ("node_id", "shard"),
            registry=registry,
        )
        self.cluster_members = Gauge(
            "bot_cluster_members", "Live nodes this node sees", ("node_id",), registry=registry
        )
        self.replies_resent = counter(
            "bot_replies_resent_total",
            "Replies a node left unsent, sent by another; "
            "certainty=uncertain: it was on its way to Telegram and may show twice",
            "certainty",
        )
        self.in_doubt = counter(
            "bot_updates_in_doubt_total",
            "Updates handled again whose node died while handling "
            "them: their fence (storage.fence) had not committed, so nothing of them was kept",
        )
        self.fenced_repeats = counter(
            "bot_updates_fenced_repeats_total",
            "Updates given out again whose fence had committed (storage.fence): nothing "
            "done or rendered again, their stored replies sent",
        )
        self.events = counter(
            "bot_events_total", "Events between nodes, by topic and direction", "topic", "direction"
        )
        self.intake_leader = Gauge(
            "bot_intake_leader",
            "1 while this node holds the long-polling lease",
            ("node_id",),
            registry=registry,
        )
        self.matches = counter("bot_matches_total", "Matches made (a like answered by a like)")
        self.active_users = Gauge(
            "bot_active_users",
            "Users active in the last 24 hours, in the whole deployment "
            "(every node reports the same figure)",
            ("node_id",),
            registry=registry,
        )

        self.sweep_seconds = Histogram(
            "bot_sweep_seconds",
            "Duration of sweeps this node ran, by kind",
            ("node_id", "kind"),
            buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 900),
            registry=registry,
        )

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
