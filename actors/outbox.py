"""The outbox: the one place that sends to the Bot API.

It lives on the node's event loop, because PTB's Bot is not thread-safe; actor threads submit
replies with submit(), which only schedules work on the loop. Its mailbox is one chain of
tasks per chat, so a user's replies keep the order in which their updates were handled. It
keeps Telegram's limits (a send limiter), waits out a 429's retry_after for every send, and
treats 403 "bot was blocked by the user" as "user inactive".
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import structlog
from telegram import Bot, InputMedia
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from domain.replies import Reply
from node.metrics import Metrics

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 0.2
# Methods that put a message into a chat; Telegram's flood limits count these.
LIMITED_METHODS = frozenset({
    "sendMessage", "sendPhoto", "sendMediaGroup", "copyMessage", "sendSticker", "sendVoice",
    "sendVideoNote", "sendVideo", "sendAnimation", "sendAudio", "sendDocument", "sendLocation",
    "editMessageText", "editMessageCaption", "editMessageReplyMarkup", "editMessageMedia",
})
HARMLESS_BAD_REQUESTS = ("message is not modified", "query is too old", "message to delete not")


class SendLimiter(Protocol):
    """Decides when a message to a chat may go; pause() applies a 429's retry_after."""

    async def acquire(self, chat_id: int) -> None: ...

    def pause(self, seconds: float) -> None: ...


class LocalSendLimiter:
    """Token buckets in this process: one for the bot, one per chat (with a small burst)."""

    CHAT_BURST = 5

    def __init__(self, per_second: float, per_chat: float) -> None:
        self._rate = per_second
        self._chat_rate = per_chat
        self._tokens = per_second
        self._updated = time.monotonic()
        self._chats: dict[int, tuple[float, float]] = {}
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def acquire(self, chat_id: int) -> None:
        while True:
            now = time.monotonic()
            wait = self._paused_until - now
            if wait <= 0:
                self._tokens = min(self._rate, self._tokens + (now - self._updated) * self._rate)
                self._updated = now
                chat_tokens, chat_updated = self._chats.get(chat_id, (self.CHAT_BURST, now))
                chat_tokens = min(self.CHAT_BURST,
                                  chat_tokens + (now - chat_updated) * self._chat_rate)
                if self._tokens >= 1 and chat_tokens >= 1:
                    self._tokens -= 1
                    self._chats[chat_id] = (chat_tokens - 1, now)
                    if len(self._chats) > 100_000:
                        self._forget_full_chats(now)
                    return
                self._chats[chat_id] = (chat_tokens, now)
                wait = max((1 - self._tokens) / self._rate, (1 - chat_tokens) / self._chat_rate)
            await asyncio.sleep(wait)

    def _forget_full_chats(self, now: float) -> None:
        self._chats = {chat: state for chat, state in self._chats.items()
                       if state[0] + (now - state[1]) * self._chat_rate < self.CHAT_BURST}


class Outbox:
    def __init__(self, bot: Bot, loop: asyncio.AbstractEventLoop, metrics: Metrics,
                 limiter: SendLimiter, on_blocked: Callable[[int], None]) -> None:
        self._bot = bot
        self._loop = loop
        self._metrics = metrics
        self._limiter = limiter
        self._on_blocked = on_blocked
        self._tails: dict[int, asyncio.Task[None]] = {}

    def submit(self, chat_id: int, replies: Sequence[Reply],
               done: Callable[[], None] | None = None) -> None:
        """Queue replies behind earlier ones for the chat; done() runs once all were tried.
        Safe to call from any thread."""
        self._loop.call_soon_threadsafe(self._enqueue, chat_id, tuple(replies), done)

    @property
    def pending_chats(self) -> int:
        return len(self._tails)

    def _enqueue(self, chat_id: int, replies: tuple[Reply, ...],
                 done: Callable[[], None] | None) -> None:
        previous = self._tails.get(chat_id)
        task = self._loop.create_task(self._send_in_turn(chat_id, previous, replies, done))
        self._tails[chat_id] = task

    async def _send_in_turn(self, chat_id: int, previous: asyncio.Task[None] | None,
                            replies: tuple[Reply, ...], done: Callable[[], None] | None) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])
            blocked: set[int] = set()
            for reply in replies:
                target = reply.chat_id
                if target is not None and target in blocked:
                    continue
                if await self.send(reply) is False:
                    blocked.add(target if target is not None else chat_id)
        except Exception:
            self._metrics.errors.labels(self._metrics.node_id, "outbox").inc()
            log.exception("outbox failed", chat_id=chat_id)
        finally:
            if done is not None:
                done()
            if self._tails.get(chat_id) is asyncio.current_task():
                del self._tails[chat_id]

    async def send(self, reply: Reply) -> Any:
        """Send one call, retrying what Telegram asks to retry; False if the chat is closed to
        the bot (403), None for a call that was refused or failed for good."""
        method = reply.method
        target = reply.chat_id
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if target is not None and method in LIMITED_METHODS:
                await self._limiter.acquire(target)
            try:
                result = await self._bot.do_api_request(method, api_kwargs=_api_kwargs(reply))
            except RetryAfter as error:
                delay = _seconds(error.retry_after)
                self._metrics.api_429.labels(self._metrics.node_id).inc()
                self._count(method, "retry_after")
                log.warning("telegram asked to slow down", retry_after=delay, method=method)
                self._limiter.pause(delay)
                continue
            except Forbidden:
                self._count(method, "forbidden")
                if target is not None:
                    self._on_blocked(target)
                return False
            except BadRequest as error:
                harmless = any(text in error.message.lower() for text in HARMLESS_BAD_REQUESTS)
                self._count(method, "not_modified" if harmless else "bad_request")
                if not harmless:
                    log.error("telegram refused a call", method=method, error=error.message,
                              chat_id=target)
                return None
            except (TimedOut, NetworkError) as error:
                self._count(method, "network_error")
                if attempt == MAX_ATTEMPTS:
                    log.error("giving up on a call", method=method, error=str(error))
                    return None
                await asyncio.sleep(BACKOFF_BASE_SECONDS * 2 ** attempt * random.uniform(0.5, 1.5))
                continue
            self._count(method, "ok")
            return result
        return None

    def _count(self, method: str, outcome: str) -> None:
        self._metrics.api_calls.labels(self._metrics.node_id, method, outcome).inc()


def _api_kwargs(reply: Reply) -> dict[str, Any]:
    """The reply's parameters as PTB's do_api_request takes them: it passes plain values on,
    but insists that a media group's items are InputMedia objects (it sets their defaults)."""
    if reply.method != "sendMediaGroup":
        return reply.params
    media = [InputMedia(item["type"], item["media"], caption=item.get("caption"))
             for item in reply.params["media"]]
    return {**reply.params, "media": media}


def _seconds(retry_after: Any) -> float:
    return float(retry_after.total_seconds() if hasattr(retry_after, "total_seconds")
                 else retry_after)
