"""The Bot API side driven by python-telegram-bot's real ``telegram.Bot`` over HTTP."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import telegram
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from sandbox.client import SandboxClient, VirtualUser
from sandbox.server import SandboxServer
from tests.sandbox.live import TOKEN, LiveBot, Receiver


class TestIdentity:
    def test_get_me_describes_the_bot(self, tg: LiveBot) -> None:
        """getMe answers the bot user: id from the token, is_bot, the sandbox username."""
        me = tg.run(tg.bot.get_me())
        assert me.id == int(TOKEN.split(":")[0])
        assert me.is_bot
        assert me.username == "sandbox_dating_bot"

    def test_unknown_token_is_unauthorized(self, server: SandboxServer) -> None:
        """An unknown token answers 401 Unauthorized in Telegram's envelope."""
        response = httpx.get(f"{server.url}/bot1:nope/getMe")
        assert response.status_code == 401
        assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}

    def test_unknown_method_is_not_found(self, server: SandboxServer) -> None:
        """An unknown method answers 404 Not Found; method names ignore case."""
        response = httpx.post(f"{server.url}/bot{TOKEN}/fooBar")
        assert response.status_code == 404
        assert response.json()["description"] == "Not Found"
        assert httpx.get(f"{server.url}/bot{TOKEN}/GETME").json()["ok"] is True

    def test_json_and_form_bodies_are_both_accepted(
        self, server: SandboxServer, alice: VirtualUser
    ) -> None:
        """sendMessage works with a JSON body as well as with PTB's url-encoded form."""
        url = f"{server.url}/bot{TOKEN}/sendMessage"
        as_json = httpx.post(url, json={"chat_id": alice.id, "text": "json"}).json()
        as_form = httpx.post(url, data={"chat_id": str(alice.id), "text": "form"}).json()
        assert as_json["result"]["text"] == "json"
        assert as_form["result"]["text"] == "form"

    def test_invalid_token_raises_in_ptb(self, server: SandboxServer, tg: LiveBot) -> None:
        """PTB sees an unknown token as telegram.error.InvalidToken."""
        request = HTTPXRequest()
        other = telegram.Bot("42:unknown-token", base_url=server.bot_base_url, request=request)
        with pytest.raises(InvalidToken):
            tg.run(other.get_me())
        tg.run(request.shutdown())


