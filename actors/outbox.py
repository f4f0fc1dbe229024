"""The outbox: the one place that sends to the Bot API.

It lives on the node's event loop, because PTB's Bot is not thread-safe; actor threads submit
replies with submit(), which only schedules work on the loop. Its mailbox is one chain of
tasks per chat, so a user's replies keep the order in which their updates were handled. It
keeps Telegram's limits (a send limiter), waits out a 429's retry_after for every send, and
treats 403 "bot was blocked by the user" as "user inactive".

Telegram's limits hold for the bot token, not per process: with several nodes the limiter is
RedisSendLimiter (storage.send_limits), token buckets in Redis shared by every node (one for
the bot, one per chat), and a 429 pauses every node's sends until its retry_after has passed.

Replies for another user (a relayed chat message, a match notice) go through deliver(): they
are handed, durably, to whichever node owns that user's shard, which sends them in order with
that user's own replies (messaging.forwarding). SendOnce (actors.send_once) sends the replies
of a piece of work once, even when the work is given out again after a node died.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import structlog
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot_api.replies import Reply
from bot_api.transport import call_api
from domain.backoff import GIVE_UP_SECONDS, Backoff
from observability.metrics import Metrics
from storage import db
from storage.journal import Departure

log = structlog.get_logger(__name__)

# Waits while Telegram is unreachable or answers 5xx: a reply waits, in its chat's turn, until
# Telegram takes it or refuses it for good — for as long as Telegram would keep the update.
# Capped at 5 s: with 30 s the replies of a 20 s outage came 22 s after its end (the fault
# suite, tests/faults/test_under_load.py); one try per waiting chat every few seconds is
# nothing to a Telegram that is down.
UNREACHABLE = Backoff(base=0.2, cap=5.0)
# Methods that put a message into a chat; Telegram's flood limits count these.
LIMITED_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendMediaGroup",
        "copyMessage",
        "sendSticker",
        "sendVoice",
        "sendVideoNote",
        "sendVideo",
        "sendAnimation",
        "sendAudio",
        "sendDocument",
        "sendLocation",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "editMessageMedia",
    }
)
HARMLESS_BAD_REQUESTS = ("message is not modified", "query is too old", "message to delete not")


class Unreachable(Exception):
    """Telegram could not be reached for as long as it keeps updates."""


# Forwards replies for a user to the node that owns the user's shard and returns once that is
# durable: (user_id, key, chat_id, [[method, params], ...]).
Forward = Callable[[int, str, int, list[list[Any]]], None]
Progress = Callable[[int], None]


# The n-th reply (1-based) of a submission → where its departure is noted.
Departures = Callable[[int], Departure]


class SendLimiter(Protocol):
    """Decides when a message to a chat may go, and notes its departure in the same step;
    pause() applies a 429's retry_after."""

    async def acquire(self, chat_id: int, departure: Departure | None = None) -> None: ...

    def pause(self, seconds: float) -> None: ...


