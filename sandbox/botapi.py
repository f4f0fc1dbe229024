"""The Bot API half of the server: ``/bot{token}/{method}`` and ``/file/bot{token}/{path}``.

Parameters come the way Telegram accepts them: query string, JSON body, url-encoded form
(what python-telegram-bot sends; every value a string, objects JSON-encoded) or multipart
(uploads). Each method is a coroutine taking a ``Call`` and returning the ``result`` value,
or raising ``ApiError`` for Telegram's error envelope.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import mimetypes
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from sandbox import errors
from sandbox.errors import ApiError, bad_request, too_many_requests
from sandbox.formatting import EntityParseError, render
from sandbox.media import (
    ANIMATION,
    AUDIO,
    DEFAULT_MIME,
    DOCUMENT,
    MAX_DOWNLOAD_SIZE,
    PHOTO,
    STICKER,
    VIDEO,
    VIDEO_NOTE,
    VOICE,
    StoredFile,
    make_photo_sizes,
)
from sandbox.state import (
    JSON,
    SANDBOX_KEY,
    BotState,
    ChatState,
    PollTicket,
    Sandbox,
    StoredMessage,
    dumps,
)
from sandbox.webhook import Webhook

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_POLL_TIMEOUT = 50.0
# Methods that put a message into a chat: the ones Telegram's flood limits count.
SEND_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendSticker",
        "sendVoice",
        "sendVideoNote",
        "sendVideo",
        "sendAudio",
        "sendAnimation",
        "sendLocation",
        "sendContact",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_MEDIA_KEYS = ("photo", "document", "sticker", "voice", "video_note", "video", "audio", "animation")
_COPY_KEYS = (
    "text",
    "entities",
    *_MEDIA_KEYS,
    "caption",
    "caption_entities",
    "location",
    "contact",
)
_JSON_HEADERS = {"Content-Type": "application/json"}
_media_group_ids = itertools.count(int(time.time()) * 1000)
log = logging.getLogger("sandbox")


@dataclass(slots=True)
class Upload:
    filename: str | None
    content_type: str | None
    data: bytes


class Raw:
    """A result already encoded as JSON (getUpdates joins pre-encoded updates)."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body


