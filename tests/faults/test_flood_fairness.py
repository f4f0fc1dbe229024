"""One person floods their chat with 50 messages in a second while other people of the same
shard use the bot: the others keep being answered within a second, and the flood is relayed
in order up to the message limit, which answers the rest once, with nothing lost.

A node of its own with Telegram's real pacing (one message a second per chat, 30 in all),
which the other tests' node lifts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from config.i18n import t
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from tests.e2e.people import People, make_match, open_chat
from tests.support.images import jpeg
from tests.support.profiles import unique_city
from tests.support.services import Services
from tests.support.stack import NodeThread, running_sandbox, schema_pool
from tests.support.waiting import eventually

SHARDS = 16
FLOOD = 50
OTHERS = 6
ROUNDS = 8
# A person reads the answer before acting again: the others' pace, well under their chat's.
THINK_SECONDS = 1.0
# User ids in one shard: this remainder modulo SHARDS.
SHARD = 7


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


@pytest.fixture(scope="module")
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxClient]:
    client = SandboxClient(sandbox_server.url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def node(services: Services, sandbox_server: SandboxServer) -> Iterator[NodeThread]:
    environ = services.environ(
        TELEGRAM_API_URL=sandbox_server.url,
        SHARDS=str(SHARDS),
        SEND_RATE_PER_SECOND="30",
        SEND_RATE_PER_CHAT="1",
    )
    with NodeThread(environ) as running:
        yield running


@pytest.fixture(scope="module")
def people(
    services: Services, sandbox: SandboxClient, sandbox_server: SandboxServer, node: NodeThread
) -> Iterator[People]:
    with schema_pool(services.database_url, "flood") as pool:
        yield People(sandbox, sandbox_server, pool, jpeg(colour=(200, 90, 60)))


def in_shard(n: int) -> int:
    return 880_000_000 + n * SHARDS + SHARD


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def test_a_flood_leaves_the_shard_to_everyone_else(people: People, node: NodeThread) -> None:
    """While one person sends 50 messages in a second, other people of the same shard are
    answered in under a second (p99), and the flood reaches the match in order: every message
    up to the limit, then one polite "slow down" to the sender for the rest."""
    city = unique_city()
    she = people.join("Flora", gender="f", seeking="m", city=city, user_id=in_shard(0))
    he = people.join("Boris", gender="m", seeking="f", city=city, user_id=in_shard(1))
    make_match(she, he)
    open_chat(she, he)
    open_chat(he, she)
    others = [
        people.join(f"Olga{n}", city=unique_city(), user_id=in_shard(2 + n)) for n in range(OTHERS)
    ]
    for person in others:
        person.user.mark_read()
    she.user.mark_read()
    he.user.mark_read()

    waits: list[float] = []
    lock = threading.Lock()
    flooding = threading.Event()
    think = threading.Event()  # never set: its wait is the others' think time

    def act(person_index: int) -> None:
        user = others[person_index].user
        flooding.wait(10)
        for _ in range(ROUNDS):
            user.mark_read()
            sent = time.monotonic()
            user.send_text("/help")
            user.wait_for_message(timeout=30)
            with lock:
                waits.append(time.monotonic() - sent)
            think.wait(THINK_SECONDS)

    threads = [threading.Thread(target=act, args=(n,)) for n in range(OTHERS)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    flooding.set()
    for n in range(1, FLOOD + 1):
        she.user.send_text(f"flood {n}")
    flood_seconds = time.monotonic() - started
    for thread in threads:
        thread.join(120)
    assert flood_seconds < 1.5, f"the flood took {flood_seconds:.2f} s to send"

    slow_down = t("en", "limits.message")

    def relayed() -> list[str]:
        return [m.body for m in he.user.refresh().bot_messages if m.body.startswith("flood ")]

    def told() -> list[str]:
        return [m.body for m in she.user.refresh().bot_messages if m.body == slow_down]

    def settled() -> list[str] | None:
        got = relayed()
        idle = node.node.consumer.in_flight == 0 and node.node.outbox.pending_chats == 0
        return got if idle and (len(got) == FLOOD or told()) else None

    try:
        got = eventually(settled, what="the flood relayed or limited", timeout=90)
    except AssertionError as error:
        raise AssertionError(
            f"{error}: relayed {len(relayed())}, told {len(told())}, "
            f"in hand {node.node.consumer.in_flight}, others' waits {sorted(waits)}"
        ) from None
    assert got == [f"flood {n}" for n in range(1, len(got) + 1)], got
    if len(got) < FLOOD:
        assert told() == [slow_down], she.user.transcript()
    p99 = percentile(waits, 0.99)
    print(
        f"others' replies: n={len(waits)} p50={percentile(waits, 0.5):.3f} s "
        f"p99={p99:.3f} s max={max(waits):.3f} s; flood relayed {len(got)} of {FLOOD}"
    )
    assert len(waits) == OTHERS * ROUNDS
    assert p99 < 1.0, sorted(waits)