class Outbox:
    def __init__(
        self,
        bot: Bot,
        loop: asyncio.AbstractEventLoop,
        metrics: Metrics,
        limiter: SendLimiter,
        on_blocked: Callable[[int], None],
    ) -> None:
        self._bot = bot
        self._loop = loop
        self._metrics = metrics
        self._limiter = limiter
        self._on_blocked = on_blocked
        self._tails: dict[int, asyncio.Task[None]] = {}
        self._forward: Forward | None = None

    def forward_through(self, forward: Forward) -> None:
        """Send deliver()'s replies through the owner of the recipient's shard."""
        self._forward = forward

    def submit(
        self,
        chat_id: int,
        replies: Sequence[Reply],
        done: Callable[[], None] | None = None,
        progress: Progress | None = None,
        departures: Departures | None = None,
    ) -> None:
        """Queue replies behind earlier ones for the chat; done() runs once all were taken or
        refused for good (never after giving up),
        progress(n) after the first n were (both on the loop: they must not block), and the
        n-th message's departure is noted at departures(n) as it leaves. Safe to call from any
        thread."""
        self._loop.call_soon_threadsafe(
            self._enqueue, chat_id, tuple(replies), done, progress, departures
        )

    def deliver(
        self, user_id: int, chat_id: int, replies: Sequence[Reply], key: str | None = None
    ) -> None:
        """Replies for another user, sent by the node that owns their shard; durable when
        this returns, and sent once per key. Blocks (a broker confirm): call it from an actor
        thread, never on the loop. Called inside a fence (storage.fence) it is deferred to
        the fence's commit."""
        if not replies:
            return
        fence = db.ambient()
        if fence is not None:
            # Inside an update's fence: sent once it commits (storage.fence), never when it
            # rolls back; the session makes the send.
            fence.defer(user_id, chat_id, list(replies), key)
            return
        if self._forward is None:
            self.submit(chat_id, replies)
            return
        self._forward(
            user_id,
            key or f"send:{uuid.uuid4().hex}",
            chat_id,
            [[reply.method, reply.params] for reply in replies],
        )

    @property
    def pending_chats(self) -> int:
        return len(self._tails)

    def _enqueue(
        self,
        chat_id: int,
        replies: tuple[Reply, ...],
        done: Callable[[], None] | None,
        progress: Progress | None,
        departures: Departures | None,
    ) -> None:
        previous = self._tails.get(chat_id)
        task = self._loop.create_task(
            self._send_in_turn(chat_id, previous, replies, done, progress, departures)
        )
        self._tails[chat_id] = task

    async def _send_in_turn(
        self,
        chat_id: int,
        previous: asyncio.Task[None] | None,
        replies: tuple[Reply, ...],
        done: Callable[[], None] | None,
        progress: Progress | None,
        departures: Departures | None,
    ) -> None:
        """done() only once every reply was taken or refused for good: work whose replies
        could not go out stays unacknowledged, and goes out when it is given out again."""
        try:
            if previous is not None:
                await asyncio.wait([previous])
            blocked: set[int] = set()
            for index, reply in enumerate(replies, 1):
                target = reply.chat_id
                if target is not None and target in blocked:
                    pass
                elif await self.send(reply, departures(index) if departures else None) is False:
                    blocked.add(target if target is not None else chat_id)
                if progress is not None:
                    progress(index)
            if done is not None:
                done()
        except Exception:
            self._metrics.errors.labels(self._metrics.node_id, "outbox").inc()
            log.exception("outbox failed; the work stays unacknowledged", chat_id=chat_id)
        finally:
            if self._tails.get(chat_id) is asyncio.current_task():
                del self._tails[chat_id]

    async def send(self, reply: Reply, departure: Departure | None = None) -> Any:
        """Send one call, retrying what Telegram asks to retry and waiting out its outages;
        False if the chat is closed to the bot (403), None for a call refused for good (400).
        Raises Unreachable when Telegram stayed unreachable for as long as it keeps updates.
        A message's departure is noted as the limiter lets it go: only a message can show
        twice when it is sent again (another answer to a button or a repeated edit is refused
        as harmless), so other calls are not noted."""
        method = reply.method
        target = reply.chat_id
        began = self._loop.time()
        failures = 0
        while True:
            if target is not None and method in LIMITED_METHODS:
                await self._limiter.acquire(target, departure)
            try:
                result = await call_api(self._bot, method, reply.params)
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
                    log.error(
                        "telegram refused a call",
                        method=method,
                        error=error.message,
                        chat_id=target,
                    )
                return None
            except (TimedOut, NetworkError) as error:
                self._count(method, "network_error")
                failures += 1
                waited = self._loop.time() - began
                if waited > GIVE_UP_SECONDS:
                    raise Unreachable(f"{method}: {error}") from error
                if failures == 1 or failures % 20 == 0:
                    log.warning(
                        "telegram unreachable; the reply waits",
                        method=method,
                        error=str(error),
                        waited=round(waited, 1),
                    )
                await asyncio.sleep(UNREACHABLE.seconds(failures))
                continue
            self._count(method, "ok")
            return result

    def _count(self, method: str, outcome: str) -> None:
        self._metrics.api_calls.labels(self._metrics.node_id, method, outcome).inc()


def _seconds(retry_after: Any) -> float:
    return float(
        retry_after.total_seconds() if hasattr(retry_after, "total_seconds") else retry_after
    )
