"""Flood control: Telegram-like limits, forced 429s and the retry_after a bot must honour."""

from __future__ import annotations

import datetime as dtm
import time

import pytest
from telegram.error import NetworkError, RetryAfter

from sandbox.client import SandboxClient, VirtualUser
from sandbox.flood import FloodConfig, FloodControl
from tests.sandbox.live import LiveBot
from tests.support.waiting import eventually


class TestForced429:
    def test_forced_429_carries_retry_after(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser, bob: VirtualUser
    ) -> None:
        """A forced 429 for one chat raises RetryAfter with the given retry_after there only."""
        sandbox.force_429(count=1, retry_after=7, chat_id=alice.id)
        tg.run(tg.bot.send_message(bob.id, "other chats pass"))
        with pytest.raises(RetryAfter) as caught:
            tg.run(tg.bot.send_message(alice.id, "hi"))
        assert caught.value.retry_after == dtm.timedelta(seconds=7)
        stats = sandbox.stats()
        assert (stats.forced_429, stats.total_429) == (1, 1)
        assert alice.messages == []

    def test_retry_inside_retry_after_is_counted(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser
    ) -> None:
        """Retrying before retry_after ran out gets 429 again and counts as an early retry."""
        sandbox.force_429(count=1, retry_after=30)
        for _ in range(2):
            with pytest.raises(RetryAfter):
                tg.run(tg.bot.send_message(alice.id, "hi"))
        stats = sandbox.stats()
        assert (stats.forced_429, stats.early_retry_429, stats.total_429) == (1, 1, 2)
        assert stats.errors == {"Too Many Requests": 2}
        sandbox.reset_flood()
        tg.run(tg.bot.send_message(alice.id, "after reset"))

    def test_forced_429_can_target_methods(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser
    ) -> None:
        """A rule naming editMessageText hits edits and leaves sends alone."""
        sent = tg.run(tg.bot.send_message(alice.id, "v1"))
        sandbox.force_429(count=1, retry_after=3, methods=["editMessageText"])
        tg.run(tg.bot.send_message(alice.id, "sends pass"))
        with pytest.raises(RetryAfter):
            tg.run(tg.bot.edit_message_text("v2", alice.id, sent.message_id))


class TestLimits:
    def test_per_chat_burst_then_429(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser, bob: VirtualUser
    ) -> None:
        """Past the per-chat burst a chat gets 429 while other chats still pass."""
        sandbox.set_flood(chat_rate=1, chat_burst=3, global_rate=1000, global_burst=1000)
        for i in range(3):
            tg.run(tg.bot.send_message(alice.id, f"#{i}"))
        with pytest.raises(RetryAfter) as caught:
            tg.run(tg.bot.send_message(alice.id, "one too many"))
        assert caught.value.retry_after == dtm.timedelta(seconds=1)
        tg.run(tg.bot.send_message(bob.id, "bob is fine"))
        assert sandbox.stats().flood_429 == 1

    def test_global_limit(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser, bob: VirtualUser
    ) -> None:
        """Past the bot-wide limit every chat gets 429."""
        sandbox.set_flood(global_rate=4, global_burst=4, chat_rate=100, chat_burst=100)
        for user in (alice, bob, alice, bob):
            tg.run(tg.bot.send_message(user.id, "x"))
        with pytest.raises(RetryAfter):
            tg.run(tg.bot.send_message(alice.id, "x"))
        with pytest.raises(RetryAfter):
            tg.run(tg.bot.send_message(bob.id, "x"))
        sandbox.set_flood(enabled=False)
        sandbox.reset_flood()
        tg.run(tg.bot.send_message(bob.id, "limits off"))


class TestOutage:
    def test_outage_answers_its_status_then_passes(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser
    ) -> None:
        """During an outage every call answers 500 and nothing is delivered; after it, calls
        pass."""
        sandbox.outage(0.5)
        with pytest.raises(NetworkError, match="outage"):
            tg.run(tg.bot.send_message(alice.id, "lost"))
        eventually(
            lambda: _sent(tg, alice.id, "after"),
            what="a send passing after the outage",
            interval=0.1,
        )
        assert [message.body for message in alice.messages] == ["after"]
        assert sandbox.stats().errors["Outage"] >= 1

    def test_a_hang_drops_the_call_undone(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser
    ) -> None:
        """A hung call is answered by nothing: the client times out or sees its connection
        dropped, and the message never reaches the chat, not even once the hang is over."""
        sandbox.outage(1.0, hang=True)
        began = time.monotonic()
        with pytest.raises(NetworkError):
            tg.run(tg.bot.send_message(alice.id, "timed out", read_timeout=0.3))
        with pytest.raises(NetworkError):
            tg.run(tg.bot.send_message(alice.id, "dropped", read_timeout=5))
        assert time.monotonic() - began >= 0.9  # held until the hang ended
        eventually(
            lambda: _sent(tg, alice.id, "after"), what="a send passing after the hang", interval=0.1
        )
        assert [message.body for message in alice.messages] == ["after"]
        assert sandbox.stats().errors["Hang"] == 2


def _sent(tg: LiveBot, chat_id: int, text: str) -> bool:
    try:
        tg.run(tg.bot.send_message(chat_id, text))
    except NetworkError:
        return False
    return True


class TestFloodControlClock:
    """FloodControl alone, with a hand-driven clock: honouring retry_after passes."""

    def test_waiting_out_retry_after_passes(self) -> None:
        """A send exactly retry_after later goes through; one a moment earlier does not."""
        flood = FloodControl()
        flood.force(1, retry_after=2)
        assert flood.check("sendMessage", 1, now=100.0) == 2
        assert flood.check("sendMessage", 1, now=101.0) == 1
        assert flood.check("sendMessage", 1, now=102.0) is None
        assert (flood.counters.forced_429, flood.counters.early_retry_429) == (1, 1)

    def test_bucket_refills_at_the_rate(self) -> None:
        """With 1/s and burst 2, the third send waits one second."""
        flood = FloodControl(FloodConfig(enabled=True, chat_rate=1, chat_burst=2))
        assert flood.check("sendMessage", 5, now=0.0) is None
        assert flood.check("sendMessage", 5, now=0.0) is None
        assert flood.check("sendMessage", 5, now=0.0) == 1
        assert flood.check("sendMessage", 5, now=1.0) is None

    def test_uncounted_methods_skip_limits(self) -> None:
        """Edits do not spend the send budget."""
        flood = FloodControl(FloodConfig(enabled=True, chat_rate=1, chat_burst=1))
        assert flood.check("sendMessage", 5, now=0.0) is None
        assert flood.check("editMessageText", 5, now=0.0, counted=False) is None
