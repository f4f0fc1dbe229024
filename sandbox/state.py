"""Everything the sandbox remembers: bots, virtual users, chats, pending updates, stats.

All of it lives on the server's event loop and is touched only from there (aiohttp handlers
and the webhook tasks), so there are no locks. Waiting for a change uses ``Signal``: a
coroutine waits with a timeout, a mutation wakes every waiter, nobody polls.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import orjson
from aiohttp import web

from sandbox.flood import FloodConfig, FloodControl
from sandbox.media import FileStore

if TYPE_CHECKING:
    from sandbox.webhook import Webhook

JSON = dict[str, Any]
ConflictPolicy = Literal["terminate_older", "reject_newer"]

FIRST_UPDATE_ID = 100_000_001
# Telegram user ids no longer fit in 32 bits; so do the sandbox's, to catch int4 columns.
FIRST_USER_ID = 7_000_000_001
# Update types Telegram delivers when allowed_updates is not set (or set to []).
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
UPDATE_LOG_SIZE = 20_000


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


class Signal:
    """Wakes every coroutine waiting for a change; costs nothing while nobody waits."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        event = self._event
        if event is not None:
            self._event = None
            event.set()

    async def wait(self, timeout: float) -> bool:
        """True if notified within ``timeout`` seconds, False on timeout."""
        if timeout <= 0:
            return False
        if self._event is None:
            self._event = asyncio.Event()
        event = self._event
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            return False
        return True


@dataclass(slots=True)
class UserState:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool = False
    phone_number: str | None = None
    created_at: float = field(default_factory=time.time)
    _user: JSON | None = None
    _chat: JSON | None = None

    def user_dict(self) -> JSON:
        if self._user is None:
            user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
            if self.last_name:
                user["last_name"] = self.last_name
            if self.username:
                user["username"] = self.username
            if self.language_code:
                user["language_code"] = self.language_code
            if self.is_premium:
                user["is_premium"] = True
            self._user = user
        return self._user

    def chat_dict(self) -> JSON:
        if self._chat is None:
            chat: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
            if self.last_name:
                chat["last_name"] = self.last_name
            if self.username:
                chat["username"] = self.username
            self._chat = chat
        return self._chat

    def view(self) -> JSON:
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "username": self.username,
            "language_code": self.language_code,
            "is_premium": self.is_premium,
        }


@dataclass(slots=True)
class PendingUpdate:
    update_id: int
    kind: str
    user_id: int
    payload: bytes
    # Put back on purpose by the control API: survives an offset that already passed it
    # until a getUpdates has handed it out once more.
    redelivery: bool = False
    handed_out: bool = False


_CONTENT_KINDS = (
    "text",
    "photo",
    "document",
    "sticker",
    "voice",
    "video_note",
    "video",
    "audio",
    "animation",
    "location",
    "contact",
)


@dataclass(slots=True)
class StoredMessage:
    message_id: int
    outgoing: bool
    method: str | None
    data: JSON
    sent_at: float
    version: int
    markup: JSON | None = None
    edited_at: float | None = None
    deleted_at: float | None = None
    edits: int = 0

    @property
    def kind(self) -> str:
        for kind in _CONTENT_KINDS:
            if kind in self.data:
                return kind
        return "other"

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def view(self) -> JSON:
        data = self.data
        photo = data.get("photo")
        file_id: str | None = None
        if photo:
            file_id = photo[-1]["file_id"]
        else:
            for kind in (
                "document",
                "sticker",
                "voice",
                "video_note",
                "video",
                "audio",
                "animation",
            ):
                if kind in data:
                    file_id = data[kind]["file_id"]
                    break
        return {
            "message_id": self.message_id,
            "outgoing": self.outgoing,
            "method": self.method,
            "kind": self.kind,
            "text": data.get("text"),
            "caption": data.get("caption"),
            "entities": data.get("entities") or data.get("caption_entities") or [],
            "photo": [p["file_id"] for p in photo] if photo else [],
            "file_id": file_id,
            "media_group_id": data.get("media_group_id"),
            "reply_markup": self.markup,
            "reply_to_message_id": (data.get("reply_to_message") or {}).get("message_id"),
            "edited": self.edits > 0,
            "deleted": self.deleted_at is not None,
            "sent_at": self.sent_at,
            "edited_at": self.edited_at,
            "deleted_at": self.deleted_at,
            "version": self.version,
            "message": data,
        }


@dataclass(slots=True)
class CallbackRecord:
    id: str
    user_id: int
    message_id: int | None
    data: str | None
    button_text: str | None
    forged: bool
    pressed_at: float
    version: int
    answered_at: float | None = None
    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int = 0

    def view(self) -> JSON:
        return {
            "callback_query_id": self.id,
            "message_id": self.message_id,
            "data": self.data,
            "button_text": self.button_text,
            "forged": self.forged,
            "pressed_at": self.pressed_at,
            "answered": self.answered_at is not None,
            "answered_at": self.answered_at,
            "text": self.text,
            "show_alert": self.show_alert,
            "url": self.url,
            "version": self.version,
        }