class Params:
    """A method's parameters with Telegram's lenient typing (``"42"`` is an integer)."""

    __slots__ = ("files", "values")

    def __init__(self, values: dict[str, Any], files: dict[str, Upload]) -> None:
        self.values = values
        self.files = files

    def has(self, name: str) -> bool:
        return name in self.values or name in self.files

    def get_str(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, dict | list):
            return json.dumps(value)
        return str(value)

    def get_int(self, name: str, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is empty")
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value))
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def get_float(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def get_json(self, name: str, what: str | None = None) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {what or name} JSON object") from None
        return value

    def get_file(self, name: str) -> Upload | str | None:
        upload = self.files.get(name)
        if upload is not None:
            return upload
        value = self.get_str(name)
        if value is None or value == "":
            return None
        return self.attachment(value)

    def attachment(self, value: str) -> Upload | str:
        if value.startswith("attach://"):
            upload = self.files.get(value[len("attach://") :])
            if upload is None:
                raise bad_request("media not found")
            return upload
        return value


@dataclass(slots=True)
class Call:
    sandbox: Sandbox
    bot: BotState
    params: Params
    method: str


Handler = Callable[[Call], Awaitable[Any]]
METHODS: dict[str, tuple[str, Handler]] = {}


H = TypeVar("H", bound=Handler)


def method(*names: str) -> Callable[[H], H]:
    def register(handler: H) -> H:
        for name in names:
            METHODS[name.lower()] = (name, handler)
        return handler

    return register


# ---------------------------------------------------------------------------- request plumbing


async def read_params(request: web.Request) -> Params:
    values: dict[str, Any] = dict(request.query) if request.query_string else {}
    files: dict[str, Upload] = {}
    if request.can_read_body:
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = json.loads(await request.read() or b"{}")
            except ValueError:
                raise bad_request("can't parse JSON body") from None
            if not isinstance(body, dict):
                raise bad_request("JSON body must be an object")
            values.update(body)
        elif ctype.startswith("multipart/"):
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    files[part.name] = Upload(
                        part.filename,
                        part.headers.get(aiohttp.hdrs.CONTENT_TYPE),
                        bytes(await part.read()),
                    )
                else:
                    values[part.name] = await part.text()
        else:
            raw = await request.read()
            if raw:
                values.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return Params(values, files)


def _error_response(error: ApiError) -> web.Response:
    return web.Response(body=dumps(error.envelope()), status=error.code, headers=_JSON_HEADERS)


async def handle_method(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    bot = sandbox.bots.get(request.match_info["token"])
    if bot is None:
        return _error_response(ApiError(401, errors.UNAUTHORIZED))
    entry = METHODS.get(request.match_info["method"].lower())
    if entry is None:
        return _error_response(ApiError(404, errors.NOT_FOUND))
    name, handler = entry
    bot.stats.calls[name] += 1
    outage = bot.failing(name)
    if outage is not None and outage.hang:
        # A hung server: nothing answers until the outage ends, then the connection drops
        # (the call was never carried out).
        bot.stats.errors["Hang"] += 1
        await asyncio.sleep(max(0.0, outage.until - time.monotonic()))
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=504)  # written to nobody: the connection is gone
    if outage is not None:
        bot.stats.errors["Outage"] += 1
        status = outage.status
        return _error_response(ApiError(status, f"Internal Server Error: outage ({status})"))
    try:
        params = await read_params(request)
        result = await handler(Call(sandbox, bot, params, name))
    except ApiError as error:
        key = error.description
        if error.code == 429:
            key = "Too Many Requests"
        elif error.code == 409:
            bot.stats.conflicts_409 += 1
        bot.stats.errors[key] += 1
        return _error_response(error)
    except Exception as exc:  # a sandbox bug must not look like a dropped connection
        log.exception("sandbox failed in %s", name)
        bot.stats.errors["Internal Server Error"] += 1
        return _error_response(ApiError(500, f"Internal Server Error: sandbox bug: {exc!r}"))
    if isinstance(result, Raw):
        body = b'{"ok":true,"result":' + result.body + b"}"
    else:
        body = dumps({"ok": True, "result": result})
    return web.Response(body=body, headers=_JSON_HEADERS)


async def handle_file(request: web.Request) -> web.StreamResponse:
    sandbox = request.app[SANDBOX_KEY]
    bot = sandbox.bots.get(request.match_info["token"])
    if bot is None:
        return _error_response(ApiError(401, errors.UNAUTHORIZED))
    stored = sandbox.files.by_path(bot.token, request.match_info["path"])
    if stored is None:
        return _error_response(ApiError(404, errors.NOT_FOUND))
    return web.Response(
        body=stored.data,
        content_type=stored.mime_type or _guess_mime(stored.file_path),
    )


def _guess_mime(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", "/bot{token}/{method}", handle_method)
    app.router.add_get("/file/bot{token}/{path:.+}", handle_file)


# ---------------------------------------------------------------------------- shared checks


def find_chat(c: Call, name: str = "chat_id") -> ChatState:
    raw = c.params.values.get(name)
    if raw is None or raw == "":
        raise bad_request(f"{name} is empty")
    try:
        chat_id = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, errors.CHAT_NOT_FOUND) from None
    chat = c.bot.chats.get(chat_id)
    if chat is None:
        user = c.sandbox.users.get(chat_id)
        if user is None:
            raise ApiError(400, errors.CHAT_NOT_FOUND)
        chat = c.bot.chat_for(user)
    return chat


def writable_chat(c: Call, name: str = "chat_id") -> ChatState:
    chat = find_chat(c, name)
    if chat.blocked:
        raise ApiError(403, errors.BLOCKED)
    if not chat.started and c.sandbox.options.require_start:
        raise ApiError(403, errors.CANT_INITIATE)
    return chat


def check_flood(c: Call, chat: ChatState) -> None:
    retry_after = c.bot.flood.check(
        c.method, chat.user.id, time.monotonic(), c.method in SEND_METHODS
    )
    if retry_after is not None:
        raise too_many_requests(retry_after)


def formatted(
    c: Call,
    text: str,
    *,
    mode_param: str = "parse_mode",
    entities_param: str = "entities",
) -> tuple[str, list[JSON]]:
    entities = c.params.get_json(entities_param)
    if entities is not None and not isinstance(entities, list):
        raise bad_request(f"can't parse {entities_param} JSON object")
    try:
        return render(text, c.params.get_str(mode_param), entities)
    except EntityParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None
    except ValueError:
        raise bad_request("unsupported parse_mode") from None


def text_content(c: Call) -> JSON:
    raw = c.params.get_str("text")
    if not raw:
        raise ApiError(400, errors.TEXT_EMPTY)
    text, entities = formatted(c, raw)
    if not text:
        raise ApiError(400, errors.TEXT_EMPTY)
    if len(text) > MAX_TEXT:
        raise ApiError(400, errors.TEXT_TOO_LONG)
    content: JSON = {"text": text}
    if entities:
        content["entities"] = entities
    return content


def caption_of(raw: str | None, c: Call, mode_param: str = "parse_mode") -> JSON:
    if not raw:
        return {}
    caption, entities = formatted(c, raw, mode_param=mode_param, entities_param="caption_entities")
    if len(caption) > MAX_CAPTION:
        raise ApiError(400, errors.CAPTION_TOO_LONG)
    content: JSON = {}
    if caption:
        content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
    return content


def _validate_inline(markup: JSON) -> JSON:
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if not button["text"]:
                raise bad_request("BUTTON_TEXT_INVALID")
            actions = [a for a in _INLINE_ACTIONS if a in button]
            if not actions:
                raise bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if "callback_data" in actions and (
                not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA
            ):
                raise ApiError(400, errors.BUTTON_DATA_INVALID)
            url = button.get("url")
            if "url" in actions and (
                not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://"))
            ):
                raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    return {"inline_keyboard": rows}


def _validate_reply_keyboard(markup: JSON) -> JSON:
    rows = markup.get("keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse reply keyboard markup JSON object")
    normalized: list[list[JSON]] = []
    for row in rows:
        out: list[JSON] = []
        for raw in row:
            button = {"text": raw} if isinstance(raw, str) else raw
            if not isinstance(button, dict) or not button.get("text"):
                raise bad_request("keyboard button text is empty")
            out.append(button)
        normalized.append(out)
    return {**markup, "keyboard": normalized}


def reply_markup(c: Call, *, inline_only: bool = False) -> tuple[JSON | None, JSON | None]:
    """(markup to echo in the Message, markup the sandbox records) for ``reply_markup``."""
    markup = c.params.get_json("reply_markup", "reply keyboard markup")
    if markup is None:
        return None, None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        inline = _validate_inline(markup)
        return inline, inline
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        return None, _validate_reply_keyboard(markup)
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return None, dict(markup)
    raise bad_request("can't parse reply keyboard markup JSON object")


def reply_target(c: Call, chat: ChatState) -> StoredMessage | None:
    params = c.params.get_json("reply_parameters")
    message_id: int | None
    allow_missing = c.params.get_bool("allow_sending_without_reply")
    if isinstance(params, dict):
        message_id = params.get("message_id")
        allow_missing = bool(params.get("allow_sending_without_reply", allow_missing))
    else:
        message_id = c.params.get_int("reply_to_message_id")
    if not message_id:
        return None
    target = chat.messages.get(int(message_id))
    if target is None or target.deleted:
        if allow_missing:
            return None
        raise ApiError(400, errors.REPLY_NOT_FOUND)
    return target


# Message effects every bot may use (the ids Telegram's clients offer); Telegram refuses others.
# Every chat of the sandbox is a private one, the only kind effects are allowed in.
MESSAGE_EFFECTS = {
    "5104841245755180586": "🔥",
    "5107584321108051014": "👍",
    "5044134455711629726": "❤️",
    "5046509860389126442": "🎉",
    "5104858069142078462": "👎",
    "5046589136895476101": "💩",
}


def send_options(c: Call) -> JSON:
    """What a send's message_effect_id and protect_content leave on the message, as Telegram
    shows them (effect_id, has_protected_content)."""
    options: JSON = {}
    effect = c.params.get_str("message_effect_id")
    if effect:
        if effect not in MESSAGE_EFFECTS:
            raise ApiError(400, errors.EFFECT_ID_INVALID)
        options["effect_id"] = effect
    if c.params.get_bool("protect_content"):
        options["has_protected_content"] = True
    return options


def deliver(c: Call, chat: ChatState, content: JSON, *, inline_only: bool = False) -> JSON:
    """Validate markup and reply, pass flood control, then add the bot's message."""
    inline, markup = reply_markup(c, inline_only=inline_only)
    reply = reply_target(c, chat)
    content = {**content, **send_options(c)}
    check_flood(c, chat)
    return chat.add_message(
        outgoing=True,
        method=c.method,
        content=content,
        markup=markup,
        inline_markup=inline,
        reply_to=reply,
    ).data


# ---------------------------------------------------------------------------- files


async def _fetch(c: Call, url: str) -> bytes:
    session = c.sandbox.http
    if session is None:
        raise bad_request("failed to get HTTP URL content")
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
            if response.status != 200:
                raise bad_request("failed to get HTTP URL content")
            return await response.read()
    except (aiohttp.ClientError, TimeoutError, OSError):
        raise bad_request("failed to get HTTP URL content") from None


async def photo_from_bytes(sandbox: Sandbox, bot: BotState, data: bytes) -> list[JSON]:
    if not data:
        raise bad_request("file must be non-empty")
    files = sandbox.files
    existing = files.find_photo(bot.token, data)
    if existing is None:
        sizes = await asyncio.to_thread(make_photo_sizes, data)
        existing = files.add_photo(bot.token, sizes)
    return [f.photo_size() for f in existing]


async def photo_input(c: Call, value: Upload | str | None) -> list[JSON]:
    if value is None:
        raise bad_request("there is no photo in the request")
    if isinstance(value, Upload):
        return await photo_from_bytes(c.sandbox, c.bot, value.data)
    if value.startswith(("http://", "https://")):
        return await photo_from_bytes(c.sandbox, c.bot, await _fetch(c, value))
    stored = c.sandbox.files.get_kind(c.bot.token, value, PHOTO)
    return c.sandbox.files.photo_sizes(stored)


async def file_input(
    c: Call, value: Upload | str | None, kind: str, name: str, **meta: Any
) -> StoredFile:
    files = c.sandbox.files
    if value is None:
        raise bad_request(f"there is no {name} in the request")
    if isinstance(value, str) and not value.startswith(("http://", "https://")):
        return files.get_kind(c.bot.token, value, kind)
    if isinstance(value, Upload):
        data, filename, ctype = value.data, value.filename, value.content_type
    else:
        data, filename, ctype = await _fetch(c, value), value.rsplit("/", 1)[-1], None
    if not data:
        raise bad_request("file must be non-empty")
    if ctype in (None, "application/octet-stream") and filename:
        ctype = mimetypes.guess_type(filename)[0] or ctype
    keep_name = kind in (DOCUMENT, VIDEO, AUDIO, ANIMATION)
    return files.add(
        c.bot.token,
        kind,
        data,
        file_name=filename if keep_name else None,
        mime_type=ctype or DEFAULT_MIME.get(kind),
        **meta,
    )


# ---------------------------------------------------------------------------- bot & updates


@method("getMe")
async def get_me(c: Call) -> JSON:
    return c.bot.me()


@method("logOut", "close")
async def log_out(c: Call) -> bool:
    return True


@method("getUpdates")
async def get_updates(c: Call) -> Raw:
    bot, p = c.bot, c.params
    bot.stats.get_updates_calls += 1
    bot.stats.last_get_updates_at = time.time()
    if bot.webhook is not None:
        raise ApiError(409, errors.WEBHOOK_CONFLICT)
    offset = p.get_int("offset")
    if offset:
        bot.confirm(offset)
    limit = min(max(p.get_int("limit") or 100, 1), 100)
    timeout = min(max(p.get_float("timeout") or 0.0, 0.0), MAX_POLL_TIMEOUT)
    _set_allowed_updates(bot, p.get_json("allowed_updates"))
    previous = bot.active_poll
    if previous is not None:
        if c.sandbox.options.conflict_policy == "reject_newer":
            raise ApiError(409, errors.POLL_CONFLICT)
        previous.wake("conflict")
    ticket = PollTicket()
    bot.active_poll = ticket
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            if ticket.reason == "conflict":
                raise ApiError(409, errors.POLL_CONFLICT)
            if ticket.reason == "webhook":
                raise ApiError(409, errors.WEBHOOK_CONFLICT)
            if bot.pending:
                batch = list(itertools.islice(bot.pending, limit))
                if bot.redeliveries:
                    for update in batch:
                        update.handed_out = True
                break
            remaining = deadline - loop.time()
            if remaining <= 0 or c.sandbox.closing:
                batch = []
                break
            ticket.event.clear()
            bot.poll_signal.notify()
            try:
                async with asyncio.timeout(remaining):
                    await ticket.event.wait()
            except TimeoutError:
                pass
    finally:
        if bot.active_poll is ticket:
            bot.active_poll = None
    bot.stats.updates_delivered += len(batch)
    return Raw(b"[" + b",".join(u.payload for u in batch) + b"]")


def _set_allowed_updates(bot: BotState, allowed: Any) -> None:
    if allowed is None:
        return
    if not isinstance(allowed, list):
        raise bad_request("can't parse allowed_updates JSON object")
    if allowed:
        bot.allowed_updates = frozenset(str(a) for a in allowed)
        bot.allowed_updates_list = [str(a) for a in allowed]
    else:
        from sandbox.state import DEFAULT_UPDATE_TYPES  # noqa: PLC0415

        bot.allowed_updates = DEFAULT_UPDATE_TYPES
        bot.allowed_updates_list = None


@method("setWebhook")
async def set_webhook(c: Call) -> bool:
    p, bot = c.params, c.bot
    url = p.get_str("url") or ""
    if not url:
        return await delete_webhook(c)
    if not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = p.get_str("secret_token")
    if secret is not None and (
        not 1 <= len(secret) <= 256
        or not all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in secret)
    ):
        raise bad_request("bad webhook: secret token contains unallowed characters")
    max_connections = min(max(p.get_int("max_connections") or 40, 1), 100)
    _set_allowed_updates(bot, p.get_json("allowed_updates"))
    if bot.webhook is not None:
        left = await bot.webhook.stop()
    else:
        left = list(bot.pending)
        bot.pending.clear()
    if p.get_bool("drop_pending_updates"):
        left = []
    sandbox = c.sandbox

    def session() -> aiohttp.ClientSession:
        assert sandbox.http is not None, "the sandbox's HTTP session is not running"
        return sandbox.http

    webhook = Webhook(
        bot,
        url,
        secret_token=secret,
        max_connections=max_connections,
        session=session,
        options=sandbox.options,
    )
    bot.webhook = webhook
    if bot.active_poll is not None:
        bot.active_poll.wake("webhook")
    for pending in left:
        webhook.push(pending)
    bot.pending_signal.notify()
    return True


