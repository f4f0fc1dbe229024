"""Webhook delivery: POST each update as JSON, retrying until the receiver answers 2xx.

Updates are spread over ``max_connections`` lanes by user id: one user's updates arrive in
order, one at a time, while different users' updates travel in parallel (Telegram keeps
per-chat order the same way). A failing update is retried with doubling delays and holds
back only its own lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from sandbox.state import BotState, PendingUpdate, SandboxOptions

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class Webhook:
    def __init__(
        self,
        bot: BotState,
        url: str,
        *,
        secret_token: str | None,
        max_connections: int,
        session: Callable[[], aiohttp.ClientSession],
        options: SandboxOptions,
    ) -> None:
        self.bot = bot
        self.url = url
        self.secret_token = secret_token
        self.max_connections = max_connections
        self._session = session
        self._options = options
        self._lanes: list[deque[PendingUpdate]] = [deque() for _ in range(max_connections)]
        self._wake: list[asyncio.Event] = [asyncio.Event() for _ in range(max_connections)]
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._count = 0
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None

    @property
    def pending_count(self) -> int:
        return self._count

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": self._count,
            "max_connections": self.max_connections,
        }
        if self.last_error_date is not None:
            info["last_error_date"] = self.last_error_date
            info["last_error_message"] = self.last_error_message
        if self.bot.allowed_updates_list is not None:
            info["allowed_updates"] = self.bot.allowed_updates_list
        return info

    def push(self, pending: PendingUpdate) -> None:
        lane = pending.user_id % self.max_connections
        self._lanes[lane].append(pending)
        self._count += 1
        if lane not in self._tasks:
            self._tasks[lane] = asyncio.get_running_loop().create_task(
                self._run(lane), name=f"sandbox-webhook-{self.bot.id}-{lane}"
            )
        self._wake[lane].set()

    def clear(self) -> None:
        for lane in self._lanes:
            lane.clear()
        self._count = 0

    async def stop(self) -> list[PendingUpdate]:
        """Stop delivering; returns what was not delivered yet, in update_id order."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        left = sorted((p for lane in self._lanes for p in lane), key=lambda p: p.update_id)
        self.clear()
        return left

    async def _run(self, index: int) -> None:
        lane = self._lanes[index]
        wake = self._wake[index]
        while True:
            if not lane:
                wake.clear()
                await wake.wait()
                continue
            pending = lane[0]
            await self._deliver(pending)
            if lane and lane[0] is pending:
                lane.popleft()
                self._count -= 1
                self.bot.stats.updates_delivered += 1
                self.bot.pending_signal.notify()

    async def _deliver(self, pending: PendingUpdate) -> None:
        delay = self._options.webhook_retry_delay
        headers = {"Content-Type": "application/json"}
        if self.secret_token:
            headers[SECRET_HEADER] = self.secret_token
        timeout = aiohttp.ClientTimeout(total=self._options.webhook_timeout)
        while True:
            try:
                async with self._session().post(
                    self.url, data=pending.payload, headers=headers, timeout=timeout
                ) as response:
                    await response.read()
                    if 200 <= response.status < 300:
                        self.bot.stats.webhook_deliveries += 1
                        return
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = f"Connection failed: {exc.__class__.__name__}: {exc}"
            self.bot.stats.webhook_failures += 1
            self.last_error_date = int(time.time())
            self.last_error_message = error
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._options.webhook_retry_max_delay)
