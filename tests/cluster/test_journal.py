"""Sending a piece of work's replies once, across redeliveries (the reply journal, real Redis)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import redis
import redis.asyncio

from actors.outbox import Departures, Outbox, Progress
from actors.send_once import SendOnce
from bot_api import replies
from bot_api.replies import Reply
from storage import state
from storage.journal import ReplyJournal
from storage.send_limits import RedisSendLimiter
from tests.support.services import REDIS_URL
from tests.support.waiting import eventually

CHAT = 5005
ANSWERS = [
    replies.message(CHAT, "first"),
    replies.message(CHAT, "second"),
    replies.message(CHAT, "third"),
]


@dataclass
class Submitted:
    chat_id: int
    replies: tuple[Reply, ...]
    done: Callable[[], None] | None
    progress: Progress | None
    departures: Departures | None

    def accept(self, count: int) -> None:
        """Telegram accepted the first count replies, then the outbox is done."""
        assert self.progress is not None and self.done is not None
        for sent in range(1, count + 1):
            self.progress(sent)
        if count == len(self.replies):
            self.done()


class FakeOutbox:
    """Records what would be sent; the test says what Telegram accepted."""

    def __init__(self) -> None:
        self.submitted: list[Submitted] = []

    def submit(
        self,
        chat_id: int,
        replies: Sequence[Reply],
        done: Callable[[], None] | None = None,
        progress: Progress | None = None,
        departures: Departures | None = None,
    ) -> None:
        self.submitted.append(Submitted(chat_id, tuple(replies), done, progress, departures))


def leaves_for_telegram(submitted: Submitted, keys: state.Keys, number: int) -> None:
    """What a node's outbox does (on its event loop) as reply number goes out: the send
    limiter lets it go and notes its departure."""
    assert submitted.departures is not None
    departure = submitted.departures(number)

    async def let_go() -> None:
        async_client = redis.asyncio.Redis.from_url(REDIS_URL)
        try:
            await RedisSendLimiter(async_client, keys, 100, 100).acquire(CHAT, departure)
        finally:
            await async_client.aclose()

    asyncio.run(let_go())


def node(journal: ReplyJournal) -> tuple[SendOnce, FakeOutbox]:
    """A node's view: its own outbox and send-once, the journal shared by every node."""
    outbox = FakeOutbox()
    return SendOnce(cast(Outbox, outbox), journal), outbox


def texts(submitted: Submitted) -> list[str]:
    return [reply.params["text"] for reply in submitted.replies]


class TestSendOnce:
    def test_sent_work_given_out_again_sends_nothing(self, journal: ReplyJournal) -> None:
        """Work whose replies all went out is acknowledged at once when it comes back."""
        once, outbox = node(journal)
        acked = threading.Event()
        once.send("100", CHAT, ANSWERS, acked.set)
        outbox.submitted[0].accept(3)
        assert acked.wait(5)
        again = threading.Event()
        other_node, other_outbox = node(journal)
        assert other_node.replay("100", again.set)
        assert again.is_set() and other_outbox.submitted == []

    def test_only_the_unsent_replies_go_out_after_a_crash(self, journal: ReplyJournal) -> None:
        """A node that died after Telegram took the first reply leaves the other two to the
        next node, which sends just those."""
        crashed, crashed_outbox = node(journal)
        crashed.send("101", CHAT, ANSWERS, lambda: None)
        crashed_outbox.submitted[0].accept(1)  # then the node dies
        eventually(
            lambda: (entry := journal.entry("101")) is not None and entry.sent == 1,
            what="the first reply recorded as sent",
        )
        successor, outbox = node(journal)
        acked = threading.Event()
        assert successor.replay("101", acked.set)
        [resent] = outbox.submitted
        assert texts(resent) == ["second", "third"]
        resent.accept(2)
        assert acked.wait(5)
        entry = journal.entry("101")
        assert entry is not None and entry.complete and entry.unsent == ()

    def test_a_copy_arriving_while_the_first_is_sent_waits_for_it(
        self, journal: ReplyJournal
    ) -> None:
        """The same work handed over twice on one node sends once; both copies are
        acknowledged when that send finishes."""
        once, outbox = node(journal)
        first, second = threading.Event(), threading.Event()
        once.send("102", CHAT, ANSWERS, first.set)
        assert once.replay("102", second.set)
        assert len(outbox.submitted) == 1 and not second.is_set()
        outbox.submitted[0].accept(3)
        assert first.wait(5) and second.wait(5)

    def test_a_reply_on_its_way_when_the_node_died_is_sent_and_flagged(
        self, journal: ReplyJournal, client: redis.Redis, keys: state.Keys
    ) -> None:
        """A reply that had left for Telegram (its outcome unknown) goes out again, and the
        entry says it may be seen twice."""
        crashed, crashed_outbox = node(journal)
        crashed.send("105", CHAT, ANSWERS, lambda: None)
        crashed_outbox.submitted[0].accept(1)
        leaves_for_telegram(crashed_outbox.submitted[0], keys, 2)  # then the node dies
        eventually(
            lambda: (entry := journal.entry("105")) is not None and entry.sent == 1,
            what="the first reply recorded as sent",
        )
        entry = journal.entry("105")
        assert entry is not None and entry.uncertain and entry.attempted == 2
        successor, outbox = node(journal)
        assert successor.replay("105", lambda: None)
        assert texts(outbox.submitted[0]) == ["second", "third"]

    def test_a_reply_still_waiting_is_not_flagged(self, journal: ReplyJournal) -> None:
        """Replies that never left (waiting for the limiter) are resent without doubt."""
        crashed, crashed_outbox = node(journal)
        crashed.send("106", CHAT, ANSWERS, lambda: None)
        crashed_outbox.submitted[0].accept(1)
        eventually(
            lambda: (entry := journal.entry("106")) is not None and entry.sent == 1,
            what="the first reply recorded as sent",
        )
        entry = journal.entry("106")
        assert entry is not None and not entry.uncertain

    def test_work_claimed_by_a_node_that_died_is_handled_again(self, journal: ReplyJournal) -> None:
        """Work claimed but never recorded (its node died mid-way) is handed to the handler
        again, and the journal says so."""
        dead = SendOnce(cast(Outbox, FakeOutbox()), journal, holder="dead-node")
        assert not dead.replay("107", lambda: None)  # claimed; then the node dies
        entry = journal.entry("107")
        assert entry is not None and not entry.recorded and entry.claimed_by == "dead-node"
        successor, _ = node(journal)
        assert not successor.replay("107", lambda: None)

    def test_new_work_is_not_found(self, journal: ReplyJournal) -> None:
        """Work nobody handled yet is left to the handler."""
        once, _ = node(journal)
        assert not once.replay("103", lambda: None)

    def test_work_without_replies_is_complete_at_once(self, journal: ReplyJournal) -> None:
        """Work that answers nothing (a relayed chat message) is recorded complete."""
        once, outbox = node(journal)
        acked = threading.Event()
        once.send("104", CHAT, [], acked.set)
        assert acked.is_set() and outbox.submitted == []
        entry = journal.entry("104")
        assert entry is not None and entry.complete