@method("deleteWebhook")
async def delete_webhook(c: Call) -> bool:
    bot = c.bot
    if bot.webhook is not None:
        left = await bot.webhook.stop()
        bot.webhook = None
        bot.pending.extend(left)
        bot.redeliveries = sum(1 for p in bot.pending if p.redelivery)
    if c.params.get_bool("drop_pending_updates"):
        bot.pending.clear()
    bot.pending_signal.notify()
    return True


@method("getWebhookInfo")
async def get_webhook_info(c: Call) -> JSON:
    bot = c.bot
    if bot.webhook is not None:
        return bot.webhook.info()
    return {"url": "", "has_custom_certificate": False, "pending_update_count": len(bot.pending)}


# ---------------------------------------------------------------------------- sending


@method("sendMessage")
async def send_message(c: Call) -> JSON:
    chat = writable_chat(c)
    return deliver(c, chat, text_content(c))


@method("sendPhoto")
async def send_photo(c: Call) -> JSON:
    chat = writable_chat(c)
    caption = caption_of(c.params.get_str("caption"), c)
    photo = await photo_input(c, c.params.get_file("photo"))
    return deliver(c, chat, {"photo": photo, **caption})


async def _send_file(c: Call, kind: str, **meta: Any) -> JSON:
    chat = writable_chat(c)
    caption = caption_of(c.params.get_str("caption"), c) if kind != STICKER else {}
    stored = await file_input(c, c.params.get_file(kind), kind, kind, **meta)
    return deliver(c, chat, {kind: c.sandbox.files.media_object(stored), **caption})


