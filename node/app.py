"""One node: storage, actors, the update pipeline and its HTTP endpoints, started in
dependency order and stopped in reverse."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web
from telegram import BotCommand

from actors.outbox import LocalSendLimiter, Outbox
from actors.pool import ActorPool
from actors.profile import ProfileActor, ProfileActorProxy
from actors.session import SessionActor, SessionActorProxy, SessionDeps
from config.i18n import LANGUAGES, t
from config.settings import Settings
from domain.callbacks import CallbackSigner
from node import bus
from node.bus import Delivery, ShardConsumer, UpdatePublisher
from node.gauges import GaugeSampler
from node.http import build_app
from node.intake import PollingIntake
from node.metrics import Metrics
from node.telegram import TelegramGateway, build_bot
from storage import db, state
from storage.accounts import Accounts
from storage.photos import PhotoStore
from storage.stats import Stats

log = structlog.get_logger(__name__)

COMMANDS = ("start", "profile", "language", "cancel", "help")
STOP_TIMEOUT_SECONDS = 10.0


class Node:
    """Build with settings, then `await node.run()` (until request_stop) or start()/stop()."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics(settings.node_id)
        self._stop_requested: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closers: list[Callable[[], Any]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._pools: list[ActorPool[Any]] = []
        self.ready = False

    # -- lifecycle --------------------------------------------------------------------------

    async def run(self) -> None:
        self._stop_requested = asyncio.Event()
        await self.start()
        try:
            await self._stop_requested.wait()
        finally:
            await self.stop()

    def request_stop(self) -> None:
        """Ask a running node to stop; safe from any thread or a signal handler."""
        if self._loop is not None and self._stop_requested is not None:
            self._loop.call_soon_threadsafe(self._stop_requested.set)

    async def start(self) -> None:
        settings = self.settings
        self._loop = loop = asyncio.get_running_loop()
        log.info("node starting", shards=settings.shards, session_actors=settings.session_actors)

        self.pool = db.create_pool(settings.database_url, max_size=settings.session_actors + 8)
        self._closers.append(self.pool.close)
        await asyncio.to_thread(db.apply_schema, self.pool)
        self.redis = state.connect(settings.redis_url)
        self._closers.append(self.redis.close)
        keys = state.Keys(settings.redis_namespace)
        self.photos = PhotoStore(settings.s3_endpoint, settings.s3_access_key,
                                 settings.s3_secret_key, settings.s3_bucket, settings.s3_region)
        await asyncio.to_thread(self.photos.ensure_bucket)

        self.bot = build_bot(settings)
        await self.bot.initialize()
        await self._register_commands()

        self.outbox = Outbox(self.bot, loop,
                             self.metrics,
                             LocalSendLimiter(settings.send_rate_per_second,
                                              settings.send_rate_per_chat),
                             on_blocked=self._user_blocked_bot)
        gateway = TelegramGateway(self.bot, loop)
        accounts = Accounts(self.pool)
        self.profiles: ActorPool[ProfileActorProxy] = ActorPool(
            "profile", settings.session_actors,
            lambda: ProfileActor.start(accounts, self.photos, gateway),
            lambda ref: ProfileActorProxy(actor_ref=ref))
        self._pools.append(self.profiles)
        self._closers.append(self.profiles.stop)
        deps = SessionDeps(
            profiles=self.profiles,
            conversations=state.ConversationStore(self.redis, keys),
            processed=state.ProcessedUpdates(self.redis, keys),
            outbox=self.outbox,
            signer=CallbackSigner(settings.bot_token.encode()),
            metrics=self.metrics,
            admin_ids=settings.admin_ids,
            stats=Stats(self.pool),
        )
        self.sessions: ActorPool[SessionActorProxy] = ActorPool(
            "session", settings.session_actors, lambda: SessionActor.start(deps),
            lambda ref: SessionActorProxy(actor_ref=ref))
        self._pools.append(self.sessions)
        self._closers.append(self.sessions.stop)

        self.consumer = ShardConsumer(settings.amqp_url, range(settings.shards), self._dispatch)
        publisher = await asyncio.to_thread(UpdatePublisher, settings.amqp_url, settings.shards)
        await asyncio.to_thread(self.consumer.start_and_wait)
        self._closers.append(self.consumer.stop)
        self.metrics.owned_shards.labels(settings.node_id).set(settings.shards)

        self.intake = PollingIntake(self.bot, publisher, self.metrics)
        self._closers.append(self.intake.close)
        self._tasks += [
            loop.create_task(self.intake.run(), name="intake"),
            loop.create_task(GaugeSampler(self.metrics, self._pools, Stats(self.pool)).run(),
                             name="gauges")]

        self._http = web.AppRunner(build_app(self.metrics, self._readiness_checks()),
                                   access_log=None)
        await self._http.setup()
        site = web.TCPSite(self._http, "0.0.0.0", settings.metrics_port)
        await site.start()
        self.metrics_port = self._bound_port(site)
        self.ready = True
        log.info("node started", metrics_port=self.metrics_port)

    async def stop(self) -> None:
        """Stop taking updates, let work in hand finish, then close in reverse order."""
        self.ready = False
        log.info("node stopping")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if hasattr(self, "intake"):
            await self.intake.confirm()
        if hasattr(self, "_http"):
            await self._http.cleanup()
        # Closers block (joins, pool waits): run them off the loop so the outbox can still
        # deliver the replies that in-flight updates are waiting for.
        for close in reversed(self._closers):
            try:
                await asyncio.wait_for(asyncio.to_thread(close), STOP_TIMEOUT_SECONDS)
            except Exception:
                log.exception("error while stopping")
        if hasattr(self, "bot"):
            await self.bot.shutdown()
        self._closers.clear()
        self._tasks.clear()
        alive = [pool.name for pool in self._pools if pool.any_alive()]
        if alive:
            log.error("actors still alive after stop", pools=alive)
        log.info("node stopped")

    # -- wiring ---------------------------------------------------------------------------

    def _dispatch(self, delivery: Delivery) -> None:
        """Runs on the consumer thread: hand the update to the user's session actor."""
        self.sessions.for_user(delivery.user_id).handle(delivery)

    def _user_blocked_bot(self, chat_id: int) -> None:
        """Runs on the loop (outbox): the user's profile actor records it off the loop."""
        self.profiles.for_user(chat_id).set_inactive(chat_id)

    async def _register_commands(self) -> None:
        for language in LANGUAGES:
            commands = [BotCommand(name, t(language, f"commands.{name}")) for name in COMMANDS]
            await self.bot.set_my_commands(
                commands, language_code=None if language == "en" else language)

    def _readiness_checks(self) -> dict[str, Callable[[], None]]:
        def actors() -> None:
            if not (self.sessions.alive() and self.profiles.alive()):
                raise RuntimeError("an actor has died")
            if not self.consumer.is_alive():
                raise RuntimeError("the shard consumer has stopped")

        def rabbitmq() -> None:
            with bus.open_connection(self.settings.amqp_url) as connection:
                connection.ensure_connection(max_retries=1, timeout=2)

        return {
            "postgresql": lambda: db.ping(self.pool),
            "redis": self._ping_redis,
            "rabbitmq": rabbitmq,
            "s3": self.photos.ping,
            "actors": actors,
        }

    def _ping_redis(self) -> None:
        self.redis.ping()

    @staticmethod
    def _bound_port(site: web.TCPSite) -> int:
        server = site._server  # aiohttp exposes the bound socket only through the server
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else 0
