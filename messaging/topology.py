"""Every RabbitMQ entity the nodes use, named and configured in one place (kombu objects).

    dating.updates   direct exchange, durable   routing key = the shard number ("0".."N-1")
      └─ dating.shard.NNNN   one durable queue per shard, single-active-consumer
    dating.events    topic exchange, durable
      ├─ shard.NNNN.#        → the shard's queue: durable work for one user's shard
      │                        (a relayed chat message, a match notice ...)
      └─ profiles.# match.# sweep.# → dating.events.node.<member>: one exclusive, auto-delete
                               queue per live node (broadcasts: drop caches, ...)
    dating.dead      direct exchange, durable
      └─ dating.dead-letters  the dead letters, with the error in their headers (7 days)

Why single-active-consumer: the shard leases in Redis decide which node consumes a shard;
the broker's single-active-consumer flag is a second guard, so that even a mistaken double
claim never lets two consumers take messages of one shard at the same time (see
docs/cluster.md). A queue's arguments cannot change once declared, hence the queue names
carry no history of an older layout: a broker that still has other arguments for a name
refuses the declaration loudly (PRECONDITION_FAILED) instead of running unguarded.
"""

from __future__ import annotations

from kombu import Exchange, Queue, binding

UPDATES_EXCHANGE = "dating.updates"
EVENTS_EXCHANGE = "dating.events"
DEAD_EXCHANGE = "dating.dead"
# Named anew when it got its limits: RabbitMQ refuses to declare a queue again with other
# arguments (an old deployment's dating.updates.dead can be deleted once read).
DEAD_LETTER_QUEUE = "dating.dead-letters"
# Dead letters are for people to read and replay: a week is enough to notice one, and the
# length limit keeps a poison flood from filling the broker's disk (the oldest go first).
DEAD_LETTER_TTL_MS = 7 * 24 * 3600 * 1000
DEAD_LETTER_MAX = 100_000
DEAD_ROUTING_KEY = "dead"
NODE_EVENTS_QUEUE_PREFIX = "dating.events.node."

# Broadcast topics every node hears (its own exclusive queue is bound to each pattern).
PROFILE_CHANGED = "profiles.changed"
MATCH_MADE = "match.made"
SWEEP_FINISHED = "sweep.finished"
BROADCAST_PATTERNS = ("profiles.#", "match.#", "sweep.#")

# Message headers.
KIND_HEADER = "kind"  # "update" (from Telegram) or "send" (replies for one user)
KIND_UPDATE = "update"
KIND_SEND = "send"


def shard_of(user_id: int, shards: int) -> int:
    return user_id % shards


def shard_queue_name(shard: int) -> str:
    return f"dating.shard.{shard:04d}"


def shard_topic(shard: int, what: str) -> str:
    """Routing key on the events exchange for durable work in one shard (e.g. "chat")."""
    return f"shard.{shard:04d}.{what}"


def updates_exchange() -> Exchange:
    return Exchange(UPDATES_EXCHANGE, type="direct", durable=True)


def events_exchange() -> Exchange:
    return Exchange(EVENTS_EXCHANGE, type="topic", durable=True)


def dead_exchange() -> Exchange:
    return Exchange(DEAD_EXCHANGE, type="direct", durable=True)


def shard_queue(shard: int) -> Queue:
    """The shard's queue: bound to its number on the updates exchange and to its topic on the
    events exchange; one active consumer at a time, whoever else subscribes."""
    return Queue(
        shard_queue_name(shard),
        bindings=[
            binding(updates_exchange(), routing_key=str(shard)),
            binding(events_exchange(), routing_key=f"shard.{shard:04d}.#"),
        ],
        durable=True,
        queue_arguments={"x-single-active-consumer": True, "x-queue-type": "classic"},
    )


def dead_letter_queue() -> Queue:
    return Queue(
        DEAD_LETTER_QUEUE,
        exchange=dead_exchange(),
        routing_key=DEAD_ROUTING_KEY,
        durable=True,
        queue_arguments={
            "x-queue-type": "classic",
            "x-message-ttl": DEAD_LETTER_TTL_MS,
            "x-max-length": DEAD_LETTER_MAX,
            "x-overflow": "drop-head",
        },
    )


def node_events_queue(member: str) -> Queue:
    """A live node's broadcast inbox: gone with the node's connection."""
    return Queue(
        NODE_EVENTS_QUEUE_PREFIX + member,
        bindings=[
            binding(events_exchange(), routing_key=pattern) for pattern in BROADCAST_PATTERNS
        ],
        exclusive=True,
        auto_delete=True,
        durable=False,
    )


def declare_all(channel: object, shards: int) -> None:
    """Declare the exchanges, every shard queue and the dead letters (idempotent)."""
    for exchange in (updates_exchange(), events_exchange(), dead_exchange()):
        exchange(channel).declare()
    for shard in range(shards):
        shard_queue(shard)(channel).declare()
    dead_letter_queue()(channel).declare()