@method("sendDocument")
async def send_document(c: Call) -> JSON:
    return await _send_file(c, DOCUMENT)


@method("sendSticker")
async def send_sticker(c: Call) -> JSON:
    return await _send_file(c, STICKER, emoji=c.params.get_str("emoji"))


@method("sendVoice")
async def send_voice(c: Call) -> JSON:
    return await _send_file(c, VOICE, duration=c.params.get_int("duration") or 0)


@method("sendVideoNote")
async def send_video_note(c: Call) -> JSON:
    return await _send_file(
        c,
        VIDEO_NOTE,
        duration=c.params.get_int("duration") or 0,
        width=c.params.get_int("length") or 240,
    )


@method("sendVideo")
async def send_video(c: Call) -> JSON:
    p = c.params
    return await _send_file(
        c,
        VIDEO,
        duration=p.get_int("duration") or 0,
        width=p.get_int("width") or 0,
        height=p.get_int("height") or 0,
    )


@method("sendAudio")
async def send_audio(c: Call) -> JSON:
    return await _send_file(c, AUDIO, duration=c.params.get_int("duration") or 0)


@method("sendAnimation")
async def send_animation(c: Call) -> JSON:
    return await _send_file(c, ANIMATION, duration=c.params.get_int("duration") or 0)


@method("sendLocation")
async def send_location(c: Call) -> JSON:
    chat = writable_chat(c)
    latitude = c.params.get_float("latitude")
    longitude = c.params.get_float("longitude")
    if latitude is None or longitude is None or abs(latitude) > 90 or abs(longitude) > 180:
        raise bad_request("wrong latitude/longitude specified")
    return deliver(c, chat, {"location": {"latitude": latitude, "longitude": longitude}})


