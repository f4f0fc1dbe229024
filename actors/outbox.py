"""The outbox: the one place that sends to the Bot API.

It lives on the node's event loop, because PTB's Bot is not thread-safe; actor threads submit
replies with submit(), which only schedules work on the loop. Its mailbox is one chain of
tasks per chat, so a user's replies keep the order in which their updates were handled. It
keeps Telegram's limits (a send limiter), waits out a 429's retry_after for every send, and
treats 403 "bot was blocked by the user" as "user inactive".

Telegram's limits hold for the bot token, not per process: with several nodes the limiter is
RedisSendLimiter, token buckets in Redis shared by every node (one for the bot, one per chat),
and a 429 pauses every node's sends until its retry_after has passed.

Replies for another user (a relayed chat message, a match notice) go through deliver(): they
are handed, durably, to whichever node owns that user's shard, which sends them in order with
that user's own replies. SendOnce sends the replies of a piece of work once, even when the
work is given out again after a node died (storage.journal).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis
import redis.asyncio
import structlog
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot_api.replies import Reply
from bot_api.transport import call_api
from observability.metrics import Metrics
from storage.journal import ReplyJournal
from storage.state import Keys

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 0.2
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


# Forwards replies for a user to the node that owns the user's shard and returns once that is
# durable: (user_id, key, chat_id, [[method, params], ...]).
Forward = Callable[[int, str, int, list[list[Any]]], None]
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Departure:
    """Where to note that a reply is leaving for Telegram: field ``a`` of the journal entry
    ``key`` becomes ``number`` (see storage.journal)."""

    key: str
    number: int


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
        """Queue replies behind earlier ones for the chat; done() runs once all were tried,
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
        thread, never on the loop."""
        if not replies:
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
        except Exception:
            self._metrics.errors.labels(self._metrics.node_id, "outbox").inc()
            log.exception("outbox failed", chat_id=chat_id)
        finally:
            if done is not None:
                done()
            if self._tails.get(chat_id) is asyncio.current_task():
                del self._tails[chat_id]

    async def send(self, reply: Reply, departure: Departure | None = None) -> Any:
        """Send one call, retrying what Telegram asks to retry; False if the chat is closed to
        the bot (403), None for a call that was refused or failed for good. A message's
        departure is noted as the limiter lets it go: only a message can show twice when it
        is sent again (another answer to a button or a repeated edit is refused as harmless),
        so other calls are not noted."""
        method = reply.method
        target = reply.chat_id
        for attempt in range(1, MAX_ATTEMPTS + 1):
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
                if attempt == MAX_ATTEMPTS:
                    log.error("giving up on a call", method=method, error=str(error))
                    return None
                await asyncio.sleep(BACKOFF_BASE_SECONDS * 2**attempt * random.uniform(0.5, 1.5))
                continue
            self._count(method, "ok")
            return result
        return None

    def _count(self, method: str, outcome: str) -> None:
        self._metrics.api_calls.labels(self._metrics.node_id, method, outcome).inc()


def _seconds(retry_after: Any) -> float:
    return float(
        retry_after.total_seconds() if hasattr(retry_after, "total_seconds") else retry_after
    )


# The bot's bucket holds this many seconds of sending (at least one message): sends granted
# together reach Telegram spread out by the network and event loops of several processes, so
# the bucket must leave room for that jitter below the limit Telegram counts against.
GLOBAL_BURST_SECONDS = 0.25
# Per chat: Telegram allows short bursts of a few messages (the sandbox: 3); two keep a
# margin for the same jitter.
CHAT_BURST = 2.0
LIMITER_RETRY_SECONDS = 0.5

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local paused = redis.call('PTTL', KEYS[3])
if paused > 0 then return paused end
local rate, burst = tonumber(ARGV[1]) / 1000, tonumber(ARGV[2])
local chat_rate, chat_burst = tonumber(ARGV[3]) / 1000, tonumber(ARGV[4])
local g = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(g[1]) or burst
tokens = math.min(burst, tokens + math.max(0, now - (tonumber(g[2]) or now)) * rate)
local c = redis.call('HMGET', KEYS[2], 't', 'at')
local chat_tokens = tonumber(c[1]) or chat_burst
chat_tokens = math.min(chat_burst,
                       chat_tokens + math.max(0, now - (tonumber(c[2]) or now)) * chat_rate)
if tokens >= 1 and chat_tokens >= 1 then
  if KEYS[4] then redis.call('HSET', KEYS[4], 'a', ARGV[5]) end
  redis.call('HSET', KEYS[1], 't', tokens - 1, 'at', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
  redis.call('HSET', KEYS[2], 't', chat_tokens - 1, 'at', now)
  redis.call('PEXPIRE', KEYS[2], math.ceil(chat_burst / chat_rate) + 1000)
  return 0
end
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate end
if chat_tokens < 1 then wait = math.max(wait, (1 - chat_tokens) / chat_rate) end
return math.max(1, math.ceil(wait))
"""

_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""


