"""The send limiter's state in Redis: token buckets shared by every node of the bot.

Telegram's limits hold for the bot token, not per process, so with several nodes the outbox
(actors.outbox) asks RedisSendLimiter when a message may go: one bucket for the bot, one per
chat, and a 429 pauses every node's sends until its retry_after has passed.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import redis
import redis.asyncio
import structlog

from storage.journal import Departure
from storage.state import Keys

log = structlog.get_logger(__name__)

# The bot's bucket holds this many seconds of sending (at least one message): sends granted
# together reach Telegram spread out by the network and event loops of several processes, so
# the bucket must leave room for that jitter below the limit Telegram counts against.
GLOBAL_BURST_SECONDS = 0.25
# Per chat: Telegram allows a short burst of a few messages in a private chat (the sandbox,
# with Telegram's figures: 3) before its 1 a second. A reply of up to three messages (a card
# and its menu, a match and the next card) then goes out at once; the long-run rate stays
# SEND_RATE_PER_CHAT. The bucket is no larger than two seconds of that rate, so a chat paced
# slower than 1/s keeps its burst within what that pace allows.
CHAT_BURST = 3.0
# A send reaches Telegram a little after it was granted here, and not always equally late
# (the network, the event loops of several processes): the chat's bucket stays this many
# seconds of its rate below Telegram's burst, so that a send granted on a chat's last token
# is never early there (a 429 in one run of 30 of the 3-node test, during its chat rounds).
CHAT_JITTER_SECONDS = 0.1
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
        self._chat_burst = max(1.0, min(CHAT_BURST, per_chat * 2) - per_chat * CHAT_JITTER_SECONDS)
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