@method("sendContact")
async def send_contact(c: Call) -> JSON:
    chat = writable_chat(c)
    phone = c.params.get_str("phone_number")
    first_name = c.params.get_str("first_name")
    if not phone or not first_name:
        raise bad_request("phone_number and first_name must be non-empty")
    contact: JSON = {"phone_number": phone, "first_name": first_name}
    last_name = c.params.get_str("last_name")
    if last_name:
        contact["last_name"] = last_name
    return deliver(c, chat, {"contact": contact})


@method("sendMediaGroup")
async def send_media_group(c: Call) -> list[JSON]:
    chat = writable_chat(c)
    media = c.params.get_json("media", "media")
    if not isinstance(media, list) or not all(isinstance(m, dict) for m in media):
        raise bad_request("can't parse media JSON object")
    if not 2 <= len(media) <= 10:
        raise bad_request("media group must include 2-10 items")
    kinds = {m.get("type") for m in media}
    if not kinds <= {"photo", "video"} and len(kinds) > 1:
        raise bad_request("documents and audio can't be mixed with other media types")
    contents: list[JSON] = []
    for item in media:
        kind = item.get("type")
        value = item.get("media")
        if not isinstance(value, str) or not value:
            raise bad_request("media not found")
        source = c.params.attachment(value)
        caption = caption_of(item.get("caption"), _ItemCall.of(c, item))
        if kind == "photo":
            contents.append({"photo": await photo_input(c, source), **caption})
        elif kind in (DOCUMENT, VIDEO, AUDIO):
            stored = await file_input(c, source, kind, "media")
            contents.append({kind: c.sandbox.files.media_object(stored), **caption})
        else:
            raise bad_request(f'unsupported media type "{kind}" in a media group')
    reply = reply_target(c, chat)
    check_flood(c, chat)
    group_id = str(next(_media_group_ids))
    return [
        chat.add_message(
            outgoing=True,
            method=c.method,
            content={**content, "media_group_id": group_id},
            reply_to=reply,
        ).data
        for content in contents
    ]