class ChatState:
    """The private chat between one bot and one virtual user."""

    def __init__(self, bot: BotState, user: UserState, *, started: bool) -> None:
        self.bot = bot
        self.user = user
        self.messages: dict[int, StoredMessage] = {}
        self.next_message_id = 1
        self.version = 0
        self.signal = Signal()
        self.reply_keyboard: JSON | None = None
        self.blocked = False
        self.started = started
        self.callbacks: list[CallbackRecord] = []
        self.sent_by_bot = 0  # messages the bot has sent here, deleted ones included
        self.last_action: str | None = None
        self.last_action_at: float | None = None

    def bump(self) -> int:
        self.version += 1
        self.signal.notify()
        self.bot.activity.notify()
        return self.version

    def add_message(
        self,
        *,
        outgoing: bool,
        method: str | None,
        content: JSON,
        markup: JSON | None = None,
        inline_markup: JSON | None = None,
        reply_to: StoredMessage | None = None,
        extra: JSON | None = None,
    ) -> StoredMessage:
        message_id = self.next_message_id
        self.next_message_id += 1
        now = time.time()
        data: JSON = {
            "message_id": message_id,
            "from": self.bot.user_dict() if outgoing else self.user.user_dict(),
            "chat": self.user.chat_dict(),
            "date": int(now),
        }
        if reply_to is not None:
            data["reply_to_message"] = {
                k: v for k, v in reply_to.data.items() if k != "reply_to_message"
            }
        if extra:
            data.update(extra)
        data.update(content)
        if inline_markup is not None:
            data["reply_markup"] = inline_markup
        stored = StoredMessage(
            message_id=message_id,
            outgoing=outgoing,
            method=method,
            data=data,
            sent_at=now,
            version=self.bump(),
            markup=markup,
        )
        self.messages[message_id] = stored
        if outgoing:
            self.sent_by_bot += 1
            self.bot.stats.messages_sent += 1
            if markup is not None:
                if "keyboard" in markup:
                    self.reply_keyboard = markup
                elif markup.get("remove_keyboard"):
                    self.reply_keyboard = None
        return stored

    def touch(self, message: StoredMessage) -> None:
        message.version = self.bump()

    def answered(self, callback_query_id: str) -> bool:
        return any(
            record.id == callback_query_id and record.answered_at is not None
            for record in self.callbacks
        )

    def view(self, changed_since: int = -1) -> JSON:
        return {
            "bot_id": self.bot.id,
            "user_id": self.user.id,
            "version": self.version,
            "blocked": self.blocked,
            "started": self.started,
            "reply_keyboard": self.reply_keyboard,
            "last_action": self.last_action,
            "last_action_at": self.last_action_at,
            "messages": [m.view() for m in self.messages.values() if m.version > changed_since],
            "callback_answers": [c.view() for c in self.callbacks if c.version > changed_since],
        }


@dataclass
class BotStats:
    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    conflicts_409: int = 0
    get_updates_calls: int = 0
    last_get_updates_at: float | None = None
    updates_enqueued: int = 0
    updates_filtered: int = 0
    updates_delivered: int = 0
    messages_sent: int = 0
    webhook_deliveries: int = 0
    webhook_failures: int = 0


class PollTicket:
    """One getUpdates request waiting for updates."""

    __slots__ = ("event", "reason")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        # Why the wait ended early: "conflict", "webhook" or "closing"; None if by updates.
        self.reason: str | None = None

    def wake(self, reason: str | None = None) -> None:
        if reason is not None and self.reason is None:
            self.reason = reason
        self.event.set()


@dataclass(slots=True)
class GroupState:
    """A group chat users added the bot to: only what a bot in a group is told and does."""

    id: int  # negative, as Telegram's group ids are
    title: str
    bot_member: bool = True
    left_at: float | None = None  # when the bot left it (leaveChat)

    def chat_dict(self) -> JSON:
        return {"id": self.id, "type": "group", "title": self.title}

    def view(self) -> JSON:
        return {
            "id": self.id,
            "title": self.title,
            "bot_member": self.bot_member,
            "left_at": self.left_at,
        }


@dataclass(frozen=True)
class Outage:
    """Telegram failing: until a moment (monotonic), these methods (None: all) answer status,
    or (hang) hold the call unanswered and then drop its connection, having done nothing."""

    until: float
    status: int
    methods: frozenset[str] | None
    hang: bool = False


