"""Outgoing Bot API calls as plain data, built by pure code and sent by the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TEXT_MAX = 4096
CAPTION_MAX = 1024
# Telegram's 🎉 message effect; effects work in private chats only, which are all the bot has.
EFFECT_CONFETTI = "5046509860389126442"

Keyboard = list[list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Reply:
    method: str
    params: dict[str, Any]

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _markup(keyboard: Keyboard | None) -> dict[str, Any]:
    return {"reply_markup": {"inline_keyboard": keyboard}} if keyboard else {}


def button(text: str, data: str) -> dict[str, Any]:
    return {"text": text, "callback_data": data}


def message(chat_id: int, text: str, keyboard: Keyboard | None = None) -> Reply:
    return Reply(
        "sendMessage", {"chat_id": chat_id, "text": _clip(text, TEXT_MAX), **_markup(keyboard)}
    )


def message_with_reply_keyboard(chat_id: int, text: str, rows: list[list[dict[str, Any]]]) -> Reply:
    return Reply(
        "sendMessage",
        {
            "chat_id": chat_id,
            "text": _clip(text, TEXT_MAX),
            "reply_markup": {"keyboard": rows, "resize_keyboard": True, "one_time_keyboard": True},
        },
    )


def message_removing_keyboard(chat_id: int, text: str) -> Reply:
    return Reply(
        "sendMessage",
        {
            "chat_id": chat_id,
            "text": _clip(text, TEXT_MAX),
            "reply_markup": {"remove_keyboard": True},
        },
    )


def photo(chat_id: int, file_id: str, caption: str, keyboard: Keyboard | None = None) -> Reply:
    return Reply(
        "sendPhoto",
        {
            "chat_id": chat_id,
            "photo": file_id,
            "caption": _clip(caption, CAPTION_MAX),
            **_markup(keyboard),
        },
    )


def video(chat_id: int, file_id: str, caption: str, keyboard: Keyboard | None = None) -> Reply:
    return Reply(
        "sendVideo",
        {
            "chat_id": chat_id,
            "video": file_id,
            "caption": _clip(caption, CAPTION_MAX),
            **_markup(keyboard),
        },
    )


def voice(chat_id: int, file_id: str, caption: str, keyboard: Keyboard | None = None) -> Reply:
    return Reply(
        "sendVoice",
        {
            "chat_id": chat_id,
            "voice": file_id,
            "caption": _clip(caption, CAPTION_MAX),
            **_markup(keyboard),
        },
    )


def video_note(chat_id: int, file_id: str, keyboard: Keyboard | None = None) -> Reply:
    """A round video; Telegram gives it no caption, only buttons."""
    return Reply("sendVideoNote", {"chat_id": chat_id, "video_note": file_id, **_markup(keyboard)})


def album(
    chat_id: int, file_ids: list[str], caption: str, video_file_id: str | None = None
) -> Reply:
    """A media group of photos (and a video last); Telegram shows the first item's caption
    under the album."""
    media = [{"type": "photo", "media": file_id} for file_id in file_ids]
    if video_file_id:
        media.append({"type": "video", "media": video_file_id})
    media[0]["caption"] = _clip(caption, CAPTION_MAX)
    return Reply("sendMediaGroup", {"chat_id": chat_id, "media": media})


def leave_chat(chat_id: int) -> Reply:
    return Reply("leaveChat", {"chat_id": chat_id})


def answer_callback(callback_id: str, text: str | None = None, alert: bool = False) -> Reply:
    params: dict[str, Any] = {"callback_query_id": callback_id}
    if text:
        params["text"] = _clip(text, 200)
        params["show_alert"] = alert
    return Reply("answerCallbackQuery", params)


def edit_keyboard(chat_id: int, message_id: int, keyboard: Keyboard | None) -> Reply:
    return Reply(
        "editMessageReplyMarkup",
        {
            "chat_id": chat_id,
            "message_id": message_id,
            "reply_markup": {"inline_keyboard": keyboard or []},
        },
    )


def edit_text(chat_id: int, message_id: int, text: str, keyboard: Keyboard | None) -> Reply:
    """A text message of the bot's made to say ``text`` with ``keyboard`` (none: no buttons)."""
    return Reply(
        "editMessageText",
        {
            "chat_id": chat_id,
            "message_id": message_id,
            "text": _clip(text, TEXT_MAX),
            "reply_markup": {"inline_keyboard": keyboard or []},
        },
    )


def as_edit(send: Reply, message_id: int) -> Reply | None:
    """The edit that turns message ``message_id`` (a text message) into what ``send`` would
    send, or None when an edit cannot show it (not a text, or a reply keyboard)."""
    params = send.params
    markup = params.get("reply_markup") or {}
    if send.method != "sendMessage" or set(markup) - {"inline_keyboard"}:
        return None
    return edit_text(params["chat_id"], message_id, params["text"], markup.get("inline_keyboard"))


def as_media_edit(send: Reply, message_id: int) -> Reply | None:
    """The edit that turns message ``message_id`` (a photo or a video) into the photo or video
    ``send`` would send, with its caption and buttons; None for anything else."""
    kinds = {"sendPhoto": "photo", "sendVideo": "video"}
    kind = kinds.get(send.method)
    if kind is None:
        return None
    params = send.params
    media = {"type": kind, "media": params[kind], "caption": params.get("caption", "")}
    markup = params.get("reply_markup") or {}
    return Reply(
        "editMessageMedia",
        {
            "chat_id": params["chat_id"],
            "message_id": message_id,
            "media": media,
            "reply_markup": {"inline_keyboard": markup.get("inline_keyboard") or []},
        },
    )


def copy(
    chat_id: int,
    from_chat_id: int,
    message_id: int,
    caption: str | None = None,
    *,
    protect: bool = False,
) -> Reply:
    """A copy of a message; protected, Telegram lets the recipient neither forward nor save it."""
    params: dict[str, Any] = {
        "chat_id": chat_id,
        "from_chat_id": from_chat_id,
        "message_id": message_id,
    }
    if caption is not None:
        params["caption"] = _clip(caption, CAPTION_MAX)
    if protect:
        params["protect_content"] = True
    return Reply("copyMessage", params)


def with_effect(reply: Reply, effect_id: str) -> Reply:
    """The same send with a message effect (an animation Telegram plays as it arrives)."""
    return Reply(reply.method, {**reply.params, "message_effect_id": effect_id})