class _ItemCall:
    """A view of one InputMedia item as a Call, to reuse caption parsing."""

    @staticmethod
    def of(c: Call, item: JSON) -> Call:
        values = {k: v for k, v in item.items() if k in ("parse_mode", "caption_entities")}
        return Call(c.sandbox, c.bot, Params(values, {}), c.method)


def _source_message(c: Call, not_found: str) -> StoredMessage:
    from_chat = find_chat(c, "from_chat_id")
    message_id = c.params.get_int("message_id", required=True)
    assert message_id is not None
    source = from_chat.messages.get(message_id)
    if source is None or source.deleted:
        raise ApiError(400, not_found)
    return source


@method("copyMessage")
async def copy_message(c: Call) -> JSON:
    chat = writable_chat(c)
    source = _source_message(c, errors.COPY_NOT_FOUND)
    content = {k: source.data[k] for k in _COPY_KEYS if k in source.data}
    if c.params.has("caption") and "text" not in content:
        content.pop("caption", None)
        content.pop("caption_entities", None)
        content.update(caption_of(c.params.get_str("caption"), c))
    message = deliver(c, chat, content)
    return {"message_id": message["message_id"]}


@method("forwardMessage")
async def forward_message(c: Call) -> JSON:
    chat = writable_chat(c)
    source = _source_message(c, errors.FORWARD_NOT_FOUND)
    content = {k: source.data[k] for k in _COPY_KEYS if k in source.data}
    content["forward_origin"] = {
        "type": "user",
        "sender_user": source.data["from"],
        "date": source.data["date"],
    }
    return deliver(c, chat, content)


