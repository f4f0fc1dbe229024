"""A blocking client for the sandbox's control API, shaped for tests that read as a story.

    sandbox = SandboxClient(server.url)
    alice = sandbox.create_user(first_name="Alice", language_code="ru")
    alice.send_text("/start")
    [greeting] = alice.wait_for_messages(1)
    alice.press("Женщина")
    alice.wait_until(lambda chat: chat.last_bot_message and "возраст" in chat.last_bot_message.body)

Waiting never sleeps: each wait is a server-side long poll that returns as soon as the chat
changes, bounded by the timeout. A timeout raises ``SandboxError`` (an AssertionError) with
the chat's transcript, so a failing test shows what the bot actually said.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
JSON = dict[str, Any]

DEFAULT_TIMEOUT = 10.0
# One long poll lasts at most this long; longer waits are made of several.
_POLL_SLICE = 25.0


class SandboxError(AssertionError):
    """A control call failed or a wait timed out; the message says what the chat looked like."""


@dataclass(frozen=True, slots=True)
class SentUpdate:
    """What a user action produced: the update the bot will receive."""

    update_id: int | None
    message_id: int | None = None
    callback_query_id: str | None = None
    update: JSON | None = None


@dataclass(slots=True)
class ChatMessage:
    """One message of a chat, as it is now (after edits and deletions)."""

    message_id: int
    outgoing: bool
    method: str | None
    kind: str
    text: str | None
    caption: str | None
    entities: list[JSON]
    photo: list[str]
    file_id: str | None
    media_group_id: str | None
    reply_markup: JSON | None
    reply_to_message_id: int | None
    edited: bool
    deleted: bool
    sent_at: float
    edited_at: float | None
    deleted_at: float | None
    version: int
    raw: JSON

    @classmethod
    def from_view(cls, view: JSON) -> ChatMessage:
        return cls(
            message_id=view["message_id"],
            outgoing=view["outgoing"],
            method=view["method"],
            kind=view["kind"],
            text=view["text"],
            caption=view["caption"],
            entities=view["entities"],
            photo=view["photo"],
            file_id=view["file_id"],
            media_group_id=view["media_group_id"],
            reply_markup=view["reply_markup"],
            reply_to_message_id=view["reply_to_message_id"],
            edited=view["edited"],
            deleted=view["deleted"],
            sent_at=view["sent_at"],
            edited_at=view["edited_at"],
            deleted_at=view["deleted_at"],
            version=view["version"],
            raw=view["message"],
        )

    @property
    def body(self) -> str:
        """The text, or the caption, or "" — what a person reads in the bubble."""
        return self.text or self.caption or ""

    @property
    def inline_keyboard(self) -> list[list[JSON]]:
        markup = self.reply_markup or {}
        return list(markup.get("inline_keyboard", []))

    @property
    def reply_keyboard(self) -> list[list[JSON]]:
        markup = self.reply_markup or {}
        return list(markup.get("keyboard", []))

    @property
    def buttons(self) -> list[list[str]]:
        """Button labels by row, of the inline keyboard or else of the reply keyboard."""
        rows = self.inline_keyboard or self.reply_keyboard
        return [[str(b.get("text")) for b in row] for row in rows]

    @property
    def button_texts(self) -> list[str]:
        return [text for row in self.buttons for text in row]

    def button(self, text: str) -> JSON:
        for row in self.inline_keyboard or self.reply_keyboard:
            for button in row:
                if button.get("text") == text:
                    return button
        raise SandboxError(f"message {self.message_id} has no button {text!r}: {self.buttons}")

    def callback_data(self, text: str) -> str:
        return str(self.button(text)["callback_data"])

    def describe(self) -> str:
        arrow = "←" if self.outgoing else "→"
        who = f"bot {self.method}" if self.outgoing else "user"
        parts = [f"{arrow} #{self.message_id} {who}:"]
        if self.kind not in ("text", "photo"):
            parts.append(f"[{self.kind}]")
        if self.photo:
            parts.append(f"[photo x{len(self.photo)}]")
        if self.body:
            parts.append(repr(self.body) if len(self.body) <= 300 else repr(self.body[:300] + "…"))
        if self.raw.get("location"):
            loc = self.raw["location"]
            parts.append(f"({loc['latitude']}, {loc['longitude']})")
        if self.buttons:
            parts.append(" ".join("[" + " | ".join(row) + "]" for row in self.buttons))
        markup = self.reply_markup or {}
        if markup.get("remove_keyboard"):
            parts.append("(removes keyboard)")
        if markup.get("force_reply"):
            parts.append("(force reply)")
        if self.media_group_id:
            parts.append(f"(album {self.media_group_id})")
        if self.edited:
            parts.append("(edited)")
        if self.deleted:
            parts.append("(deleted)")
        return " ".join(parts)


@dataclass(slots=True)
class CallbackAnswer:
    """A button press (callback query) and how the bot answered it, if it did."""

    callback_query_id: str
    message_id: int | None
    data: str | None
    button_text: str | None
    forged: bool
    pressed_at: float
    answered: bool
    answered_at: float | None
    text: str | None
    show_alert: bool
    url: str | None
    version: int

    @classmethod
    def from_view(cls, view: JSON) -> CallbackAnswer:
        return cls(**view)


@dataclass
class Chat:
    """A local mirror of one chat, refreshed incrementally from the server."""

    user_id: int
    version: int = -1
    blocked: bool = False
    started: bool = False
    reply_keyboard_markup: JSON | None = None
    last_action: str | None = None
    messages_by_id: dict[int, ChatMessage] = field(default_factory=dict)
    callbacks: dict[str, CallbackAnswer] = field(default_factory=dict)

    def merge(self, view: JSON) -> None:
        self.version = view["version"]
        self.blocked = view["blocked"]
        self.started = view["started"]
        self.reply_keyboard_markup = view["reply_keyboard"]
        self.last_action = view["last_action"]
        for message in view["messages"]:
            self.messages_by_id[message["message_id"]] = ChatMessage.from_view(message)
        for answer in view["callback_answers"]:
            self.callbacks[answer["callback_query_id"]] = CallbackAnswer.from_view(answer)

    @property
    def messages(self) -> list[ChatMessage]:
        """All messages, both ways, in order (deleted ones included, flagged)."""
        return [self.messages_by_id[k] for k in sorted(self.messages_by_id)]

    @property
    def bot_messages(self) -> list[ChatMessage]:
        return [m for m in self.messages if m.outgoing]

    @property
    def visible_bot_messages(self) -> list[ChatMessage]:
        return [m for m in self.messages if m.outgoing and not m.deleted]

    @property
    def user_messages(self) -> list[ChatMessage]:
        return [m for m in self.messages if not m.outgoing]

    @property
    def last_bot_message(self) -> ChatMessage | None:
        visible = self.visible_bot_messages
        return visible[-1] if visible else None

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        return sorted(self.callbacks.values(), key=lambda c: c.pressed_at)

    def message(self, message_id: int) -> ChatMessage:
        try:
            return self.messages_by_id[message_id]
        except KeyError:
            raise SandboxError(
                f"no message {message_id} in the chat\n{self.transcript()}"
            ) from None

    def transcript(self) -> str:
        lines = [
            f"chat with user {self.user_id} (version {self.version}"
            f"{', bot blocked' if self.blocked else ''}):"
        ]
        lines += ["  " + m.describe() for m in self.messages]
        for answer in self.callback_answers:
            state = (
                f"answered {answer.text!r}{' (alert)' if answer.show_alert else ''}"
                if answer.answered
                else "NOT answered"
            )
            forged = " forged" if answer.forged else ""
            lines.append(f"  ⌁{forged} callback {answer.data!r} on #{answer.message_id}: {state}")
        if self.reply_keyboard_markup:
            rows = self.reply_keyboard_markup.get("keyboard", [])
            labels = " ".join("[" + " | ".join(b["text"] for b in row) + "]" for row in rows)
            lines.append(f"  reply keyboard shown: {labels}")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Stats:
    """A bot's counters in the sandbox (``raw`` has everything the server reported)."""

    calls: dict[str, int]
    errors: dict[str, int]
    total_calls: int
    flood_429: int
    forced_429: int
    early_retry_429: int
    total_429: int
    conflicts_409: int
    pending_updates: int
    get_updates_calls: int
    last_get_updates_at: float | None
    polling: bool
    updates_enqueued: int
    updates_delivered: int
    messages_sent: int
    webhook_url: str | None
    webhook_deliveries: int
    webhook_failures: int
    process_cpu_seconds: float
    raw: JSON

    @classmethod
    def from_view(cls, view: JSON) -> Stats:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in view.items() if k in names and k != "raw"}, raw=view)

    def calls_to(self, method: str) -> int:
        return self.calls.get(method, 0)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class SandboxClient:
    """The control API over HTTP (blocking, thread-safe enough for tests)."""

    def __init__(
        self, url: str, *, bot: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.url = url.rstrip("/")
        self.bot = bot
        self.timeout = timeout
        self._http = httpx.Client(base_url=self.url, timeout=httpx.Timeout(timeout + 5))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SandboxClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def request(
        self,
        method: str,
        path: str,
        body: JSON | None = None,
        *,
        params: JSON | None = None,
        wait: float = 0.0,
    ) -> JSON:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if self.bot is not None:
            query.setdefault("bot", self.bot)
        if wait:
            query["wait"] = f"{wait:.3f}"
        response = self._http.request(
            method,
            f"/sandbox/{path}",
            params=query,
            json=body,
            timeout=httpx.Timeout(wait + self.timeout + 5),
        )
        try:
            payload: JSON = response.json()
        except ValueError:
            raise SandboxError(
                f"sandbox answered {response.status_code} to {method} {path}: {response.text[:500]}"
            ) from None
        if response.status_code >= 400 or not payload.get("ok"):
            raise SandboxError(f"sandbox refused {method} {path}: {payload.get('error', payload)}")
        return payload

    def get(self, path: str, *, params: JSON | None = None, wait: float = 0.0) -> JSON:
        return self.request("GET", path, params=params, wait=wait)

    def post(self, path: str, body: JSON | None = None) -> JSON:
        return self.request("POST", path, body or {})

    # ------------------------------------------------------------------ users

    def create_user(
        self,
        first_name: str = "User",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        user_id: int | None = None,
        is_premium: bool = False,
        phone_number: str | None = None,
        started: bool = False,
    ) -> VirtualUser:
        """A new virtual Telegram user. ``started=True`` lets the bot write first."""
        body: JSON = {
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "language_code": language_code,
            "id": user_id,
            "is_premium": is_premium,
            "phone_number": phone_number,
            "started": started,
        }
        info = self.post("users", body)["user"]
        return VirtualUser(self, info)

    def user(self, user_id: int) -> VirtualUser:
        """A handle on an existing virtual user."""
        return VirtualUser(self, self.get(f"users/{user_id}")["user"])

    def users(self) -> list[JSON]:
        return list(self.get("users")["users"])

    def chats(self) -> list[JSON]:
        return list(self.get("chats")["chats"])

    def group(self, group_id: int) -> JSON:
        """A group the bot was added to: title, bot_member, left_at."""
        return self.get(f"groups/{group_id}")

    # ------------------------------------------------------------------ bots, stats, flood

    def health(self) -> JSON:
        return self.get("health")

    def bots(self) -> list[JSON]:
        return list(self.get("bots")["bots"])

    def add_bot(
        self, token: str, *, username: str | None = None, first_name: str | None = None
    ) -> JSON:
        body = {"token": token, "username": username, "first_name": first_name}
        return dict(self.post("bots", body)["bot"])

    def stats(self) -> Stats:
        return Stats.from_view(self.get("stats"))

    def reset_stats(self) -> None:
        self.post("stats/reset")

    def set_flood(
        self,
        *,
        enabled: bool = True,
        global_rate: float | None = None,
        global_burst: float | None = None,
        chat_rate: float | None = None,
        chat_burst: float | None = None,
        enforce_retry_after: bool | None = None,
    ) -> JSON:
        """Turn Telegram-like flood limits on (or off with ``enabled=False``)."""
        body = {
            "enabled": enabled,
            "global_rate": global_rate,
            "global_burst": global_burst,
            "chat_rate": chat_rate,
            "chat_burst": chat_burst,
            "enforce_retry_after": enforce_retry_after,
        }
        return dict(self.post("flood", body)["flood"])

    def reset_flood(self, *, counters: bool = True) -> None:
        """Refill the buckets, end running retry_after windows, drop forced rules."""
        self.post("flood/reset", {"counters": counters})

    def force_429(
        self,
        count: int = 1,
        retry_after: int = 1,
        *,
        chat_id: int | None = None,
        methods: Iterable[str] | None = None,
    ) -> JSON:
        """The next ``count`` sends (to ``chat_id`` if given) answer 429 with ``retry_after``."""
        body = {
            "count": count,
            "retry_after": retry_after,
            "chat_id": chat_id,
            "methods": list(methods) if methods is not None else None,
        }
        return dict(self.post("flood/force", body)["rule"])

    def outage(
        self,
        seconds: float,
        status: int = 500,
        *,
        methods: Iterable[str] | None = None,
        hang: bool = False,
    ) -> None:
        """For ``seconds``, every Bot API call (or those of ``methods``) answers ``status``;
        with ``hang``, gets no answer at all and has its connection dropped when the time is
        up, undone."""
        body = {
            "seconds": seconds,
            "status": status,
            "methods": list(methods) if methods is not None else None,
            "hang": hang,
        }
        self.post("outage", body)

    # ------------------------------------------------------------------ files and updates

    def download(self, file_id: str) -> bytes:
        """The bytes behind any file_id (sent by the bot or by a user)."""
        response = self._http.get(f"/sandbox/files/{file_id}")
        if response.status_code != 200:
            raise SandboxError(f"no file {file_id!r} in the sandbox")
        return response.content

    def file_info(self, file_id: str) -> JSON:
        return self.get(f"files/{file_id}", params={"info": 1})

    def pending_updates(self) -> int:
        return int(self.get("updates")["pending"])

    def wait_updates_consumed(
        self, timeout: float = DEFAULT_TIMEOUT, *, max_pending: int = 0
    ) -> None:
        """Block until the bot has taken (confirmed / had delivered) its updates."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            payload = self.get(
                "updates",
                params={"max_pending": max_pending},
                wait=max(0.0, min(remaining, _POLL_SLICE)),
            )
            if payload["pending"] <= max_pending:
                return
            if time.monotonic() >= deadline:
                raise SandboxError(
                    f"the bot still has {payload['pending']} pending updates after {timeout} s"
                )

    def wait_for_poller(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Block until a getUpdates long poll is waiting (the bot is ready for updates)."""
        if not self.get("poller", wait=timeout)["polling"]:
            raise SandboxError(f"no getUpdates call was waiting within {timeout} s")

    def redeliver(self, update_id: int) -> None:
        """Hand an update the bot already had to it once more (same update_id)."""
        self.post(f"updates/{update_id}/redeliver")

    def reset(self) -> None:
        """Forget users, chats, updates, files, webhooks and counters (bots stay)."""
        self.post("reset")


class VirtualUser:
    """A Telegram user talking to the bot through the sandbox."""

    def __init__(self, client: SandboxClient, info: JSON) -> None:
        self.client = client
        self.id: int = info["id"]
        self.first_name: str = info["first_name"]
        self.last_name: str | None = info.get("last_name")
        self.username: str | None = info.get("username")
        self.language_code: str | None = info.get("language_code")
        self._chat = Chat(self.id)
        self._cursor = 0
        self._last_press: str | None = None

    def __repr__(self) -> str:
        return f"<VirtualUser {self.first_name} {self.id}>"

    # ------------------------------------------------------------------ acting

    def _act(self, action: str, body: JSON | None = None) -> SentUpdate:
        payload = self.client.post(f"users/{self.id}/{action}", body or {})
        return SentUpdate(
            update_id=payload.get("update_id"),
            message_id=payload.get("message_id"),
            callback_query_id=payload.get("callback_query_id"),
            update=payload.get("update"),
        )

    def send_text(self, text: str, *, reply_to: int | None = None) -> SentUpdate:
        """A text message; ``/commands`` get bot_command entities."""
        return self._act("text", {"text": text, "reply_to": reply_to})

    def follow_link(self, url: str) -> SentUpdate:
        """Open the bot's deep link (https://t.me/<bot>?start=<payload>) and press Start."""
        return self._act("link", {"url": url})

    def send_photo(
        self, data: bytes | None = None, *, caption: str | None = None, reply_to: int | None = None
    ) -> SentUpdate:
        """A photo (a generated 640x480 JPEG when ``data`` is None)."""
        body: JSON = {"caption": caption, "reply_to": reply_to}
        if data is not None:
            body["data_b64"] = _b64(data)
        return self._act("photo", body)

    def send_document(
        self,
        data: bytes,
        file_name: str = "file.bin",
        mime_type: str = "application/octet-stream",
        *,
        caption: str | None = None,
    ) -> SentUpdate:
        body = {
            "data_b64": _b64(data),
            "file_name": file_name,
            "mime_type": mime_type,
            "caption": caption,
        }
        return self._act("document", body)

    def send_location(self, latitude: float, longitude: float) -> SentUpdate:
        return self._act("location", {"latitude": latitude, "longitude": longitude})

    def send_sticker(self, data: bytes | None = None, *, emoji: str = "🙂") -> SentUpdate:
        body: JSON = {"emoji": emoji}
        if data is not None:
            body["data_b64"] = _b64(data)
        return self._act("sticker", body)

    def send_voice(
        self, data: bytes | None = None, *, duration: int = 1, size: int = 0
    ) -> SentUpdate:
        """A voice message; without ``data`` placeholder bytes, padded to ``size`` if given."""
        body: JSON = {"duration": duration, "size": size}
        if data is not None:
            body["data_b64"] = _b64(data)
        return self._act("voice", body)

    def send_video_note(
        self, data: bytes | None = None, *, duration: int = 1, length: int = 240, size: int = 0
    ) -> SentUpdate:
        body: JSON = {"duration": duration, "length": length, "size": size}
        if data is not None:
            body["data_b64"] = _b64(data)
        return self._act("video_note", body)

    def send_video(
        self,
        data: bytes | None = None,
        *,
        duration: int = 1,
        size: int = 0,
        mime_type: str = "video/mp4",
        caption: str | None = None,
    ) -> SentUpdate:
        """A video (MP4 placeholder bytes unless ``data`` is given, padded to ``size``)."""
        body: JSON = {"duration": duration, "size": size, "mime_type": mime_type}
        if caption is not None:
            body["caption"] = caption
        if data is not None:
            body["data_b64"] = _b64(data)
        return self._act("video", body)

    def send_contact(
        self,
        phone_number: str | None = None,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        user_id: int | None = None,
    ) -> SentUpdate:
        """A contact card: the user's own unless ``first_name`` is given."""
        body = {
            "phone_number": phone_number,
            "first_name": first_name,
            "last_name": last_name,
            "user_id": user_id,
        }
        return self._act("contact", body)

    def edit_text(self, message_id: int, text: str) -> SentUpdate:
        """The user edits one of their text messages (the bot gets edited_message)."""
        return self._act("edit", {"message_id": message_id, "text": text})

    def press(self, text: str, *, message_id: int | None = None) -> SentUpdate:
        """Press a button by its label: on the latest message with an inline keyboard (or
        ``message_id``), else on the reply keyboard shown."""
        sent = self._press({"text": text, "message_id": message_id, "kind": "any"})
        return sent

    def press_inline(self, text: str, *, message_id: int | None = None) -> SentUpdate:
        return self._press({"text": text, "message_id": message_id, "kind": "inline"})

    def press_reply(
        self,
        text: str,
        *,
        latitude: float | None = None,
        longitude: float | None = None,
        phone_number: str | None = None,
    ) -> SentUpdate:
        """Press a reply-keyboard button; request_location buttons send the given place."""
        body = {
            "text": text,
            "kind": "reply",
            "latitude": latitude,
            "longitude": longitude,
            "phone_number": phone_number,
        }
        return self._press(body)

    def _press(self, body: JSON) -> SentUpdate:
        try:
            sent = self._act("press", body)
        except SandboxError as exc:
            raise SandboxError(f"{exc}\n{self.transcript()}") from None
        if sent.callback_query_id is not None:
            self._last_press = sent.callback_query_id
        return sent

    def press_forged(self, message_id: int, data: str | None) -> SentUpdate:
        """A callback query with arbitrary data on any message id, like a tampered client."""
        sent = self._act("callback", {"message_id": message_id, "data": data})
        self._last_press = sent.callback_query_id
        return sent

    def block_bot(self) -> SentUpdate:
        """Block the bot: sends to this user answer 403; the bot gets my_chat_member."""
        return self._act("block")

    def unblock_bot(self) -> SentUpdate:
        return self._act("unblock")

    def add_bot_to_group(self, title: str = "Group") -> int:
        """Make a group with the bot in it (the bot gets my_chat_member); its id."""
        return int(self.client.post(f"users/{self.id}/add_to_group", {"title": title})["group_id"])

    def send_group_text(self, group_id: int, text: str) -> SentUpdate:
        """Write in a group: the bot gets it only while it is a member (update_id None)."""
        return self._act("group_text", {"group_id": group_id, "text": text})

    # ------------------------------------------------------------------ reading

    def refresh(self, wait: float = 0.0) -> Chat:
        """Bring the local mirror up to date; with ``wait``, first wait for a change."""
        view = self.client.get(
            f"users/{self.id}/chat",
            params={"changed_since": self._chat.version},
            wait=wait,
        )
        if view["version"] < self._chat.version:  # the sandbox was reset
            self._chat = Chat(self.id)
            self._cursor = 0
        self._chat.merge(view)
        return self._chat

    @property
    def chat(self) -> Chat:
        return self.refresh()

    @property
    def messages(self) -> list[ChatMessage]:
        """Everything the bot has sent here, current state, deleted ones flagged."""
        return self.refresh().bot_messages

    def last_message(self) -> ChatMessage | None:
        """The bot's latest message that is not deleted."""
        return self.refresh().last_bot_message

    def message(self, message_id: int) -> ChatMessage:
        return self.refresh().message(message_id)

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        return self.refresh().callback_answers

    def transcript(self) -> str:
        return self.refresh().transcript()

    def _unread(self) -> list[ChatMessage]:
        return [m for m in self._chat.bot_messages if m.message_id > self._cursor]

    def new_messages(self) -> list[ChatMessage]:
        """Bot messages not returned by an earlier wait/new_messages call (no waiting)."""
        self.refresh()
        unread = self._unread()
        if unread:
            self._cursor = unread[-1].message_id
        return unread

    def mark_read(self) -> None:
        """Forget unread bot messages: later waits see only what comes after now."""
        self.new_messages()

    # ------------------------------------------------------------------ waiting

    def wait_until(
        self,
        predicate: Callable[[Chat], T | None],
        timeout: float = DEFAULT_TIMEOUT,
        *,
        what: str = "the condition",
    ) -> T:
        """Wait until ``predicate(chat)`` is truthy and return its value."""
        deadline = time.monotonic() + timeout
        chat = self.refresh()
        while True:
            value = predicate(chat)
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxError(
                    f"{self.first_name} waited {timeout} s for {what}; it never came.\n"
                    f"{chat.transcript()}"
                )
            chat = self.refresh(wait=min(remaining, _POLL_SLICE))

    def wait_for_messages(
        self, count: int = 1, timeout: float = DEFAULT_TIMEOUT
    ) -> list[ChatMessage]:
        """The next ``count`` new bot messages, waiting for them to be sent.

        Messages are handed out once: extra ones stay for the next call (``mark_read`` drops
        them). Each is returned as it was when the wait ended; edits show on later reads.
        """

        def enough(_chat: Chat) -> list[ChatMessage] | None:
            unread = self._unread()
            return unread if len(unread) >= count else None

        unread = self.wait_until(
            enough, timeout, what=f"{count} new bot message(s) (after #{self._cursor})"
        )
        taken = unread[:count]
        self._cursor = taken[-1].message_id
        return taken

    def wait_for_message(self, timeout: float = DEFAULT_TIMEOUT) -> ChatMessage:
        return self.wait_for_messages(1, timeout)[0]

    def wait_for_answer(
        self, callback_query_id: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> CallbackAnswer:
        """Wait until the bot answers a callback query (default: this user's last press)."""
        query_id = callback_query_id or self._last_press
        if query_id is None:
            raise SandboxError(f"{self.first_name} has pressed no inline button yet")

        def answered(chat: Chat) -> CallbackAnswer | None:
            answer = chat.callbacks.get(query_id)
            return answer if answer is not None and answer.answered else None

        return self.wait_until(answered, timeout, what=f"an answer to callback query {query_id}")

    def expect_no_messages(self, within: float) -> None:
        """Assert the bot sends nothing new for ``within`` seconds (a bounded wait by nature)."""
        deadline = time.monotonic() + within
        self.refresh()
        while True:
            unread = self._unread()
            if unread:
                raise SandboxError(
                    f"{self.first_name} expected silence but the bot sent "
                    f"{[m.describe() for m in unread]}\n{self._chat.transcript()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.refresh(wait=min(remaining, _POLL_SLICE))
