"""Intake: Telegram's updates into RabbitMQ, by exactly one route per bot token.

* Polling (BOT_MODE=polling): the node holding the intake lease (cluster.intake_lease, a
  PostgreSQL advisory lock) long-polls getUpdates; every other node waits to take the lease
  over. Telegram's offset moves past a batch only after the broker has confirmed each of its
  messages, so a crash between the two makes Telegram hand the batch out again (the consumer
  side recognises repeated update_ids) instead of losing it. The last published offset is kept
  in Redis, so a successor starts where the holder stopped.
* Webhooks (BOT_MODE=webhook): every node accepts Telegram's POSTs (behind a load balancer),
  checks the secret token in constant time (401 otherwise), publishes the update and answers
  200 only once the broker has confirmed it — a node that dies before answering makes
  Telegram send the update again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio
import structlog
from aiohttp import web
from telegram import Bot
from telegram.error import Conflict, NetworkError, TelegramError, TimedOut

from bot_api.incoming import user_of
from cluster.intake_lease import INTAKE_CHECK_SECONDS, INTAKE_RETRY_SECONDS, IntakeLease
from messaging.bus import CONFIRM_TIMEOUT_SECONDS, Bus
from observability.metrics import Metrics
from storage.state import Keys, as_text

log = structlog.get_logger(__name__)

POLL_TIMEOUT_SECONDS = 20
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
MAX_BACKOFF_SECONDS = 15.0
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_MAX_CONNECTIONS = 40


class PollingIntake:
    def __init__(
        self,
        bot: Bot,
        bus: Bus,
        metrics: Metrics,
        lease: IntakeLease,
        client: redis.asyncio.Redis,
        keys: Keys,
    ) -> None:
        self._bot = bot
        self._bus = bus
        self._metrics = metrics
        self._lease = lease
        self._redis = client
        self._offset_key = keys("intake", "offset")
        self._offset: int | None = None

    @property
    def leader(self) -> bool:
        return self._lease.held

    async def run(self) -> None:
        """Take the intake lease whenever it is free and poll while holding it; until
        cancelled."""
        while True:
            try:
                acquired = await asyncio.to_thread(self._lease.try_acquire)
            except Exception as error:
                log.warning("could not ask for the intake lease", error=str(error))
                acquired = False
            if not acquired:
                await asyncio.sleep(INTAKE_RETRY_SECONDS * random.uniform(0.8, 1.2))
                continue
            self._metrics.intake_leader.labels(self._metrics.node_id).set(1)
            log.info("intake lease taken: this node polls Telegram")
            try:
                await self._poll_while_held()
            finally:
                self._metrics.intake_leader.labels(self._metrics.node_id).set(0)
            log.warning("intake lease lost: polling stopped")

    async def _poll_while_held(self) -> None:
        stored = await self._redis.get(self._offset_key)
        if stored is not None:
            self._offset = max(self._offset or 0, int(stored)) or None
        poll = asyncio.get_running_loop().create_task(self._poll(), name="getUpdates")
        try:
            while True:
                done, _ = await asyncio.wait({poll}, timeout=INTAKE_CHECK_SECONDS)
                if done:
                    poll.result()
                    return
                if not await asyncio.to_thread(self._lease.alive):
                    return
        finally:
            poll.cancel()
            await asyncio.gather(poll, return_exceptions=True)

    async def _poll(self) -> None:
        failures = 0
        while True:
            try:
                updates = await self._get_updates()
                failures = 0
            except (Conflict, NetworkError, TimedOut) as error:
                failures += 1
                if isinstance(error, Conflict) and "webhook" in str(error).lower():
                    log.warning("a webhook is set; deleting it to poll")
                    await self._delete_webhook()
                delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2**failures) * random.uniform(0.5, 1.0)
                log.warning("getUpdates failed", error=str(error), retry_in=round(delay, 2))
                await asyncio.sleep(delay)
                continue
            if not updates:
                continue
            batch = []
            for update in updates:
                user_id = user_of(update)
                if user_id is not None:
                    batch.append((user_id, update))
            offset = int(updates[-1]["update_id"]) + 1
            await self._publish_until_done(batch, offset)
            self._offset = offset

    async def _get_updates(self) -> list[dict[str, Any]]:
        """The next batch as Telegram sent it: the consumers parse what they need, so building
        PTB's Update objects here (about 0.3 ms of CPU per update) would be wasted work."""
        result = await self._bot.do_api_request(
            "getUpdates",
            api_kwargs={
                "offset": self._offset,
                "timeout": POLL_TIMEOUT_SECONDS,
                "allowed_updates": ALLOWED_UPDATES,
            },
        )
        return result if isinstance(result, list) else []

    async def _publish_until_done(
        self, batch: list[tuple[int, dict[str, Any]]], offset: int
    ) -> None:
        """The offset moves on only once the batch is queued: keep trying (the broker may
        be restarting); Telegram keeps the updates meanwhile. The loop waits for the broker's
        confirms itself (no worker thread in between)."""
        failures = 0
        while True:
            try:
                await asyncio.wait_for(
                    asyncio.wrap_future(self._bus.publish_update_batch(batch)),
                    CONFIRM_TIMEOUT_SECONDS,
                )
                break
            except Exception as error:
                failures += 1
                delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2**failures) * random.uniform(0.5, 1.0)
                log.error(
                    "updates not queued; trying again",
                    error=str(error),
                    updates=len(batch),
                    retry_in=round(delay, 2),
                )
                await asyncio.sleep(delay)
        try:
            await self._redis.set(self._offset_key, offset)
        except redis.RedisError as error:  # a successor then publishes some updates again
            log.warning("intake offset not stored", error=str(error))

    async def _delete_webhook(self) -> None:
        try:
            await self._bot.delete_webhook(drop_pending_updates=False)
        except TelegramError as error:
            log.warning("could not delete the webhook", error=str(error))

    async def confirm(self) -> None:
        """Tell Telegram the last published batch is taken, so no successor sees it again."""
        if self._offset is not None and self._lease.held:
            try:
                await self._bot.get_updates(offset=self._offset, timeout=0, limit=1)
            except (Conflict, NetworkError, TimedOut) as error:
                log.warning("could not confirm the last updates", error=str(error))

    def close(self) -> None:
        """Give the lease up (blocking: run it off the loop)."""
        self._lease.release()