# ---------------------------------------------------------------------------- editing


def editable(c: Call) -> tuple[ChatState, StoredMessage]:
    if c.params.get_str("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat = find_chat(c)
    if chat.blocked:
        raise ApiError(403, errors.BLOCKED)
    message_id = c.params.get_int("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    message = chat.messages.get(message_id)
    if message is None or message.deleted:
        raise ApiError(400, errors.EDIT_NOT_FOUND)
    if not message.outgoing:
        raise ApiError(400, errors.CANT_EDIT)
    return chat, message


def apply_edit(
    c: Call,
    chat: ChatState,
    message: StoredMessage,
    content: JSON,
    drop: tuple[str, ...],
    inline: JSON | None,
) -> JSON:
    """Replace ``drop`` keys by ``content`` and the inline keyboard, or refuse a no-op."""
    data = message.data
    unchanged = data.get("reply_markup") == inline and all(
        data.get(key) == content.get(key) for key in drop
    )
    if unchanged:
        raise ApiError(400, errors.NOT_MODIFIED)
    check_flood(c, chat)
    for key in drop:
        data.pop(key, None)
    data.update(content)
    if inline is None:
        data.pop("reply_markup", None)
    else:
        data["reply_markup"] = inline
    now = time.time()
    data["edit_date"] = int(now)
    message.markup = inline
    message.edits += 1
    message.edited_at = now
    chat.touch(message)
    return data


@method("editMessageText")
async def edit_message_text(c: Call) -> JSON:
    chat, message = editable(c)
    content = text_content(c)
    if "text" not in message.data:
        raise ApiError(400, errors.NO_TEXT_TO_EDIT)
    inline, _ = reply_markup(c, inline_only=True)
    return apply_edit(c, chat, message, content, ("text", "entities"), inline)


@method("editMessageCaption")
async def edit_message_caption(c: Call) -> JSON:
    chat, message = editable(c)
    if "text" in message.data or not any(k in message.data for k in _MEDIA_KEYS):
        raise ApiError(400, errors.NO_CAPTION_TO_EDIT)
    content = caption_of(c.params.get_str("caption"), c)
    inline, _ = reply_markup(c, inline_only=True)
    return apply_edit(c, chat, message, content, ("caption", "caption_entities"), inline)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(c: Call) -> JSON:
    chat, message = editable(c)
    inline, _ = reply_markup(c, inline_only=True)
    return apply_edit(c, chat, message, {}, (), inline)


@method("editMessageMedia")
async def edit_message_media(c: Call) -> JSON:
    chat, message = editable(c)
    if "text" in message.data:
        raise bad_request("there is no media in the message to edit")
    media = c.params.get_json("media", "media")
    if not isinstance(media, dict) or not isinstance(media.get("media"), str):
        raise bad_request("can't parse InputMedia JSON object")
    kind = media.get("type")
    source = c.params.attachment(media["media"])
    content: JSON = {}
    if kind == "photo":
        content["photo"] = await photo_input(c, source)
    elif kind in (DOCUMENT, VIDEO, AUDIO, ANIMATION):
        stored = await file_input(c, source, str(kind), "media")
        content[str(kind)] = c.sandbox.files.media_object(stored)
    else:
        raise bad_request(f'unsupported media type "{kind}"')
    content.update(caption_of(media.get("caption"), _ItemCall.of(c, media)))
    inline, _ = reply_markup(c, inline_only=True)
    return apply_edit(
        c, chat, message, content, (*_MEDIA_KEYS, "caption", "caption_entities"), inline
    )


@method("deleteMessage")
async def delete_message(c: Call) -> bool:
    chat = find_chat(c)
    message_id = c.params.get_int("message_id", required=True)
    assert message_id is not None
    message = chat.messages.get(message_id)
    if message is None or message.deleted:
        raise ApiError(400, errors.DELETE_NOT_FOUND)
    message.deleted_at = time.time()
    chat.touch(message)
    return True


@method("deleteMessages")
async def delete_messages(c: Call) -> bool:
    chat = find_chat(c)
    ids = c.params.get_json("message_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise bad_request("message_ids must contain 1-100 identifiers")
    now = time.time()
    for message_id in ids:
        message = chat.messages.get(int(message_id))
        if message is not None and not message.deleted:
            message.deleted_at = now
            chat.touch(message)
    return True


# ---------------------------------------------------------------------------- the rest


@method("answerCallbackQuery")
async def answer_callback_query(c: Call) -> bool:
    p = c.params
    record = c.bot.callbacks.get(p.get_str("callback_query_id") or "")
    if record is None or record.answered_at is not None:
        raise ApiError(400, errors.QUERY_TOO_OLD)
    record.answered_at = time.time()
    record.text = p.get_str("text")
    record.show_alert = p.get_bool("show_alert")
    record.url = p.get_str("url")
    record.cache_time = p.get_int("cache_time") or 0
    chat = c.bot.chats.get(record.user_id)
    if chat is not None:
        record.version = chat.bump()
    return True


@method("getFile")
async def get_file(c: Call) -> JSON:
    file_id = c.params.get_str("file_id")
    if not file_id:
        raise bad_request("file_id is empty")
    stored = c.sandbox.files.get(c.bot.token, file_id)
    if stored.size > MAX_DOWNLOAD_SIZE:
        raise ApiError(400, errors.FILE_TOO_BIG)
    return stored.file_object()


def _commands_key(c: Call) -> tuple[str, str]:
    scope = c.params.get_json("scope", "scope") or {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope JSON object")
    return json.dumps(scope, sort_keys=True), c.params.get_str("language_code") or ""


@method("setMyCommands")
async def set_my_commands(c: Call) -> bool:
    commands = c.params.get_json("commands", "commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    clean: list[JSON] = []
    for entry in commands:
        if not isinstance(entry, dict):
            raise bad_request("can't parse BotCommand JSON object")
        command = str(entry.get("command", "")).lstrip("/")
        description = str(entry.get("description", ""))
        if not 1 <= len(command) <= 32 or not all(
            ch.isascii() and (ch.islower() or ch.isdigit() or ch == "_") for ch in command
        ):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        clean.append({"command": command, "description": description})
    c.bot.commands[_commands_key(c)] = clean
    c.bot.activity.notify()
    return True


@method("getMyCommands")
async def get_my_commands(c: Call) -> list[JSON]:
    return c.bot.commands.get(_commands_key(c), [])


@method("deleteMyCommands")
async def delete_my_commands(c: Call) -> bool:
    c.bot.commands.pop(_commands_key(c), None)
    return True


@method("sendChatAction")
async def send_chat_action(c: Call) -> bool:
    chat = writable_chat(c)
    action = c.params.get_str("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    chat.last_action = action
    chat.last_action_at = time.time()
    chat.bump()
    return True


@method("setChatMenuButton")
async def set_chat_menu_button(c: Call) -> bool:
    button = c.params.get_json("menu_button", "menu_button") or {"type": "default"}
    chat_id = c.params.get_int("chat_id")
    if chat_id is not None:
        find_chat(c)
    c.bot.menu_buttons[chat_id] = button
    return True


@method("getChatMenuButton")
async def get_chat_menu_button(c: Call) -> JSON:
    chat_id = c.params.get_int("chat_id")
    buttons = c.bot.menu_buttons
    return buttons.get(chat_id) or buttons.get(None) or {"type": "default"}


def _property(name: str, setter: str, getter: str) -> None:
    async def set_value(c: Call) -> bool:
        lang = c.params.get_str("language_code") or ""
        c.bot.properties[f"{name}:{lang}"] = c.params.get_str(name) or ""
        return True

    async def get_value(c: Call) -> JSON:
        lang = c.params.get_str("language_code") or ""
        return {name: c.bot.properties.get(f"{name}:{lang}", "")}

    method(setter)(set_value)
    method(getter)(get_value)


_property("description", "setMyDescription", "getMyDescription")
_property("short_description", "setMyShortDescription", "getMyShortDescription")
_property("name", "setMyName", "getMyName")


@method("leaveChat")
async def leave_chat(c: Call) -> bool:
    """A bot leaves a group it is in; there is nothing to leave in a private chat."""
    raw = c.params.values.get("chat_id")
    try:
        group = c.bot.groups.get(int(raw)) if raw not in (None, "") else None
    except (TypeError, ValueError):
        group = None
    if group is None or not group.bot_member:
        raise ApiError(400, errors.CHAT_NOT_FOUND)
    group.bot_member = False
    group.left_at = time.time()
    return True


@method("getChat")
async def get_chat(c: Call) -> JSON:
    chat = find_chat(c)
    return {
        **chat.user.chat_dict(),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }
