"""The control half: a JSON API under ``/sandbox/`` for tests, benchmarks and the demo page.

Virtual users act here (send, press, block) and each action becomes a realistic Update for
the bot; chats can be read and waited on with server-side long polls (``wait`` seconds, the
answer comes as soon as the chat changes). Bytes travel base64-encoded in ``data_b64``.
Errors answer ``{"ok": false, "error": "..."}`` with a 4xx status.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from sandbox import flood as flood_mod
from sandbox.botapi import photo_from_bytes
from sandbox.errors import ApiError, ControlError
from sandbox.formatting import command_entities
from sandbox.media import DOCUMENT, STICKER, VIDEO, VIDEO_NOTE, VOICE
from sandbox.state import (
    JSON,
    SANDBOX_KEY,
    BotState,
    CallbackRecord,
    ChatState,
    GroupState,
    Outage,
    Sandbox,
    StoredMessage,
    UserState,
    dumps,
)

MAX_WAIT = 60.0
log = logging.getLogger("sandbox")
# Placeholder bytes for media a test sends without giving any (real files are not needed
# for stickers, voice notes and video notes: bots only pass their file_ids around).
_PLACEHOLDER = {
    STICKER: b"RIFF\x1c\x00\x00\x00WEBPVP8 sandbox-sticker",
    VOICE: b"OggS\x00\x02sandbox-voice",
    VIDEO_NOTE: b"\x00\x00\x00\x18ftypmp42sandbox-video-note",
    VIDEO: b"\x00\x00\x00\x18ftypmp42sandbox-video",
}
# A test asking for a medium of a given size gets the placeholder padded with zeros up to it
# (to try limits such as "too big" without sending the bytes); at most this much.
MAX_PADDED_SIZE = 64 * 1024 * 1024

ControlHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(body), status=status, content_type="application/json")


def _sandbox(request: web.Request) -> Sandbox:
    return request.app[SANDBOX_KEY]


async def _body(request: web.Request) -> JSON:
    if not request.can_read_body:
        return {}
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        raise ControlError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


def _bot(sandbox: Sandbox, request: web.Request, body: JSON | None = None) -> BotState:
    key = request.query.get("bot") or (body or {}).get("bot")
    bot = sandbox.bot(str(key) if key is not None else None)
    if bot is None:
        raise ControlError(
            f"no bot {key!r}; known: {[b.username for b in sandbox.bots.values()]}", 404
        )
    return bot


def _user(sandbox: Sandbox, request: web.Request) -> UserState:
    raw = request.match_info["user_id"]
    try:
        user = sandbox.users.get(int(raw))
    except ValueError:
        user = None
    if user is None:
        raise ControlError(f"no virtual user {raw}", 404)
    return user


def _float(body: JSON, name: str) -> float:
    value = body.get(name)
    if value is None:
        raise ControlError(f"{name} is required")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ControlError(f"{name} must be a number") from None


def _bytes(body: JSON, default: bytes | None = None) -> bytes:
    raw = body.get("data_b64")
    if raw is None:
        if default is None:
            raise ControlError("data_b64 is required")
        size = int(body.get("size") or 0)
        if not 0 <= size <= MAX_PADDED_SIZE:
            raise ControlError(f"size must be from 0 to {MAX_PADDED_SIZE}")
        return default + bytes(max(0, size - len(default)))
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ControlError("data_b64 is not valid base64") from None


def _wait_seconds(request: web.Request) -> float:
    try:
        return min(max(float(request.query.get("wait", "0")), 0.0), MAX_WAIT)
    except ValueError:
        raise ControlError("wait must be a number of seconds") from None


def handler(fn: ControlHandler) -> ControlHandler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except ControlError as exc:
            return _json({"ok": False, "error": exc.message, **exc.extra}, exc.status)
        except ApiError as exc:
            return _json({"ok": False, "error": exc.description}, 400)
        except (ValueError, TypeError) as exc:
            return _json({"ok": False, "error": f"bad parameter: {exc}"}, 400)
        except Exception as exc:
            log.exception("sandbox control call failed: %s", request.path)
            return _json({"ok": False, "error": f"sandbox bug: {exc!r}"}, 500)

    return wrapped


# ---------------------------------------------------------------------------- user actions


def _open_chat(bot: BotState, user: UserState) -> ChatState:
    chat = bot.chat_for(user)
    if chat.blocked:
        raise ControlError(
            f"{user.first_name} ({user.id}) has blocked the bot; unblock it first", 409
        )
    return chat


def _result(update: JSON, **ids: Any) -> JSON:
    return {"ok": True, "update_id": update["update_id"], "update": update, **ids}


def user_message(
    bot: BotState,
    user: UserState,
    content: JSON,
    *,
    reply_to: int | None = None,
) -> JSON:
    """The user sends a message; the bot gets a ``message`` update."""
    chat = _open_chat(bot, user)
    target: StoredMessage | None = None
    if reply_to is not None:
        target = chat.messages.get(reply_to)
        if target is None or target.deleted:
            raise ControlError(f"no message {reply_to} to reply to in this chat", 404)
    chat.started = True
    stored = chat.add_message(outgoing=False, method=None, content=content, reply_to=target)
    update = bot.enqueue("message", user.id, stored.data)
    return _result(update, message_id=stored.message_id)


def _buttons(markup: JSON | None, key: str) -> list[JSON]:
    if not markup:
        return []
    return [b for row in markup.get(key, []) for b in row if isinstance(b, dict)]


def _latest_inline(chat: ChatState) -> StoredMessage | None:
    for message in reversed(chat.messages.values()):
        if message.outgoing and not message.deleted and "reply_markup" in message.data:
            return message
    return None


def _texts(buttons: list[JSON]) -> list[str]:
    return [str(b.get("text")) for b in buttons]


def callback_query(
    bot: BotState,
    user: UserState,
    chat: ChatState,
    message_id: int,
    data: str | None,
    *,
    button_text: str | None,
    forged: bool,
) -> JSON:
    message = chat.messages.get(message_id)
    if message is not None and not message.deleted:
        message_obj: JSON = message.data
    else:
        # What Telegram sends for a message the bot can no longer see: InaccessibleMessage.
        message_obj = {"chat": user.chat_dict(), "message_id": message_id, "date": 0}
    record = CallbackRecord(
        id=bot.next_callback_id(),
        user_id=user.id,
        message_id=message_id,
        data=data,
        button_text=button_text,
        forged=forged,
        pressed_at=time.time(),
        version=0,
    )
    bot.callbacks[record.id] = record
    chat.callbacks.append(record)
    record.version = chat.bump()
    body: JSON = {
        "id": record.id,
        "from": user.user_dict(),
        "message": message_obj,
        "chat_instance": str((bot.id * 1_000_003 + user.id) % 10**18),
    }
    if data is not None:
        body["data"] = data
    update = bot.enqueue("callback_query", user.id, body)
    return _result(update, callback_query_id=record.id, message_id=message_id)


def press(bot: BotState, user: UserState, body: JSON) -> JSON:
    """The user presses a button by its text: inline (latest keyboard) or reply keyboard."""
    text = body.get("text")
    if not isinstance(text, str):
        raise ControlError("text (the button's label) is required")
    kind = body.get("kind", "any")
    chat = _open_chat(bot, user)
    message_id = body.get("message_id")
    if message_id is not None:
        message = chat.messages.get(int(message_id))
        if message is None or message.deleted or not message.outgoing:
            raise ControlError(f"no bot message {message_id} in this chat", 404)
        target: StoredMessage | None = message
    else:
        target = _latest_inline(chat) if kind in ("any", "inline") else None
    inline = _buttons(target.data.get("reply_markup") if target else None, "inline_keyboard")
    button = next((b for b in inline if b.get("text") == text), None)
    if button is not None and target is not None:
        if "callback_data" not in button:
            raise ControlError(
                f'button "{text}" has no callback_data (it is a '
                f"{next(k for k in button if k != 'text')} button); pressing it sends nothing"
            )
        return callback_query(
            bot,
            user,
            chat,
            target.message_id,
            button["callback_data"],
            button_text=text,
            forged=False,
        )
    reply = (
        _buttons(chat.reply_keyboard, "keyboard") if message_id is None and kind != "inline" else []
    )
    button = next((b for b in reply if b.get("text") == text), None)
    if button is None:
        where = (
            f"the inline keyboard of message {target.message_id} has {_texts(inline)}"
            if target is not None
            else "no bot message has an inline keyboard"
        )
        raise ControlError(
            f'{user.first_name} sees no button "{text}": {where}; '
            f"the reply keyboard has {_texts(reply) if chat.reply_keyboard else 'nothing'}",
            404,
        )
    if button.get("request_location"):
        if body.get("latitude") is None or body.get("longitude") is None:
            raise ControlError(f'button "{text}" requests a location: give latitude and longitude')
        content: JSON = {
            "location": {
                "latitude": _float(body, "latitude"),
                "longitude": _float(body, "longitude"),
            }
        }
    elif button.get("request_contact"):
        content = {"contact": _own_contact(user, body.get("phone_number"))}
    else:
        content = _text_content(text)
    return user_message(bot, user, content)


def _own_contact(user: UserState, phone: Any) -> JSON:
    contact: JSON = {
        "phone_number": str(phone or user.phone_number or f"+1555{user.id % 10**7:07d}"),
        "first_name": user.first_name,
        "user_id": user.id,
    }
    if user.last_name:
        contact["last_name"] = user.last_name
    return contact


def _text_content(text: str) -> JSON:
    content: JSON = {"text": text}
    entities = command_entities(text)
    if entities:
        content["entities"] = entities
    return content


# A deep link's payload as Telegram passes it on (https://t.me/<bot>?start=<payload>).
START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")


def start_command(bot: BotState, url: str) -> str:
    """What a Telegram client sends when a person opens the bot's deep link and presses
    Start: /start with the payload, or a plain /start for a payload Telegram does not pass."""
    parsed = urlsplit(url)
    if (parsed.scheme, parsed.netloc) != ("https", "t.me") or parsed.path.strip(
        "/"
    ).lower() != bot.username.lower():
        raise ControlError(f"{url!r} is not a link to @{bot.username}")
    payload = parse_qs(parsed.query).get("start", [""])[0]
    return f"/start {payload}" if START_PAYLOAD.fullmatch(payload) else "/start"


def add_to_group(bot: BotState, user: UserState, title: str) -> JSON:
    """The user makes a group and adds the bot: the bot gets my_chat_member for the group."""
    group = GroupState(-(10**12) - len(bot.groups) - 1, title)
    bot.groups[group.id] = group
    body = {
        "chat": group.chat_dict(),
        "from": user.user_dict(),
        "date": int(time.time()),
        "old_chat_member": {"user": bot.user_dict(), "status": "left"},
        "new_chat_member": {"user": bot.user_dict(), "status": "member"},
    }
    return {**_result(bot.enqueue("my_chat_member", user.id, body)), "group_id": group.id}


def group_text(bot: BotState, user: UserState, group_id: int, text: str) -> JSON:
    """The user writes in a group; the bot gets it only while it is a member."""
    group = bot.groups.get(group_id)
    if group is None:
        raise ControlError(f"no group {group_id}", 404)
    if not text.strip():
        raise ControlError("text must be a non-empty string")
    if not group.bot_member:
        return {"ok": True, "update_id": None, "update": None}
    body = {
        "message_id": int(time.time() * 1000) % 10**9,
        "from": user.user_dict(),
        "chat": group.chat_dict(),
        "date": int(time.time()),
        **_text_content(text),
    }
    return _result(bot.enqueue("message", user.id, body))


def member_change(bot: BotState, user: UserState, *, block: bool) -> JSON:
    chat = bot.chat_for(user)
    if chat.blocked == block:
        return {"ok": True, "update_id": None, "update": None, "changed": False}
    chat.blocked = block
    chat.bump()
    member = {"user": bot.user_dict(), "status": "member"}
    kicked = {"user": bot.user_dict(), "status": "kicked", "until_date": 0}
    body = {
        "chat": user.chat_dict(),
        "from": user.user_dict(),
        "date": int(time.time()),
        "old_chat_member": member if block else kicked,
        "new_chat_member": kicked if block else member,
    }
    return {**_result(bot.enqueue("my_chat_member", user.id, body)), "changed": True}


def _media_meta(action: str, body: JSON) -> JSON:
    """What the sandbox records of a sticker, voice message, video note or video a user sends."""
    if action == STICKER:
        return {"emoji": str(body.get("emoji") or "🙂"), "width": 512, "height": 512}
    meta: JSON = {"duration": int(body.get("duration") or 1)}
    if action == VIDEO_NOTE:
        meta["width"] = int(body.get("length") or 240)
    if action == VIDEO:
        meta.update(
            width=int(body.get("width") or 640),
            height=int(body.get("height") or 480),
            mime_type=str(body.get("mime_type") or "video/mp4"),
        )
    return meta


async def user_action(
    sandbox: Sandbox, bot: BotState, user: UserState, action: str, body: JSON
) -> JSON:
    files = sandbox.files
    reply_to = body.get("reply_to")
    reply_to = int(reply_to) if reply_to is not None else None
    caption: JSON = {}
    if body.get("caption"):
        caption = {"caption": str(body["caption"])}
    if action == "text":
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ControlError("text must be a non-empty string (Telegram sends no empty messages)")
        return user_message(bot, user, _text_content(text), reply_to=reply_to)
    if action == "link":
        command = start_command(bot, str(body.get("url") or ""))
        return user_message(bot, user, _text_content(command), reply_to=reply_to)
    if action == "photo":
        _open_chat(bot, user)
        photo = await photo_from_bytes(sandbox, bot, _bytes(body, _default_photo()))
        return user_message(bot, user, {"photo": photo, **caption}, reply_to=reply_to)
    if action == "document":
        data = _bytes(body)
        stored = files.add(
            bot.token,
            DOCUMENT,
            data,
            file_name=str(body.get("file_name") or "file"),
            mime_type=str(body.get("mime_type") or "application/octet-stream"),
        )
        return user_message(
            bot, user, {"document": files.media_object(stored), **caption}, reply_to=reply_to
        )
    if action in (STICKER, VOICE, VIDEO_NOTE, VIDEO):
        meta = _media_meta(action, body)
        # Placeholders of different lengths are different recordings (the store gives the
        # same bytes one file, with the first one's duration).
        placeholder = _PLACEHOLDER[action] + (
            f"-{meta['duration']}s".encode() if "duration" in meta else b""
        )
        stored = files.add(bot.token, action, _bytes(body, placeholder), **meta)
        content = {action: files.media_object(stored)}
        if action in (VOICE, VIDEO):
            content.update(caption)
        return user_message(bot, user, content, reply_to=reply_to)
    if action == "location":
        location = {"latitude": _float(body, "latitude"), "longitude": _float(body, "longitude")}
        return user_message(bot, user, {"location": location}, reply_to=reply_to)
    if action == "contact":
        if body.get("phone_number") and body.get("first_name"):
            contact: JSON = {
                "phone_number": str(body["phone_number"]),
                "first_name": str(body["first_name"]),
            }
            for key in ("last_name", "user_id"):
                if body.get(key):
                    contact[key] = body[key]
        else:
            contact = _own_contact(user, body.get("phone_number"))
        return user_message(bot, user, {"contact": contact}, reply_to=reply_to)
    if action == "press":
        return press(bot, user, body)
    if action == "callback":
        chat = _open_chat(bot, user)
        message_id = body.get("message_id")
        if message_id is None:
            raise ControlError("message_id is required for a forged callback query")
        forged_data = body.get("data")
        return callback_query(
            bot,
            user,
            chat,
            int(message_id),
            None if forged_data is None else str(forged_data),
            button_text=None,
            forged=True,
        )
    if action == "edit":
        return edit_user_message(bot, user, body)
    if action == "add_to_group":
        return add_to_group(bot, user, str(body.get("title") or "Group"))
    if action == "group_text":
        return group_text(bot, user, int(body.get("group_id") or 0), str(body.get("text") or ""))
    if action == "block":
        return member_change(bot, user, block=True)
    if action == "unblock":
        return member_change(bot, user, block=False)
    raise ControlError(f"unknown action {action!r}", 404)


def edit_user_message(bot: BotState, user: UserState, body: JSON) -> JSON:
    chat = _open_chat(bot, user)
    message = chat.messages.get(int(body.get("message_id") or 0))
    if message is None or message.outgoing or message.deleted or "text" not in message.data:
        raise ControlError("message_id must name a text message this user sent", 404)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ControlError("text must be a non-empty string")
    data = message.data
    data.pop("entities", None)
    data.update(_text_content(text))
    now = time.time()
    data["edit_date"] = int(now)
    message.edits += 1
    message.edited_at = now
    chat.touch(message)
    update = bot.enqueue("edited_message", user.id, data)
    return _result(update, message_id=message.message_id)


_photo_cache: dict[str, bytes] = {}


def _default_photo() -> bytes:
    """A real 640x480 JPEG for tests that need "a photo" without caring which."""
    photo = _photo_cache.get("default")
    if photo is None:
        import io  # noqa: PLC0415

        from PIL import Image  # noqa: PLC0415

        out = io.BytesIO()
        Image.new("RGB", (640, 480), (200, 120, 160)).save(out, "JPEG", quality=85)
        photo = _photo_cache["default"] = out.getvalue()
    return photo


# ---------------------------------------------------------------------------- routes


@handler
async def health(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    return _json(
        {
            "ok": True,
            "bots": len(sandbox.bots),
            "users": len(sandbox.users),
            "uptime": time.time() - sandbox.started_at,
        }
    )


@handler
async def list_bots(request: web.Request) -> web.Response:
    return _json({"ok": True, "bots": [b.view() for b in _sandbox(request).bots.values()]})


@handler
async def add_bot(request: web.Request) -> web.Response:
    body = await _body(request)
    token = body.get("token")
    if not isinstance(token, str) or ":" not in token:
        raise ControlError("token like 123456:ABC... is required")
    bot = _sandbox(request).add_bot(token, body.get("username"), body.get("first_name"))
    return _json({"ok": True, "bot": bot.view()})


@handler
async def list_users(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    return _json({"ok": True, "users": [u.view() for u in sandbox.users.values()]})


@handler
async def create_user(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    body = await _body(request)
    bot = _bot(sandbox, request, body)
    user_id = body.get("id")
    if user_id is not None:
        user_id = int(user_id)
        if user_id in sandbox.users:
            raise ControlError(f"user {user_id} already exists", 409)
    user = sandbox.add_user(
        str(body.get("first_name") or "User"),
        user_id=user_id,
        last_name=body.get("last_name"),
        username=body.get("username"),
        language_code=body.get("language_code", "en"),
        is_premium=bool(body.get("is_premium")),
        phone_number=body.get("phone_number"),
    )
    bot.chat_for(user, started=bool(body.get("started")))
    return _json({"ok": True, "user": user.view()})


@handler
async def get_user(request: web.Request) -> web.Response:
    return _json({"ok": True, "user": _user(_sandbox(request), request).view()})


@handler
async def act(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    body = await _body(request)
    bot = _bot(sandbox, request, body)
    user = _user(sandbox, request)
    result = await user_action(sandbox, bot, user, request.match_info["action"], body)
    # When the update entered the sandbox, and the chat's version right after the user's own
    # change (both read before anything else runs on this loop): long-polling from that version
    # waits for the bot's reaction, not for the user's message.
    result = {**result, "acted_at": time.time()}
    chat = bot.chats.get(user.id)
    return _json({**result, "chat_version": chat.version} if chat is not None else result)


@handler
async def read_chat(request: web.Request) -> web.Response:
    """A chat's messages and callback answers changed since ``changed_since`` (long poll).
    ``until_sent=N`` and ``until_answered=ID`` make the poll wait on, up to ``wait``, until
    the bot has sent N messages in the chat and answered that callback query: one read for
    a whole reaction instead of one per message."""
    sandbox = _sandbox(request)
    bot = _bot(sandbox, request)
    user = _user(sandbox, request)
    chat = bot.chat_for(user)
    try:
        since = int(request.query.get("changed_since", "-1"))
        until_sent = int(request.query.get("until_sent", "0"))
    except ValueError:
        raise ControlError("changed_since and until_sent must be integers") from None
    until_answered = request.query.get("until_answered", "")

    def waiting() -> bool:
        return (
            chat.version <= since
            or chat.sent_by_bot < until_sent
            or (until_answered != "" and not chat.answered(until_answered))
        )

    wait = _wait_seconds(request)
    if waiting() and wait > 0:
        deadline = time.monotonic() + wait
        while waiting() and not sandbox.closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or bot.chats.get(user.id) is not chat:
                break
            await chat.signal.wait(remaining)
    return _json({"ok": True, **chat.view(since)})


@handler
async def get_group(request: web.Request) -> web.Response:
    bot = _bot(_sandbox(request), request)
    group = bot.groups.get(int(request.match_info["group_id"]))
    if group is None:
        raise ControlError("no such group", 404)
    return _json({"ok": True, **group.view()})


@handler
async def list_chats(request: web.Request) -> web.Response:
    """Every chat of a bot with its version; ``total`` only grows, for a page to long-poll."""
    sandbox = _sandbox(request)
    bot = _bot(sandbox, request)
    try:
        since = int(request.query.get("changed_since", "-1"))
    except ValueError:
        raise ControlError("changed_since must be an integer") from None
    wait = _wait_seconds(request)

    def total() -> int:
        return sum(c.version for c in bot.chats.values()) + len(bot.chats)

    deadline = time.monotonic() + wait
    while total() <= since and not sandbox.closing:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        await bot.activity.wait(remaining)
    chats = [
        {
            "user": chat.user.view(),
            "version": chat.version,
            "blocked": chat.blocked,
            "started": chat.started,
            "messages": len(chat.messages),
        }
        for chat in bot.chats.values()
    ]
    return _json({"ok": True, "total": total(), "chats": chats})


@handler
async def stats(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    bot = _bot(sandbox, request)
    return _json(
        {
            "ok": True,
            **bot.stats_view(),
            "users": len(sandbox.users),
            "files": len(sandbox.files),
            "process_cpu_seconds": time.process_time(),
        }
    )


@handler
async def reset_stats(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    _bot(sandbox, request, await _body(request)).reset_stats()
    return _json({"ok": True})


@handler
async def get_flood(request: web.Request) -> web.Response:
    bot = _bot(_sandbox(request), request)
    return _json({"ok": True, "flood": bot.flood.config.as_dict()})


@handler
async def set_flood(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    body = await _body(request)
    bot = _bot(sandbox, request, body)
    apply_flood_config(bot.flood.config, body)
    bot.flood.reset(counters=False)
    return _json({"ok": True, "flood": bot.flood.config.as_dict()})


def apply_flood_config(config: flood_mod.FloodConfig, body: JSON) -> None:
    for name in ("global_rate", "global_burst", "chat_rate", "chat_burst"):
        if body.get(name) is not None:
            value = float(body[name])
            if value <= 0:
                raise ControlError(f"{name} must be positive")
            setattr(config, name, value)
    for name in ("enabled", "enforce_retry_after"):
        if body.get(name) is not None:
            setattr(config, name, bool(body[name]))


@handler
async def force_429(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    body = await _body(request)
    bot = _bot(sandbox, request, body)
    count = int(body.get("count", 1))
    retry_after = int(body.get("retry_after", 1))
    if count < 1 or retry_after < 1:
        raise ControlError("count and retry_after must be at least 1")
    chat_id = body.get("chat_id")
    methods = body.get("methods")
    rule = bot.flood.force(
        count,
        retry_after,
        int(chat_id) if chat_id is not None else None,
        frozenset(str(m) for m in methods) if methods else None,
    )
    return _json({"ok": True, "rule": rule.as_dict()})


@handler
async def set_outage(request: web.Request) -> web.Response:
    """Telegram failing for a while: {seconds, status (5xx, default 500), methods?, hang?};
    with hang, calls are held unanswered instead and their connections dropped when it ends;
    seconds 0 ends it."""
    sandbox = _sandbox(request)
    body = await _body(request)
    bot = _bot(sandbox, request, body)
    seconds = float(body.get("seconds", 0))
    status = int(body.get("status", 500))
    if seconds < 0 or not 500 <= status <= 599:
        raise ControlError("seconds must be at least 0, status a 5xx")
    methods = body.get("methods")
    bot.outage = Outage(
        time.monotonic() + seconds,
        status,
        frozenset(str(m) for m in methods) if methods else None,
        hang=bool(body.get("hang", False)),
    )
    return _json({"ok": True})


@handler
async def reset_flood(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    body = await _body(request)
    bot = _bot(sandbox, request, body)
    bot.flood.reset(counters=bool(body.get("counters", True)))
    return _json({"ok": True})


@handler
async def download(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    try:
        stored = sandbox.files.get(None, request.match_info["file_id"])
    except ApiError:
        raise ControlError(f"no file {request.match_info['file_id']!r}", 404) from None
    if request.query.get("info"):
        return _json(
            {
                "ok": True,
                **stored.file_object(),
                "kind": stored.kind,
                "mime_type": stored.mime_type,
                "file_name": stored.file_name,
                "width": stored.width,
                "height": stored.height,
                "bot_token": stored.owner,
            }
        )
    return web.Response(
        body=stored.data, content_type=stored.mime_type or "application/octet-stream"
    )


@handler
async def pending_updates(request: web.Request) -> web.Response:
    """The updates not yet confirmed by the bot; with ``max_pending`` and ``wait`` a long poll
    until at most that many are left (the bot caught up)."""
    sandbox = _sandbox(request)
    bot = _bot(sandbox, request)
    wait = _wait_seconds(request)
    limit = request.query.get("max_pending")
    if limit is not None:
        deadline = time.monotonic() + wait
        while bot.pending_count > int(limit) and not sandbox.closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await bot.pending_signal.wait(remaining)
    updates = [json.loads(p.payload) for p in bot.pending] if request.query.get("full") else None
    return _json({"ok": True, "pending": bot.pending_count, "updates": updates})


@handler
async def redeliver(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    bot = _bot(sandbox, request, await _body(request))
    update_id = int(request.match_info["update_id"])
    if not bot.redeliver(update_id):
        raise ControlError(f"update {update_id} is not in the log", 404)
    return _json({"ok": True})


@handler
async def reset(request: web.Request) -> web.Response:
    await _sandbox(request).reset()
    return _json({"ok": True})


@handler
async def poller(request: web.Request) -> web.Response:
    """Whether a getUpdates is waiting now; with ``wait``, a long poll until one is."""
    sandbox = _sandbox(request)
    bot = _bot(sandbox, request)
    deadline = time.monotonic() + _wait_seconds(request)
    while bot.active_poll is None and not sandbox.closing:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        await bot.poll_signal.wait(remaining)
    return _json({"ok": True, "polling": bot.active_poll is not None})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/sandbox/health", health)
    r.add_get("/sandbox/bots", list_bots)
    r.add_post("/sandbox/bots", add_bot)
    r.add_get("/sandbox/users", list_users)
    r.add_post("/sandbox/users", create_user)
    r.add_get("/sandbox/users/{user_id}", get_user)
    r.add_get("/sandbox/users/{user_id}/chat", read_chat)
    r.add_post("/sandbox/users/{user_id}/{action}", act)
    r.add_get("/sandbox/chats", list_chats)
    r.add_get("/sandbox/groups/{group_id}", get_group)
    r.add_get("/sandbox/stats", stats)
    r.add_post("/sandbox/stats/reset", reset_stats)
    r.add_get("/sandbox/flood", get_flood)
    r.add_post("/sandbox/flood", set_flood)
    r.add_post("/sandbox/flood/force", force_429)
    r.add_post("/sandbox/flood/reset", reset_flood)
    r.add_post("/sandbox/outage", set_outage)
    r.add_get("/sandbox/files/{file_id}", download)
    r.add_get("/sandbox/updates", pending_updates)
    r.add_post("/sandbox/updates/{update_id}/redeliver", redeliver)
    r.add_post("/sandbox/reset", reset)
    r.add_get("/sandbox/poller", poller)