class WebhookIntake:
    """The webhook route of every node: POST an update, get 200 once it is safely queued."""

    def __init__(
        self,
        bot: Bot,
        bus: Bus,
        metrics: Metrics,
        url: str,
        secret: str,
        client: redis.Redis,
        keys: Keys,
    ) -> None:
        self._bot = bot
        self._bus = bus
        self._metrics = metrics
        self.url = url
        self.path = urlsplit(url).path or "/"
        self._secret = secret.encode()
        self._redis = client
        self._fingerprint_key = keys("intake", "webhook")
        self.accepting = True

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post(self.path, self.receive)
        return app

    async def receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            self._metrics.errors.labels(self._metrics.node_id, "webhook_secret").inc()
            return web.Response(status=401, text="wrong secret token")
        if not self.accepting:
            return web.Response(status=503, text="this node is stopping")
        try:
            update = await request.json()
            update_id = int(update["update_id"])
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400, text="not an update")
        user_id = user_of(update)
        if user_id is None:
            return web.Response(status=200)
        try:
            await asyncio.wait_for(
                asyncio.wrap_future(self._bus.publish_update(user_id, update)),
                CONFIRM_TIMEOUT_SECONDS,
            )
        except Exception as error:
            log.warning(
                "webhook update not queued; Telegram will send it again",
                update_id=update_id,
                error=str(error),
            )
            return web.Response(status=503, text="not queued")
        return web.Response(status=200)

    def _fingerprint(self) -> str:
        text = "\n".join([self.url, self._secret.decode(), ",".join(ALLOWED_UPDATES)])
        return hashlib.sha256(text.encode()).hexdigest()

    async def register(self) -> None:
        """Point Telegram at WEBHOOK_URL unless it already is (with this secret); every node
        calls this at start, and only the first one with new settings changes anything."""
        fingerprint = self._fingerprint()
        stored = await asyncio.to_thread(self._redis.get, self._fingerprint_key)
        info = await self._bot.get_webhook_info()
        if info.url == self.url and stored is not None and as_text(stored) == fingerprint:
            return
        await self._bot.set_webhook(
            self.url,
            secret_token=self._secret.decode(),
            allowed_updates=ALLOWED_UPDATES,
            max_connections=WEBHOOK_MAX_CONNECTIONS,
        )
        await asyncio.to_thread(self._redis.set, self._fingerprint_key, fingerprint)
        log.info("webhook set", url=self.url)
