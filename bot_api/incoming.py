"""What a user sent, distilled from a raw Bot API update into one flat value.

The session actor works on these instead of PTB objects: parsing a dict is cheap, happens off
PTB's event loop, and every kind of input a user can send is named here, so each handler can
answer the kinds it does not expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Kind(Enum):
    COMMAND = "command"
    TEXT = "text"
    CALLBACK = "callback"
    PHOTO = "photo"
    DOCUMENT = "document"
    LOCATION = "location"
    STICKER = "sticker"
    VOICE = "voice"
    VIDEO_NOTE = "video_note"
    VIDEO = "video"
    ANIMATION = "animation"
    AUDIO = "audio"
    CONTACT = "contact"
    BOT_BLOCKED = "bot_blocked"
    BOT_UNBLOCKED = "bot_unblocked"
    GROUP = "group"  # anything from a group or channel the bot was added to: it leaves
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Incoming:
    update_id: int
    user_id: int
    chat_id: int
    kind: Kind
    language_code: str | None = None
    username: str | None = None
    first_name: str = ""
    text: str = ""  # message text, caption, or the command's argument
    command: str = ""  # "start" for "/start@bot payload"
    callback_id: str = ""
    callback_data: str = ""
    message_id: int = 0  # the user's message, or the bot message a button is on
    # For a button: the kind of the message it is on (TEXT: its text can be edited; a
    # voice message, video note or sticker has neither text nor caption to edit).
    button_on: Kind | None = None
    file_id: str = ""  # largest photo size, or the document/sticker/voice
    file_unique_id: str = ""
    file_size: int = 0
    mime_type: str = ""
    duration: int = 0  # seconds, for a voice message, video note or video
    latitude: float = 0.0
    longitude: float = 0.0


def _message_kind(message: dict[str, Any]) -> tuple[Kind, dict[str, Any]]:
    """The kind of a message and the media object it carries (empty when none)."""
    if message.get("photo"):
        return Kind.PHOTO, max(
            message["photo"],
            key=lambda size: size.get("file_size") or size.get("width", 0) * size.get("height", 0),
        )
    for kind in (
        Kind.DOCUMENT,
        Kind.STICKER,
        Kind.VOICE,
        Kind.VIDEO_NOTE,
        Kind.VIDEO,
        Kind.ANIMATION,
        Kind.AUDIO,
    ):
        if kind.value in message:
            return kind, message[kind.value]
    if "location" in message:
        return Kind.LOCATION, message["location"]
    if "contact" in message:
        return Kind.CONTACT, message["contact"]
    text = message.get("text")
    if isinstance(text, str):
        return (Kind.COMMAND if text.startswith("/") else Kind.TEXT), {}
    return Kind.OTHER, {}


def _button_message_kind(message: dict[str, Any]) -> Kind | None:
    """The kind of the message a button was pressed on (a command's text is a text)."""
    if not message:
        return None
    kind, _ = _message_kind(message)
    return Kind.TEXT if kind is Kind.COMMAND else kind


def _group(update_id: int, sender: dict[str, Any], chat: dict[str, Any]) -> Incoming:
    return Incoming(
        update_id=update_id, user_id=int(sender["id"]), chat_id=int(chat["id"]), kind=Kind.GROUP
    )


def parse_update(update: dict[str, Any]) -> Incoming | None:
    """The Incoming an update carries, or None for updates that come from no private user.
    The bot serves private chats only: from anywhere else an update is Kind.GROUP (the bot
    leaves), or None when the bot was removed from there."""
    update_id = int(update["update_id"])
    if "callback_query" in update:
        query = update["callback_query"]
        sender = query["from"]
        message = query.get("message") or {}
        chat = message.get("chat") or {}
        if chat and chat.get("type") != "private":
            return _group(update_id, sender, chat)
        return Incoming(
            update_id=update_id,
            user_id=int(sender["id"]),
            chat_id=int((message.get("chat") or {}).get("id", sender["id"])),
            kind=Kind.CALLBACK,
            language_code=sender.get("language_code"),
            username=sender.get("username"),
            first_name=sender.get("first_name", ""),
            callback_id=str(query["id"]),
            callback_data=str(query.get("data") or ""),
            message_id=int(message.get("message_id", 0)),
            button_on=_button_message_kind(message),
        )
    if "my_chat_member" in update:
        member = update["my_chat_member"]
        status = (member.get("new_chat_member") or {}).get("status")
        chat = member.get("chat") or {}
        if chat.get("type") != "private":
            present = status in ("member", "administrator", "restricted")
            return _group(update_id, member["from"], chat) if present else None
        kind = Kind.BOT_BLOCKED if status == "kicked" else Kind.BOT_UNBLOCKED
        sender = member["from"]
        return Incoming(
            update_id=update_id,
            user_id=int(sender["id"]),
            chat_id=int(chat["id"]),
            kind=kind,
            language_code=sender.get("language_code"),
        )
    message = update.get("message")
    if not message or "from" not in message:
        return None
    chat = message.get("chat") or {}
    if chat.get("type") != "private":
        return _group(update_id, message["from"], chat) if chat else None
    sender = message["from"]
    kind, media = _message_kind(message)
    text = message.get("text") or message.get("caption") or ""
    command = ""
    if kind is Kind.COMMAND:
        head, _, rest = text.partition(" ")
        command = head[1:].split("@", 1)[0].lower()
        text = rest.strip()
    return Incoming(
        update_id=update_id,
        user_id=int(sender["id"]),
        chat_id=int(message["chat"]["id"]),
        kind=kind,
        language_code=sender.get("language_code"),
        username=sender.get("username"),
        first_name=sender.get("first_name", ""),
        text=text,
        command=command,
        message_id=int(message.get("message_id", 0)),
        file_id=str(media.get("file_id", "")),
        file_unique_id=str(media.get("file_unique_id", "")),
        file_size=int(media.get("file_size") or 0),
        mime_type=str(media.get("mime_type", "image/jpeg" if kind is Kind.PHOTO else "")),
        duration=int(media.get("duration") or 0),
        latitude=float(media.get("latitude", 0.0)) if kind is Kind.LOCATION else 0.0,
        longitude=float(media.get("longitude", 0.0)) if kind is Kind.LOCATION else 0.0,
    )


def user_of(update: dict[str, Any]) -> int | None:
    """The id of the user an update belongs to, for sharding; None when it has none."""
    for field in (
        "message",
        "edited_message",
        "callback_query",
        "my_chat_member",
        "inline_query",
        "pre_checkout_query",
        "shipping_query",
        "chosen_inline_result",
        "poll_answer",
        "chat_member",
        "chat_join_request",
    ):
        body = update.get(field)
        if isinstance(body, dict):
            sender = body.get("from") or body.get("user")
            if isinstance(sender, dict) and "id" in sender:
                return int(sender["id"])
    return None
