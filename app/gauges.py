"""Gauges sampled every few seconds on the node's event loop: the actors' mailboxes
(bot_actor_mailbox_size, by actor kind) and the deployment's active users (bot_active_users).

Reading a mailbox size is a queue's qsize(), cheap enough for the loop; counting active users
is a PostgreSQL query, run in a worker thread with a timeout. A failed sample is logged and
tried again at the next tick: a database outage shows in /readyz, not as a dead sampler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import structlog

from actors.pool import ActorPool
from observability.metrics import Metrics
from storage.stats import Stats

log = structlog.get_logger(__name__)

# Read at every tick, so a test may shorten it on a node it starts.
SAMPLE_INTERVAL_SECONDS = 10.0
QUERY_TIMEOUT_SECONDS = 5.0


class GaugeSampler:
    def __init__(self, metrics: Metrics, pools: Sequence[ActorPool[Any]], stats: Stats) -> None:
        self._metrics = metrics
        self._pools = pools
        self._stats = stats

    async def run(self) -> None:
        """Sample now and then every SAMPLE_INTERVAL_SECONDS, until cancelled."""
        while True:
            await self.sample()
            await asyncio.sleep(SAMPLE_INTERVAL_SECONDS)

    async def sample(self) -> None:
        metrics = self._metrics
        for pool in self._pools:
            metrics.mailbox.labels(metrics.node_id, pool.name).set(pool.mailbox_size())
        try:
            active = await asyncio.wait_for(
                asyncio.to_thread(self._stats.active_users), QUERY_TIMEOUT_SECONDS
            )
        except Exception as error:
            log.warning("active users not sampled", error=f"{type(error).__name__}: {error}")
            return
        metrics.active_users.labels(metrics.node_id).set(active)
