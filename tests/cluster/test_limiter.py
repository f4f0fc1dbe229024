"""The shared send limiter: Telegram's limits kept by several nodes together (real Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
import redis.asyncio

from storage import state
from storage.send_limits import CHAT_BURST, RedisSendLimiter
from tests.support.services import REDIS_URL

RUN_SECONDS = 1.5


Limiters = Callable[[float, float], AbstractAsyncContextManager[list[RedisSendLimiter]]]


@pytest.fixture
def limiters(keys: state.Keys) -> Limiters:
    """Two limiters as two nodes would have them: own Redis connections, one namespace."""

    @asynccontextmanager
    async def make(per_second: float, per_chat: float) -> AsyncIterator[list[RedisSendLimiter]]:
        clients = [redis.asyncio.Redis.from_url(REDIS_URL) for _ in range(2)]
        try:
            yield [RedisSendLimiter(client, keys, per_second, per_chat) for client in clients]
        finally:
            for client in clients:
                await client.aclose()

    return make


async def hammer(
    limiter: RedisSendLimiter, chats: Callable[[int], int], granted: list[float]
) -> None:
    """Acquire as fast as the limiter lets, for RUN_SECONDS."""
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < RUN_SECONDS:
        await limiter.acquire(chats(sent))
        granted.append(time.monotonic() - start)
        sent += 1


def busiest_second(times: list[float]) -> int:
    ordered = sorted(times)
    return max(sum(1 for t in ordered if start <= t < start + 1.0) for start in ordered)


class TestRedisSendLimiter:
    def test_two_nodes_together_stay_under_the_bot_rate(self, limiters: Limiters) -> None:
        """Two nodes sending to many chats as fast as they may make at most the bot's rate
        (plus its small burst) in any second, and both get to send."""

        async def scenario() -> tuple[list[float], list[float]]:
            async with limiters(20, 100) as (first, second):
                a: list[float] = []
                b: list[float] = []
                await asyncio.gather(
                    hammer(first, lambda n: 1000 + n, a), hammer(second, lambda n: 2000 + n, b)
                )
                return a, b

        a, b = asyncio.run(scenario())
        assert a and b
        assert busiest_second(a + b) <= 20 + 5
        assert len(a) + len(b) <= 20 * RUN_SECONDS + 5 + 1

    def test_two_nodes_together_keep_the_per_chat_rate(self, limiters: Limiters) -> None:
        """Sends to one chat from two nodes stay at its rate after one burst."""

        async def scenario() -> list[float]:
            async with limiters(1000, 2) as (first, second):
                times: list[float] = []
                await asyncio.gather(
                    hammer(first, lambda _: 7, times), hammer(second, lambda _: 7, times)
                )
                return times

        times = asyncio.run(scenario())
        burst = min(CHAT_BURST, 2 * 2)  # at most RedisSendLimiter's per-chat burst at 2/s
        assert len(times) <= burst + 2 * RUN_SECONDS + 1
        assert busiest_second(times) <= burst + 2

    def test_a_429_on_one_node_pauses_the_other(self, limiters: Limiters) -> None:
        """After one node is told to retry after a second, the other node's next send waits
        that second out too."""

        async def scenario() -> float:
            async with limiters(1000, 1000) as (first, second):
                first.pause(1.0)
                await asyncio.gather(*first._pauses)  # the pause has reached Redis
                started = time.monotonic()
                await second.acquire(5)
                return time.monotonic() - started

        assert asyncio.run(scenario()) >= 0.9
