"""The control side: virtual users, chat reading, waiting, files, reset, the CLI."""

from __future__ import annotations

import subprocess
import sys
import threading

import httpx
import pytest
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from sandbox.client import SandboxClient, SandboxError, VirtualUser
from sandbox.server import SandboxServer
from sandbox.state import FIRST_USER_ID
from tests.sandbox.live import LiveBot
from tests.support.images import jpeg


class TestUsers:
    def test_create_and_list_users(self, sandbox: SandboxClient) -> None:
        """Users get 64-bit-sized ids unless one is given; both are listed."""
        auto = sandbox.create_user("Auto")
        given = sandbox.create_user("Given", user_id=123456, username="given", language_code="en")
        assert auto.id >= FIRST_USER_ID > 2**32
        assert given.id == 123456
        assert {u["id"] for u in sandbox.users()} == {auto.id, 123456}
        with pytest.raises(SandboxError, match="already exists"):
            sandbox.create_user("Again", user_id=123456)

    def test_update_carries_language_and_username(
        self, sandbox: SandboxClient, tg: LiveBot
    ) -> None:
        """from.language_code and username are what the test gave."""
        eve = sandbox.create_user("Ева", username="eve_ru", language_code="ru")
        eve.send_text("/start")
        message = tg.next_update().message
        assert message is not None and message.from_user is not None
        assert (message.from_user.language_code, message.from_user.username) == ("ru", "eve_ru")

    def test_blocked_user_cannot_act(self, alice: VirtualUser) -> None:
        """A user who blocked the bot must unblock it before writing again."""
        alice.block_bot()
        with pytest.raises(SandboxError, match="blocked the bot"):
            alice.send_text("hi")
        alice.unblock_bot()
        alice.send_text("hi")


class TestWaiting:
    def test_wait_for_messages_hands_out_each_once(self, tg: LiveBot, alice: VirtualUser) -> None:
        """Waits return new messages in order, each once; the rest wait for the next call."""
        for text in ("a", "b", "c"):
            tg.run(tg.bot.send_message(alice.id, text))
        assert [m.text for m in alice.wait_for_messages(2)] == ["a", "b"]
        assert alice.wait_for_message().text == "c"
        assert alice.new_messages() == []

    def test_wait_wakes_on_a_message_sent_later(self, tg: LiveBot, alice: VirtualUser) -> None:
        """A wait started before the bot sends returns once it does."""
        sender = threading.Thread(target=lambda: tg.run(tg.bot.send_message(alice.id, "later")))
        sender.start()
        assert alice.wait_for_message(timeout=10).text == "later"
        sender.join()

    def test_timeout_shows_the_transcript(self, tg: LiveBot, alice: VirtualUser) -> None:
        """A wait that times out fails with the chat transcript."""
        tg.run(tg.bot.send_message(alice.id, "только одно"))
        with pytest.raises(SandboxError) as caught:
            alice.wait_for_messages(2, timeout=0.3)
        text = str(caught.value)
        assert "2 new bot message(s)" in text
        assert "'/start'" in text and "'только одно'" in text

    def test_wait_until_sees_edits(self, tg: LiveBot, alice: VirtualUser) -> None:
        """wait_until re-evaluates on every change, edits included."""
        sent = tg.run(tg.bot.send_message(alice.id, "⏳"))
        tg.run(tg.bot.edit_message_text("✅", alice.id, sent.message_id))
        done = alice.wait_until(
            lambda chat: chat.message(sent.message_id).text == "✅", what="the tick"
        )
        assert done is True

    def test_expect_no_messages(self, tg: LiveBot, alice: VirtualUser) -> None:
        """expect_no_messages fails when the bot speaks, passes when it stays quiet."""
        alice.expect_no_messages(0.2)
        tg.run(tg.bot.send_message(alice.id, "boo"))
        with pytest.raises(SandboxError, match="expected silence"):
            alice.expect_no_messages(0.2)

    def test_pending_updates_consumed(self, sandbox: SandboxClient, tg: LiveBot) -> None:
        """wait_updates_consumed returns once the bot confirmed everything."""
        frank = sandbox.create_user("Frank")
        frank.send_text("/start")
        assert sandbox.pending_updates() == 1
        tg.updates()
        tg.updates(timeout=0)
        sandbox.wait_updates_consumed(timeout=2)
        assert sandbox.stats().pending_updates == 0