class BotState:
    def __init__(self, token: str, username: str, first_name: str) -> None:
        prefix = token.split(":", 1)[0]
        self.token = token
        self.id = int(prefix) if prefix.isdigit() else abs(hash(token)) % 10**10
        self.username = username
        self.first_name = first_name
        # Counters survive reset(): a bot that keeps polling across a reset must not see
        # update_ids go backwards (its offset would swallow the new updates).
        self._update_ids = itertools.count(FIRST_UPDATE_ID)
        self._callback_ids = itertools.count(int.from_bytes(os.urandom(3), "big") * 10**12)
        self.flood = FloodControl()
        self.initial_flood = FloodConfig()
        self.active_poll: PollTicket | None = None
        self.pending_signal = Signal()
        self.poll_signal = Signal()
        self.activity = Signal()
        self._user: JSON | None = None
        self._fresh()

    def _fresh(self) -> None:
        self.chats: dict[int, ChatState] = {}
        self.groups: dict[int, GroupState] = {}
        self.pending: deque[PendingUpdate] = deque()
        # How many redelivered updates wait in ``pending`` (confirm() is cheaper with none).
        self.redeliveries = 0
        self.update_log: dict[int, PendingUpdate] = {}
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.allowed_updates_list: list[str] | None = None
        self.webhook: Webhook | None = None
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.menu_buttons: dict[int | None, JSON] = {}
        self.properties: JSON = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.flood.reset()
        self.flood.config = FloodConfig(**self.initial_flood.as_dict())
        self.stats = BotStats()
        self.outage: Outage | None = None

    def failing(self, method: str) -> Outage | None:
        """The outage this method meets now, if one is on."""
        outage = self.outage
        if outage is None or time.monotonic() >= outage.until:
            return None
        if outage.methods is not None and method not in outage.methods:
            return None
        return outage

    async def reset(self) -> None:
        """Back to how the server started: no chats, updates, webhook, commands, counters."""
        if self.webhook is not None:
            await self.webhook.stop()
        if self.active_poll is not None:
            self.active_poll.wake("closing")
        for chat in self.chats.values():
            chat.signal.notify()
        self._fresh()
        self.pending_signal.notify()
        self.activity.notify()

    def user_dict(self) -> JSON:
        if self._user is None:
            self._user = {
                "id": self.id,
                "is_bot": True,
                "first_name": self.first_name,
                "username": self.username,
            }
        return self._user

    def me(self) -> JSON:
        return {
            **self.user_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def next_callback_id(self) -> str:
        return str(next(self._callback_ids))

    def chat_for(self, user: UserState, *, started: bool = False) -> ChatState:
        chat = self.chats.get(user.id)
        if chat is None:
            chat = self.chats[user.id] = ChatState(self, user, started=started)
        return chat

    @property
    def pending_count(self) -> int:
        if self.webhook is not None:
            return self.webhook.pending_count
        return len(self.pending)

    def enqueue(self, kind: str, user_id: int, body: JSON) -> JSON:
        """Give the bot a new update; returns it (with its update_id) as delivered."""
        update_id = next(self._update_ids)
        update = {"update_id": update_id, kind: body}
        if kind not in self.allowed_updates:
            self.stats.updates_filtered += 1
            return update
        pending = PendingUpdate(update_id, kind, user_id, dumps(update))
        self.stats.updates_enqueued += 1
        self._log(pending)
        self._deliver(pending)
        return update

    def redeliver(self, update_id: int) -> bool:
        logged = self.update_log.get(update_id)
        if logged is None:
            return False
        if self.webhook is None:
            self.redeliveries += 1
        self._deliver(
            PendingUpdate(logged.update_id, logged.kind, logged.user_id, logged.payload, True)
        )
        return True

    def _log(self, pending: PendingUpdate) -> None:
        log = self.update_log
        log[pending.update_id] = pending
        if len(log) > UPDATE_LOG_SIZE:
            del log[next(iter(log))]

    def _deliver(self, pending: PendingUpdate) -> None:
        if self.webhook is not None:
            self.webhook.push(pending)
            return
        self.pending.append(pending)
        if self.active_poll is not None:
            self.active_poll.wake()

    def confirm(self, offset: int) -> None:
        """getUpdates ``offset``: forget updates below it (negative: keep the last -offset)."""
        pending = self.pending
        before = len(pending)
        if offset < 0:
            while len(pending) > -offset:
                pending.popleft()
        elif self.redeliveries:
            self.pending = deque(
                p for p in pending if p.update_id >= offset or (p.redelivery and not p.handed_out)
            )
            self.redeliveries = sum(1 for p in self.pending if p.redelivery)
        else:
            while pending and pending[0].update_id < offset:
                pending.popleft()
        if len(self.pending) != before:
            self.pending_signal.notify()

    def clear_pending(self) -> None:
        self.pending.clear()
        self.redeliveries = 0
        if self.webhook is not None:
            self.webhook.clear()
        self.pending_signal.notify()

    def view(self) -> JSON:
        webhook = self.webhook
        return {
            "id": self.id,
            "token": self.token,
            "username": self.username,
            "first_name": self.first_name,
            "webhook_url": webhook.url if webhook is not None else None,
            "commands": [
                {"scope": json.loads(scope), "language_code": lang, "commands": commands}
                for (scope, lang), commands in self.commands.items()
            ],
            "menu_button": self.menu_buttons.get(None),
            "properties": self.properties,
        }

    def stats_view(self) -> JSON:
        stats = self.stats
        counters = self.flood.counters
        webhook = self.webhook
        return {
            "bot_id": self.id,
            "calls": dict(stats.calls),
            "total_calls": sum(stats.calls.values()),
            "errors": dict(stats.errors),
            "flood_429": counters.flood_429,
            "forced_429": counters.forced_429,
            "early_retry_429": counters.early_retry_429,
            "total_429": counters.total,
            "conflicts_409": stats.conflicts_409,
            "pending_updates": self.pending_count,
            "get_updates_calls": stats.get_updates_calls,
            "last_get_updates_at": stats.last_get_updates_at,
            "polling": self.active_poll is not None,
            "updates_enqueued": stats.updates_enqueued,
            "updates_filtered": stats.updates_filtered,
            "updates_delivered": stats.updates_delivered,
            "messages_sent": stats.messages_sent,
            "webhook_url": webhook.url if webhook is not None else None,
            "webhook_deliveries": stats.webhook_deliveries,
            "webhook_failures": stats.webhook_failures,
            "webhook_last_error": webhook.last_error_message if webhook is not None else None,
            "flood": self.flood.config.as_dict(),
            "forced_rules": [r.as_dict() for r in self.flood.forced],
        }

    def reset_stats(self) -> None:
        self.stats = BotStats()
        self.flood.counters = type(self.flood.counters)()


@dataclass
class SandboxOptions:
    # A bot may write only to users who wrote to it first, like on Telegram.
    require_start: bool = True
    # Which of two concurrent getUpdates gets 409: Telegram terminates the older one.
    conflict_policy: ConflictPolicy = "terminate_older"
    # Webhook retry backoff: first delay, doubling up to the maximum.
    webhook_retry_delay: float = 0.1
    webhook_retry_max_delay: float = 5.0
    webhook_timeout: float = 10.0


class Sandbox:
    """The root of the state: bots by token, virtual users by id, files."""

    def __init__(self, options: SandboxOptions | None = None) -> None:
        self.options = options or SandboxOptions()
        self.bots: dict[str, BotState] = {}
        self.default_token: str | None = None
        self.users: dict[int, UserState] = {}
        self.files = FileStore()
        self._user_ids = itertools.count(FIRST_USER_ID)
        self.closing = False
        # The server's outgoing HTTP session (webhooks, photos by URL); set while it runs.
        self.http: aiohttp.ClientSession | None = None
        self.started_at = time.time()

    def add_bot(
        self, token: str, username: str | None = None, first_name: str | None = None
    ) -> BotState:
        existing = self.bots.get(token)
        if existing is not None:
            return existing
        if username is None:
            username = (
                "sandbox_dating_bot" if not self.bots else f"sandbox_dating_{len(self.bots)}_bot"
            )
        bot = BotState(token, username, first_name or "Sandbox Dating Bot")
        self.bots[token] = bot
        if self.default_token is None:
            self.default_token = token
        return bot

    def bot(self, token: str | None) -> BotState | None:
        if token is None:
            token = self.default_token
        if token is None:
            return None
        bot = self.bots.get(token)
        if bot is None:
            for candidate in self.bots.values():
                if token in (str(candidate.id), candidate.username):
                    return candidate
        return bot

    def add_user(
        self,
        first_name: str,
        *,
        user_id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        is_premium: bool = False,
        phone_number: str | None = None,
    ) -> UserState:
        if user_id is None:
            user_id = next(self._user_ids)
            while user_id in self.users:
                user_id = next(self._user_ids)
        user = UserState(
            id=user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
            phone_number=phone_number,
        )
        self.users[user_id] = user
        return user

    async def reset(self) -> None:
        """Forget users, chats, updates, files, webhooks, commands and counters.

        Bots stay, with the flood settings they started with; ids keep counting up so a
        bot (or a database) that lives across the reset never sees an id twice.
        """
        self.users.clear()
        self.files.clear()
        for bot in self.bots.values():
            await bot.reset()


# Where an aiohttp handler finds the sandbox: ``request.app[SANDBOX_KEY]``.
SANDBOX_KEY = web.AppKey("sandbox", Sandbox)
