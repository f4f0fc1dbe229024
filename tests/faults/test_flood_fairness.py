"""One person floods the bot while other people of the same shard use it: the others keep
being answered within a second (p99), and the flood is handled in order up to the message
limit, which answers the rest once, with nothing lost.

A node of its own with Telegram's real pacing (one message a second per chat, 30 in all),
which the other tests' node lifts: at that pace a flood's replies take a minute to go out, and
each of its updates is acknowledged only after its reply.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from config.i18n import t
from domain.action_limits import LIMITS, Action
from sandbox.client import SandboxClient, SandboxError, VirtualUser
from sandbox.server import SandboxServer
from tests.e2e.people import People, Person, make_match, open_chat
from tests.support.images import jpeg
from tests.support.profiles import unique_city
from tests.support.services import Services
from tests.support.stack import NodeThread, schema_pool
from tests.support.waiting import eventually

SHARDS = 16
OTHERS = 6
ROUNDS = 8
# A person reads the answer before acting again: the others' pace, well under their chat's.
THINK_SECONDS = 1.0
# User ids in one shard: this remainder modulo SHARDS.
SHARD = 7


# Reply times are its verdict: it runs alone, on a machine nothing else loads (scripts/test).
pytestmark = pytest.mark.timing


@pytest.fixture(scope="module")
def node(own_services: Services, own_server: SandboxServer) -> Iterator[NodeThread]:
    # Services of its own: a node on the session's would join the session node's cluster,
    # whose replies go to another sandbox.
    environ = own_services.environ(
        TELEGRAM_API_URL=own_server.url,
        SHARDS=str(SHARDS),
        SEND_RATE_PER_SECOND="30",
        SEND_RATE_PER_CHAT="1",
    )
    with NodeThread(environ) as running:
        yield running


@pytest.fixture(scope="module")
def people(
    own_services: Services, own_sandbox: SandboxClient, own_server: SandboxServer, node: NodeThread
) -> Iterator[People]:
    with schema_pool(own_services.database_url, "flood") as pool:
        yield People(own_sandbox, own_server, pool, jpeg(colour=(200, 90, 60)))


def in_shard(n: int) -> int:
    return 880_000_000 + n * SHARDS + SHARD


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Others:
    """People of the flooder's shard asking /help, each reading the answer before asking again;
    the seconds each waited for it."""

    def __init__(self, people: People, first: int) -> None:
        self.people = [
            people.join(f"Olga{n}", city=unique_city(), user_id=in_shard(first + n))
            for n in range(OTHERS)
        ]
        self.waits: list[float] = []
        self._lock = threading.Lock()
        self._go = threading.Event()
        self._think = threading.Event()  # never set: its wait is the think time
        self._threads = [threading.Thread(target=self._act, args=(p,)) for p in self.people]
        for thread in self._threads:
            thread.start()

    def _act(self, person: Person) -> None:
        self._go.wait(30)
        for _ in range(ROUNDS):
            person.user.mark_read()
            sent = time.monotonic()
            person.user.send_text("/help")
            # No answer in time is counted as the time waited for it.
            with contextlib.suppress(SandboxError):
                person.user.wait_for_message(timeout=90)
            with self._lock:
                self.waits.append(time.monotonic() - sent)
            self._think.wait(THINK_SECONDS)

    def start(self) -> None:
        self._go.set()

    def finish(self) -> str:
        for thread in self._threads:
            thread.join(300)
        waits = self.waits
        assert len(waits) == OTHERS * ROUNDS
        p99 = percentile(waits, 0.99)
        summary = (
            f"others' replies: n={len(waits)} p50={percentile(waits, 0.5):.3f} s "
            f"p99={p99:.3f} s max={max(waits):.3f} s"
        )
        print(summary)
        assert p99 < 1.0, summary
        return summary


def flood(user: VirtualUser, count: int) -> None:
    started = time.monotonic()
    for n in range(1, count + 1):
        user.send_text(f"flood {n}")
    seconds = time.monotonic() - started
    assert seconds < 1.5, f"the flood took {seconds:.2f} s to send"


def settled(node: NodeThread, done: Callable[[], bool]) -> Callable[[], bool]:
    """The node has nothing left in hand or to send, and ``done`` holds."""
    return lambda: (
        node.node.consumer.in_flight == 0 and node.node.outbox.pending_chats == 0 and done()
    )


def bodies(user: VirtualUser) -> list[str]:
    return [m.body for m in user.refresh().bot_messages]


def test_a_flood_in_a_chat_is_relayed_in_order_while_others_are_served(
    people: People, node: NodeThread
) -> None:
    """While one person sends 50 messages to her match in a second, other people of the same
    shard are answered in under a second (p99), and the flood reaches the match in order:
    every message up to the limit, then one "slow down" to the sender for the rest."""
    count = 50
    city = unique_city()
    she = people.join("Flora", gender="f", seeking="m", city=city, user_id=in_shard(0))
    he = people.join("Boris", gender="m", seeking="f", city=city, user_id=in_shard(1))
    make_match(she, he)
    open_chat(she, he)
    open_chat(he, she)
    others = Others(people, 2)
    she.user.mark_read()
    others.start()
    flood(she.user, count)
    slow_down = t("en", "limits.message")
    prefix = f"{she.name}: "

    def relayed() -> list[str]:
        return [b.removeprefix(prefix) for b in bodies(he.user) if b.startswith(prefix)]

    def done() -> bool:
        return len(relayed()) == count or slow_down in bodies(she.user)

    summary = others.finish()
    eventually(settled(node, done), what="the flood relayed or limited", timeout=120)
    got = relayed()
    assert got == [f"flood {n}" for n in range(1, len(got) + 1)], got
    if len(got) < count:
        assert bodies(she.user).count(slow_down) == 1, she.user.transcript()
    print(f"{summary}; relayed {len(got)} of {count}")


def test_a_flood_beyond_the_shard_window_leaves_the_others_served(
    people: People, node: NodeThread
) -> None:
    """100 messages in a second from someone with nothing to answer (more than the 64 a shard
    once held unacknowledged, each waiting a second for its reply): the others of the shard
    are still answered in under a second, and the flood gets its hints up to the limit and
    one "slow down"."""
    count = 100
    flooder = people.join("Fiona", city=unique_city(), user_id=in_shard(20))
    others = Others(people, 21)
    flooder.user.mark_read()
    others.start()
    flood(flooder.user, count)
    hint = t("en", "common.idle_hint")
    slow_down = t("en", "limits.message")

    def done() -> bool:
        said = bodies(flooder.user)
        return said.count(hint) == count or slow_down in said

    summary = others.finish()
    eventually(settled(node, done), what="the flood answered or limited", timeout=180)
    said = bodies(flooder.user)
    if said.count(hint) < count:
        assert said.count(hint) == LIMITS[Action.MESSAGE].count, flooder.user.transcript()
        assert said.count(slow_down) == 1, flooder.user.transcript()
    print(f"{summary}; hints {said.count(hint)} of {count}")