class TestGetUpdates:
    def test_long_poll_returns_a_message_sent_while_waiting(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser
    ) -> None:
        """A waiting getUpdates answers as soon as the user writes, not at its timeout."""
        started = time.monotonic()
        poll = asyncio.run_coroutine_threadsafe(
            tg.bot.get_updates(offset=tg.offset, timeout=20), tg.loop
        )
        sandbox.wait_for_poller()
        sent = alice.send_text("Привет")
        updates = poll.result(10)
        assert time.monotonic() - started < 10
        assert [u.update_id for u in updates] == [sent.update_id]
        message = updates[0].message
        assert message is not None
        assert message.text == "Привет"
        assert message.from_user is not None and message.from_user.id == alice.id
        assert message.chat.type == "private"

    def test_commands_carry_a_bot_command_entity(self, tg: LiveBot, alice: VirtualUser) -> None:
        """/start from a user arrives with a bot_command entity, as PTB's filters expect."""
        alice.send_text("/start ref_42")
        message = tg.next_update().message
        assert message is not None
        assert message.entities[0].type == "bot_command"
        assert message.parse_entity(message.entities[0]) == "/start"

    def test_offset_confirms_and_limit_caps(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser
    ) -> None:
        """Updates stay until an offset above them confirms them; limit caps a batch."""
        for i in range(3):
            alice.send_text(f"m{i}")
        first = tg.run(tg.bot.get_updates(offset=tg.offset, limit=2))
        assert len(first) == 2
        again = tg.run(tg.bot.get_updates(offset=tg.offset))
        assert [u.update_id for u in again[:2]] == [u.update_id for u in first]
        tg.run(tg.bot.get_updates(offset=again[-1].update_id + 1))
        assert sandbox.pending_updates() == 0

    def test_update_ids_increase(self, tg: LiveBot, alice: VirtualUser) -> None:
        """Every update gets a larger update_id than the one before."""
        ids = [int(alice.send_text(str(i)).update_id or 0) for i in range(5)]
        assert ids == sorted(ids) and len(set(ids)) == 5
        assert [u.update_id for u in tg.updates()] == ids

    def test_concurrent_get_updates_conflict(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser
    ) -> None:
        """A second bot instance polling terminates the waiting getUpdates with 409 Conflict."""
        older = asyncio.run_coroutine_threadsafe(tg.bot.get_updates(timeout=20), tg.loop)
        sandbox.wait_for_poller()
        second = telegram.Bot(TOKEN, base_url=tg.bot.base_url.removesuffix(TOKEN))
        tg.run(second.initialize())
        try:
            newer = asyncio.run_coroutine_threadsafe(second.get_updates(timeout=1), tg.loop)
            with pytest.raises(Conflict, match="terminated by other getUpdates request"):
                older.result(10)
            assert newer.result(10) == ()
        finally:
            tg.run(second.shutdown())
        assert sandbox.stats().conflicts_409 == 1

    def test_allowed_updates_filters(self, tg: LiveBot, alice: VirtualUser) -> None:
        """allowed_updates=["callback_query"] keeps messages away from the bot."""
        tg.run(tg.bot.get_updates(offset=tg.offset, allowed_updates=["callback_query"]))
        alice.send_text("dropped")
        assert tg.updates(timeout=0) == ()
        tg.run(tg.bot.get_updates(offset=tg.offset, allowed_updates=[]))
        alice.send_text("kept")
        message = tg.next_update().message
        assert message is not None and message.text == "kept"

    def test_redelivered_update_keeps_its_id(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser
    ) -> None:
        """A redelivery hands the bot the same update_id once more."""
        sent = alice.send_text("twice")
        assert tg.next_update().update_id == sent.update_id
        assert sent.update_id is not None
        sandbox.redeliver(sent.update_id)
        assert tg.next_update().update_id == sent.update_id
        assert tg.updates(timeout=0) == ()


class TestWebhook:
    def test_webhook_delivery_with_secret_and_retries(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser, receiver: Receiver
    ) -> None:
        """Updates are POSTed with the secret header and retried until the receiver says 2xx."""
        receiver.fail_next = 2
        tg.run(tg.bot.set_webhook(receiver.url, secret_token="s3cret_token-1"))
        sent = alice.send_text("via webhook")
        deliveries = [receiver.next() for _ in range(3)]
        assert all(d.secret == "s3cret_token-1" for d in deliveries)
        assert [d.update["update_id"] for d in deliveries] == [sent.update_id] * 3
        assert deliveries[-1].update["message"]["text"] == "via webhook"
        sandbox.wait_updates_consumed()
        info = tg.run(tg.bot.get_webhook_info())
        assert info.url == receiver.url
        assert info.pending_update_count == 0
        assert (
            info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        )
        assert sandbox.stats().webhook_failures == 2

    def test_get_updates_conflicts_with_a_webhook(
        self, tg: LiveBot, alice: VirtualUser, receiver: Receiver
    ) -> None:
        """With a webhook set getUpdates answers 409; deleteWebhook brings polling back."""
        tg.run(tg.bot.set_webhook(receiver.url))
        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            tg.updates(timeout=0)
        tg.run(tg.bot.delete_webhook())
        alice.send_text("polled again")
        message = tg.next_update().message
        assert message is not None and message.text == "polled again"

    def test_undelivered_updates_go_back_to_polling(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser, receiver: Receiver
    ) -> None:
        """Updates a failing webhook never took are polled after deleteWebhook."""
        receiver.fail_next = 10**6
        tg.run(tg.bot.set_webhook(receiver.url))
        sent = alice.send_text("stuck")
        receiver.next()
        assert tg.run(tg.bot.get_webhook_info()).pending_update_count == 1
        tg.run(tg.bot.delete_webhook())
        assert tg.next_update().update_id == sent.update_id