class RedisSendLimiter:
    """Token buckets in Redis, shared by every node of the bot: one for the bot, one per chat,
    and a pause key that a 429 sets for its retry_after. One script call per send decides
    atomically, and notes the departure in the reply journal when it lets a message go; a
    refused caller sleeps for the time the script says.

    Telegram does not say whether a 429 was for the chat or for the whole bot, so a 429 pauses
    every send of every node: pausing only the chat would run into a bot-wide limit again."""

    def __init__(
        self, client: redis.asyncio.Redis, keys: Keys, per_second: float, per_chat: float
    ) -> None:
        self._redis = client
        self._keys = keys
        self._rate = per_second
        self._burst = max(1.0, per_second * GLOBAL_BURST_SECONDS)
        self._chat_rate = per_chat
        self._chat_burst = max(1.0, min(CHAT_BURST, per_chat * 2))
        self._acquire = client.register_script(_ACQUIRE)
        self._pause = client.register_script(_PAUSE)
        self._paused_until = 0.0
        self._pauses: set[asyncio.Task[Any]] = set()

    def pause(self, seconds: float) -> None:
        """Pause this node at once and every other node from its next send (on the loop)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        task = asyncio.get_running_loop().create_task(self._pause_everyone(seconds))
        self._pauses.add(task)
        task.add_done_callback(self._pauses.discard)

    async def _pause_everyone(self, seconds: float) -> None:
        try:
            await self._pause(
                keys=[self._keys("send", "pause")], args=[max(1, int(seconds * 1000))]
            )
        except redis.RedisError as error:
            log.warning("could not pause the other nodes", error=str(error))

    async def acquire(self, chat_id: int, departure: Departure | None = None) -> None:
        keys = [
            self._keys("send", "bot"),
            self._keys("send", "chat", chat_id),
            self._keys("send", "pause"),
        ]
        args: list[float | int] = [self._rate, self._burst, self._chat_rate, self._chat_burst]
        if departure is not None:
            keys.append(departure.key)
            args.append(departure.number)
        while True:
            wait = self._paused_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            try:
                wait_ms = int(await self._acquire(keys=keys, args=args))
            except redis.RedisError as error:
                # Without Redis the limits cannot be kept together; wait rather than flood.
                log.warning("send limiter unavailable", error=str(error))
                await asyncio.sleep(LIMITER_RETRY_SECONDS)
                continue
            if wait_ms <= 0:
                return
            await asyncio.sleep(wait_ms / 1000 * random.uniform(1.0, 1.1))


class SendOnce:
    """Sends the replies of a piece of work (an update, or a durable send for a user) once.

    send() records the replies in the journal before the first goes out, and the sent count
    moves on as Telegram accepts each; replay() finds work that was handled before: complete
    → nothing to do; incomplete → only what is still unsent goes out; being sent right now by
    this node → its done() waits for that. Between Telegram accepting a reply and the journal
    recording it lies the one window in which a node's death makes a reply go out twice."""

    def __init__(
        self,
        outbox: Outbox,
        journal: ReplyJournal,
        metrics: Metrics | None = None,
        holder: str = "",
    ) -> None:
        self._outbox = outbox
        self._journal = journal
        self._metrics = metrics
        self._holder = holder
        self._lock = threading.Lock()
        self._sending: dict[str, list[Callable[[], None]]] = {}

    @property
    def journal(self) -> ReplyJournal:
        return self._journal

    def replay(self, work: str, done: Callable[[], None], user_id: int | None = None) -> bool:
        """True when the work was handled before (done() is then taken care of); False when
        it is to be handled now (it is claimed for this node). Blocking, one Redis call."""
        with self._lock:
            waiting = self._sending.get(work)
            if waiting is not None:
                waiting.append(done)
                return True
        entry = self._journal.claim(work, self._holder)
        if entry is None:
            return False
        if not entry.recorded:
            # Its node died while handling it: the effects may be committed, the replies were
            # not recorded. Handling it again is all that is left (see storage.journal).
            log.warning(
                "work in doubt: handled again",
                work=work,
                claimed_by=entry.claimed_by,
                user_id=user_id,
            )
            if self._metrics is not None:
                self._metrics.in_doubt.labels(self._metrics.node_id).inc()
            return False
        if entry.complete or not entry.unsent:
            done()
            return True
        log.info(
            "sending what a node left unsent", work=work, unsent=len(entry.unsent), sent=entry.sent
        )
        if entry.uncertain:
            # The node died while this reply was on its way: Telegram may have taken it.
            # Sending it again may show it twice; not sending may lose it. We send.
            log.warning(
                "a reply may reach the user twice",
                work=work,
                chat_id=entry.chat_id,
                method=entry.unsent[0].method,
                reply=entry.sent + 1,
            )
            self._count("uncertain")
        self._count("unsent")
        self._start(work, entry.chat_id, entry.unsent, entry.sent, done)
        return True

    def send(
        self, work: str, chat_id: int, replies: Sequence[Reply], done: Callable[[], None]
    ) -> None:
        """Record the replies of finished work and send them; blocking (one Redis write)."""
        self._journal.record(work, chat_id, list(replies))
        if not replies:
            done()
            return
        self._start(work, chat_id, tuple(replies), 0, done)

    def _start(
        self,
        work: str,
        chat_id: int,
        replies: tuple[Reply, ...],
        already: int,
        done: Callable[[], None],
    ) -> None:
        with self._lock:
            self._sending[work] = [done]
        journal = self._journal
        key = journal.key(work)

        def progress(sent: int) -> None:
            journal.progress(work, already + sent)

        def departure(number: int) -> Departure:
            return Departure(key, already + number)

        def finished() -> None:
            with self._lock:
                callbacks = self._sending.pop(work, [])

            def after() -> None:
                for callback in callbacks:
                    callback()

            journal.finish(work, after)

        self._outbox.submit(chat_id, replies, finished, progress, departure)

    def _count(self, certainty: str) -> None:
        if self._metrics is not None:
            self._metrics.replies_resent.labels(self._metrics.node_id, certainty).inc()