class TestChatView:
    def test_transcript_and_answers(self, tg: LiveBot, alice: VirtualUser) -> None:
        """The chat keeps method, markup, timestamps and callback answers."""
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Да", callback_data="yes")]])
        sent = tg.run(tg.bot.send_message(alice.id, "Ок?", reply_markup=markup))
        alice.press("Да")
        query = tg.next_update().callback_query
        assert query is not None
        tg.run(query.answer("👍"))
        alice.wait_for_answer()
        message = alice.message(sent.message_id)
        assert message.method == "sendMessage"
        assert message.callback_data("Да") == "yes"
        assert message.sent_at > 0
        assert [(a.data, a.text) for a in alice.callback_answers] == [("yes", "👍")]
        transcript = alice.transcript()
        assert "sendMessage: 'Ок?' [Да]" in transcript and "answered '👍'" in transcript

    def test_download_user_files(self, sandbox: SandboxClient, alice: VirtualUser) -> None:
        """Any file_id's bytes can be downloaded through the control API."""
        photo = jpeg(320, 200)
        alice.send_photo(photo)
        file_id = alice.chat.user_messages[-1].photo[-1]
        assert sandbox.download(file_id) == photo
        assert sandbox.file_info(file_id)["width"] == 320

    def test_reset_forgets_users(self, sandbox: SandboxClient, alice: VirtualUser) -> None:
        """reset() drops users and chats but ids keep counting up."""
        old_id = alice.id
        sandbox.reset()
        assert sandbox.users() == []
        assert sandbox.create_user("New").id > old_id

    def test_chats_list_long_polls(self, sandbox: SandboxClient, alice: VirtualUser) -> None:
        """/sandbox/chats lists chats with versions and a total that only grows."""
        before = sandbox.get("chats")
        alice.send_text("ping")
        after = sandbox.get("chats", params={"changed_since": before["total"]}, wait=5)
        assert after["total"] > before["total"]
        assert [c["user"]["id"] for c in after["chats"]] == [alice.id]

    def test_one_read_for_a_whole_reaction(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser
    ) -> None:
        """An action tells when it happened and the chat's version after it; a read from there
        with until_sent and until_answered waits for the bot's whole reaction, not for its
        first part."""
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Да", callback_data="yes")]])
        tg.run(tg.bot.send_message(alice.id, "Ок?", reply_markup=markup))
        acted = sandbox.post(f"users/{alice.id}/press", {"text": "Да", "kind": "inline"})
        query = tg.next_update().callback_query
        assert query is not None

        def react() -> None:
            tg.run(tg.bot.send_message(alice.id, "one"))
            tg.run(query.answer())
            tg.run(tg.bot.send_message(alice.id, "two"))

        reacting = threading.Thread(target=react)
        reacting.start()
        view = sandbox.get(
            f"users/{alice.id}/chat",
            wait=10,
            params={
                "changed_since": acted["chat_version"],
                "until_sent": 3,
                "until_answered": acted["callback_query_id"],
            },
        )
        reacting.join()
        replies = [m for m in view["messages"] if m["outgoing"]]
        assert [m["text"] for m in replies] == ["one", "two"]
        assert [answer["answered"] for answer in view["callback_answers"]] == [True]
        assert acted["acted_at"] <= replies[0]["sent_at"]  # one clock for both


class TestServer:
    def test_extra_routes_and_a_second_bot(self) -> None:
        """setup= adds routes; several tokens serve several bots; stop() frees everything."""

        async def hello(request: web.Request) -> web.Response:
            return web.Response(text="demo")

        def setup(app: web.Application, _sandbox: object) -> None:
            app.router.add_get("/demo", hello)

        with SandboxServer(tokens=["1:aaa", "2:bbb"], setup=setup) as server:
            assert httpx.get(f"{server.url}/demo").text == "demo"
            second = SandboxClient(server.url, bot="2:bbb")
            assert [b["id"] for b in second.bots()] == [1, 2]
            assert server.call(lambda sb: len(sb.bots)) == 2
            second.close()

    def test_standalone_process(self) -> None:
        """python -m sandbox prints its URL once listening and serves getMe."""
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--port", "0", "--token", "55:standalone=solo_bot"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert "listening on" in line, line
            url = line.split()[3]
            me = httpx.get(f"{url}/bot55:standalone/getMe").json()["result"]
            assert (me["id"], me["username"]) == (55, "solo_bot")
        finally:
            process.terminate()
            process.wait(10)
            if process.stdout is not None:
                process.stdout.close()
        assert process.returncode == 0


class TestReading:
    def test_last_message_skips_deleted(self, tg: LiveBot, alice: VirtualUser) -> None:
        """last_message() is the bot's latest message still visible in the chat."""
        assert alice.last_message() is None
        kept = tg.run(tg.bot.send_message(alice.id, "остаюсь"))
        gone = tg.run(tg.bot.send_message(alice.id, "ухожу"))
        tg.run(tg.bot.delete_message(alice.id, gone.message_id))
        last = alice.last_message()
        assert last is not None and last.message_id == kept.message_id
        assert [m.deleted for m in alice.messages] == [False, True]