class TestBlocking:
    def test_blocked_user_gives_forbidden_and_my_chat_member(
        self, tg: LiveBot, alice: VirtualUser
    ) -> None:
        """Blocking emits my_chat_member (kicked); sends then raise Forbidden until unblocked."""
        alice.block_bot()
        change = tg.next_update().my_chat_member
        assert change is not None
        assert change.old_chat_member.status == "member"
        assert change.new_chat_member.status == "kicked"
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            tg.run(tg.bot.send_message(alice.id, "still there?"))
        alice.unblock_bot()
        assert tg.next_update().my_chat_member is not None
        tg.run(tg.bot.send_message(alice.id, "welcome back"))

    def test_bot_cannot_write_first(self, sandbox: SandboxClient, tg: LiveBot) -> None:
        """A user who never wrote to the bot cannot be written to (403), like on Telegram."""
        carol = sandbox.create_user("Carol")
        with pytest.raises(Forbidden, match="can't initiate conversation"):
            tg.run(tg.bot.send_message(carol.id, "hi"))
        dave = sandbox.create_user("Dave", started=True)
        tg.run(tg.bot.send_message(dave.id, "hi"))


class TestCommandsAndMisc:
    def test_commands_per_language(self, tg: LiveBot) -> None:
        """setMyCommands is kept per language_code; getMyCommands reads the same scope."""
        ru = [telegram.BotCommand("start", "Начать"), telegram.BotCommand("profile", "Анкета")]
        tg.run(tg.bot.set_my_commands(ru, language_code="ru"))
        tg.run(tg.bot.set_my_commands([telegram.BotCommand("start", "Start")]))
        got_ru = tg.run(tg.bot.get_my_commands(language_code="ru"))
        assert [(c.command, c.description) for c in got_ru] == [
            ("start", "Начать"),
            ("profile", "Анкета"),
        ]
        assert [c.command for c in tg.run(tg.bot.get_my_commands())] == ["start"]
        with pytest.raises(BadRequest):
            tg.run(tg.bot.set_my_commands([telegram.BotCommand("Bad Command", "x")]))

    def test_accepted_housekeeping_methods(self, tg: LiveBot, alice: VirtualUser) -> None:
        """Chat actions, menu button, getChat and close are accepted."""
        assert tg.run(tg.bot.send_chat_action(alice.id, "typing"))
        assert alice.chat.last_action == "typing"
        assert tg.run(tg.bot.set_chat_menu_button(menu_button=telegram.MenuButtonCommands()))
        chat = tg.run(tg.bot.get_chat(alice.id))
        assert chat.first_name == "Alice" and chat.username == "alice"
        with pytest.raises(BadRequest, match="Chat not found"):
            tg.run(tg.bot.get_chat(123))


class TestApplication:
    def test_ptb_application_polls_and_answers(
        self, server: SandboxServer, sandbox: SandboxClient, tg: LiveBot
    ) -> None:
        """PTB's Application with its Updater runs a /start → button → answer story."""

        async def start(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.effective_chat is not None
            markup = telegram.InlineKeyboardMarkup(
                [[telegram.InlineKeyboardButton("Женщина", callback_data="gender:f")]]
            )
            await context.bot.send_message(update.effective_chat.id, "Кто ты?", reply_markup=markup)

        async def pressed(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            query = update.callback_query
            assert query is not None
            await query.answer("Записала")
            await query.edit_message_text(f"Выбрано: {query.data}")

        app = (
            Application.builder()
            .token(TOKEN)
            .base_url(server.bot_base_url)
            .base_file_url(server.file_base_url)
            .build()
        )
        app.add_handler(CommandHandler("start", start))
        app.add_handler(CallbackQueryHandler(pressed))

        async def run() -> None:
            await app.initialize()
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(timeout=5)

        async def stop() -> None:
            assert app.updater is not None
            await app.updater.stop()
            await app.stop()
            await app.shutdown()

        tg.run(run())
        try:
            alice = sandbox.create_user("Alice", language_code="ru")
            alice.send_text("/start")
            assert alice.wait_for_message().buttons == [["Женщина"]]
            menu_id = alice.press("Женщина").message_id
            assert menu_id is not None
            assert alice.wait_for_answer().text == "Записала"
            alice.wait_until(lambda chat: chat.message(menu_id).text == "Выбрано: gender:f")
        finally:
            tg.run(stop())
