"""Long-polling intake: getUpdates, publish every update to its shard, then confirm.

The offset moves past a batch only after the broker has confirmed each of its messages, so a
crash between the two makes Telegram hand the batch out again (the consumer side recognises
repeated update_ids) instead of losing it.
"""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor

import structlog
from telegram import Bot
from telegram.error import Conflict, NetworkError, TimedOut

from domain.incoming import user_of
from node.bus import UpdatePublisher
from node.metrics import Metrics

log = structlog.get_logger(__name__)

POLL_TIMEOUT_SECONDS = 20
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
MAX_BACKOFF_SECONDS = 15.0


class PollingIntake:
    def __init__(self, bot: Bot, publisher: UpdatePublisher, metrics: Metrics) -> None:
        self._bot = bot
        self._publisher = publisher
        self._metrics = metrics
        # The publisher's connection belongs to this one thread, as kombu requires.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-publish")
        self._offset: int | None = None

    async def run(self) -> None:
        """Poll until cancelled."""
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            try:
                updates = await self._bot.get_updates(
                    offset=self._offset, timeout=POLL_TIMEOUT_SECONDS,
                    allowed_updates=ALLOWED_UPDATES)
                failures = 0
            except (Conflict, NetworkError, TimedOut) as error:
                failures += 1
                delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** failures) * random.uniform(0.5, 1.0)
                log.warning("getUpdates failed", error=str(error), retry_in=round(delay, 2))
                await asyncio.sleep(delay)
                continue
            if not updates:
                continue
            batch = []
            for update in updates:
                raw = update.to_dict()
                user_id = user_of(raw)
                if user_id is not None:
                    batch.append((user_id, raw))
            await loop.run_in_executor(self._executor, self._publisher.publish, batch)
            self._offset = updates[-1].update_id + 1

    async def confirm(self) -> None:
        """Tell Telegram the last published batch is taken, so no successor sees it again."""
        if self._offset is not None:
            try:
                await self._bot.get_updates(offset=self._offset, timeout=0, limit=1)
            except (Conflict, NetworkError, TimedOut) as error:
                log.warning("could not confirm the last updates", error=str(error))

    def close(self) -> None:
        self._executor.submit(self._publisher.close).result(timeout=10)
        self._executor.shutdown(wait=True)
