"""One node: storage, actors, the update pipeline and its HTTP endpoints, started in
dependency order and stopped in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any, cast

import redis.asyncio
import structlog
from aiohttp import web
from telegram import BotCommand, MenuButtonCommands

from actors.chat_relay import ChatRelayActor, ChatRelayActorProxy
from actors.delivery import Delivery
from actors.maintenance import MaintenanceActor, MaintenanceActorProxy
from actors.matcher import LikeNoticeTicker, MatcherActor, MatcherActorProxy, MatcherSettings
from actors.outbox import Outbox
from actors.pool import ActorPool
from actors.profile import ProfileActor, ProfileActorProxy
from actors.rater import RaterActor, RaterActorProxy
from actors.send_once import SendOnce
from actors.session import (
    COMMANDS,
    DiscoveryDeps,
    SessionActor,
    SessionActorProxy,
    SessionDeps,
    menu,
)
from app.gauges import GaugeSampler
from app.intake import PollingIntake, WebhookIntake
from app.scheduler import Scheduler
from bot_api.gateway import TelegramGateway, build_bot
from cluster.coordinator import Coordinator
from cluster.intake_lease import IntakeLease
from cluster.membership import new_member_id
from config.i18n import LANGUAGES
from config.settings import Settings
from messaging import broker, topology
from messaging.bus import Bus
from messaging.consumer import ShardConsumer
from messaging.deadletters import DeadLetters
from messaging.events import Events
from messaging.forwarding import Forwarding
from observability.http import Readiness, bound_port, build_app
from observability.metrics import Metrics
from presentation.callbacks import CallbackSigner
from storage import db, state
from storage.accounts import Accounts
from storage.action_limits import ActionCounters
from storage.chats import Chats
from storage.feed import Feed
from storage.fence import after_commit
from storage.journal import ReplyJournal
from storage.likes import Likes
from storage.maintenance import Maintenance
from storage.matches import Matches
from storage.photos import PhotoStore
from storage.ratings import Ratings, SweepOutcome
from storage.safety import Safety
from storage.send_limits import RedisSendLimiter
from storage.stats import Stats
from storage.verifications import Verifications

log = structlog.get_logger(__name__)

STOP_TIMEOUT_SECONDS = 10.0
# Of the 10 s a node has to stop, handing its shards over (work in hand finished) may take this.
HANDOVER_SECONDS = 6.0


class Node:
    """Build with settings, then `await node.run()` (until request_stop) or start()/stop()."""

    def __init__(self, settings: Settings, metrics_socket: socket.socket | None = None) -> None:
        """metrics_socket: a listening socket to serve /metrics, /healthz and /readyz on
        instead of METRICS_PORT; a node process of a supervisor (app/supervisor.py) gets one,
        and then shares WEBHOOK_PORT with its sibling processes."""
        self.settings = settings
        self._metrics_socket = metrics_socket
        self.metrics = Metrics(settings.node_id)
        self._stop_requested: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closers: list[Callable[[], Any]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._pools: list[ActorPool[Any]] = []
        self.ready = False
        self.started = threading.Event()  # set once start() finished, for other threads
        self.member = new_member_id(settings.node_id)
        self._webhook_runner: web.AppRunner | None = None
        self.webhook_port = 0

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

        # A session actor handling an update holds one connection (its fence, which the
        # actors it calls share), the actors' own work outside fences and the sweeps the rest.
        self.pool = db.create_pool(settings.database_url, max_size=3 * settings.session_actors + 8)
        self._closers.append(self.pool.close)
        await asyncio.to_thread(db.apply_schema, self.pool)
        self.redis = state.connect(settings.redis_url)
        self._closers.append(self.redis.close)
        keys = state.Keys(settings.redis_namespace)
        self.photos = PhotoStore(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.s3_bucket,
            settings.s3_region,
        )
        await asyncio.to_thread(self.photos.ensure_bucket)

        self.bot = build_bot(settings)
        await self.bot.initialize()
        await self._register_commands()

        # Bounded: every chat waiting for the limiter would otherwise open a connection.
        self.async_redis = redis.asyncio.Redis(
            connection_pool=redis.asyncio.BlockingConnectionPool.from_url(
                settings.redis_url,
                max_connections=32,
                timeout=10,
                socket_timeout=5,
                socket_connect_timeout=5,
            )
        )
        self.outbox = Outbox(
            self.bot,
            loop,
            self.metrics,
            RedisSendLimiter(
                self.async_redis, keys, settings.send_rate_per_second, settings.send_rate_per_chat
            ),
            on_blocked=self._user_blocked_bot,
        )
        await self._start_bus(keys)
        gateway = TelegramGateway(self.bot, loop)
        accounts = Accounts(self.pool)
        self._start_rating(settings)
        self.profiles: ActorPool[ProfileActorProxy] = ActorPool(
            "profile",
            settings.session_actors,
            lambda: ProfileActor.start(
                accounts,
                self.photos,
                gateway,
                Verifications(self.pool),
                settings.safety_secret.encode(),
                # Inside an update's fence these wait for its commit (storage.fence).
                lambda user_id: after_commit(lambda: self._profile_changed(user_id)),
                lambda user_id, file_id, twins: after_commit(
                    lambda: self._same_photo(user_id, file_id, twins)
                ),
                lambda user_id: after_commit(lambda: self._account_deleted(user_id)),
            ),
            ProfileActorProxy,
        )
        self._pools.append(self.profiles)
        self._closers.append(self.profiles.stop)
        signer = CallbackSigner(settings.bot_token.encode())
        conversations = state.ConversationStore(self.redis, keys)
        feed, likes, matches, safety, chats = (
            Feed(self.pool),
            Likes(self.pool),
            Matches(self.pool),
            Safety(self.pool),
            Chats(self.pool),
        )
        self.matchers: ActorPool[MatcherActorProxy] = ActorPool(
            "matcher",
            settings.session_actors,
            lambda: MatcherActor.start(
                feed,
                likes,
                matches,
                safety,
                accounts,
                self.outbox,
                signer,
                self.metrics,
                MatcherSettings.of(settings),
                lambda first, second: after_commit(lambda: self.events.match_made(first, second)),
            ),
            MatcherActorProxy,
        )
        self._pools.append(self.matchers)
        self._closers.append(self.matchers.stop)
        self._closers.append(LikeNoticeTicker(self.matchers).start().stop)
        self.relays: ActorPool[ChatRelayActorProxy] = ActorPool(
            "chat_relay",
            settings.session_actors,
            lambda: ChatRelayActor.start(
                chats,
                conversations,
                self.outbox,
                signer,
                self.metrics,
                accounts,
                settings.admin_ids,
            ),
            ChatRelayActorProxy,
        )
        self._pools.append(self.relays)
        self._closers.append(self.relays.stop)
        deps = SessionDeps(
            profiles=self.profiles,
            accounts=accounts,
            conversations=conversations,
            processed=self.once,
            outbox=self.outbox,
            signer=signer,
            metrics=self.metrics,
            admin_ids=settings.admin_ids,
            discovery=DiscoveryDeps(self.matchers, self.relays, settings.daily_like_limit),
            stats=Stats(self.pool),
            limits=ActionCounters(self.redis, keys),
            healthy=self._dependencies_healthy,
            pool=self.pool,
            bot_username=self.bot.username,
        )
        self.sessions: ActorPool[SessionActorProxy] = ActorPool(
            "session", settings.session_actors, lambda: SessionActor.start(deps), SessionActorProxy
        )
        self._pools.append(self.sessions)
        self._closers.append(self.sessions.stop)

        await self._start_pipeline(keys)

        await self._serve_health()
        self.ready = True
        self.started.set()
        log.info(
            "node started",
            metrics_port=self.metrics_port,
            mode=settings.bot_mode,
            webhook_port=self.webhook_port,
            member=self.member,
        )

    def _start_rating(self, settings: Settings) -> None:
        """The rater and maintenance actors, and the scheduler that fires their sweeps."""
        ratings = Ratings(self.pool, settings.database_url)
        rater = RaterActor.start(ratings, settings.node_id, self.metrics, self._sweep_finished)
        maintenance = MaintenanceActor.start(
            Maintenance(self.pool, self.photos),
            Feed(self.pool),
            Accounts(self.pool),
            settings.database_url,
            settings.node_id,
            self.metrics,
        )
        self.rater = cast(RaterActorProxy, rater.proxy())
        self.maintenance = cast(MaintenanceActorProxy, maintenance.proxy())
        for ref in (rater, maintenance):
            self._closers.append(
                lambda ref=ref: ref.stop(
                    block=True,  # type: ignore[misc]
                    timeout=STOP_TIMEOUT_SECONDS,
                )
            )
        self.scheduler = Scheduler(
            self.rater, self.maintenance, settings.rating_sweep_minutes, settings.full_sweep_hour
        )
        self.scheduler.start()
        self._closers.append(self.scheduler.stop)

    def _profile_changed(self, user_id: int) -> None:
        """A profile's own data changed: re-rate it now rather than at the next sweep, and
        tell every node (they drop what they cached of it)."""
        self.rater.recompute([user_id])
        self.events.profile_changed(user_id)

    def _same_photo(self, user_id: int, file_id: str, twins: list[tuple[int, str]]) -> None:
        """Moderators see accounts sharing a photo (the matcher sends it; nobody waits)."""
        self.matchers.for_user(user_id).flag_same_photo(user_id, file_id, twins)

    def _account_deleted(self, user_id: int) -> None:
        """The reply journal's entries and the dead letters hold what the user wrote and was
        answered: they go with the account (off the profile actor's thread; the broker and
        Redis calls block). A failure leaves them to expire (26 h, 7 days)."""

        def forget() -> None:
            try:
                entries = self.journal.forget(user_id)
                letters = DeadLetters(self.settings.amqp_url, self.settings.shards)
                dropped = letters.purge(user_id)
            except Exception as error:
                log.warning("a deleted user's traces left to expire", error=str(error))
                return
            log.info("a deleted user's traces dropped", journal=entries, dead_letters=dropped)

        threading.Thread(target=forget, name="forget-user", daemon=True).start()

    def _sweep_finished(self, kind: str, outcome: SweepOutcome) -> None:
        if hasattr(self, "events"):
            self.events.sweep_finished(kind, sweep_id=outcome.sweep_id, processed=outcome.processed)

    async def _start_bus(self, keys: state.Keys) -> None:
        """The reply journal and the bus, early: actors hand replies for other users to the
        bus (Outbox.deliver) and publish events."""
        self.journal = ReplyJournal(self.redis, keys)
        self._closers.append(self.journal.close)
        self.once = SendOnce(self.outbox, self.journal, self.metrics, self.member)
        self.bus = Bus(self.settings.amqp_url, self.settings.shards, self.member, self.metrics)
        await asyncio.to_thread(self.bus.start_and_wait)
        self._closers.append(self.bus.stop)
        self.events = Events(self.bus, self.metrics)
        self.forwarding = Forwarding(self.bus, self.once)
        self.outbox.forward_through(self.forwarding.forward)

    async def _start_pipeline(self, keys: state.Keys) -> None:
        """Consume the shards this node is given, then take updates in (polling or webhook)."""
        settings = self.settings
        loop = asyncio.get_running_loop()
        # Stopped after the shard consumer, which hands it forwarded replies.
        self._closers.append(self.forwarding.stop)
        self.consumer = ShardConsumer(
            settings.amqp_url, self._dispatch, self.bus, self.metrics, self.journal
        )
        await asyncio.to_thread(self.consumer.start_and_wait)
        self._closers.append(self.consumer.stop)
        self.coordinator = Coordinator(
            self.redis, keys, self.member, settings.shards, self.consumer, self.metrics
        )
        await asyncio.to_thread(self.coordinator.start)
        self._closers.append(lambda: self.coordinator.stop(HANDOVER_SECONDS))
        log.info(
            "joined the cluster",
            member=self.member,
            members=self.coordinator.members,
            shards=sorted(self.coordinator.owned),
        )

        self.intake: PollingIntake | None = None
        self.webhook: WebhookIntake | None = None
        if settings.bot_mode == "webhook":
            self.webhook = WebhookIntake(
                self.bot,
                self.bus,
                self.metrics,
                settings.webhook_url,
                settings.webhook_secret,
                self.redis,
                keys,
            )
            self._webhook_runner = web.AppRunner(
                self.webhook.app(), access_log=None, shutdown_timeout=2.0
            )
            await self._webhook_runner.setup()
            # The kernel spreads the connections over the processes sharing the port.
            webhook_site = web.TCPSite(
                self._webhook_runner,
                "0.0.0.0",
                settings.webhook_port,
                reuse_port=self._metrics_socket is not None,
            )
            await webhook_site.start()
            self.webhook_port = bound_port(webhook_site)
            await self.webhook.register()
        else:
            self.intake = PollingIntake(
                self.bot,
                self.bus,
                self.metrics,
                IntakeLease(settings.database_url, settings.bot_token.split(":", 1)[0]),
                self.async_redis,
                keys,
            )
            self._tasks.append(loop.create_task(self.intake.run(), name="intake"))
        self._tasks.append(
            loop.create_task(
                GaugeSampler(self.metrics, self._pools, Stats(self.pool)).run(), name="gauges"
            )
        )

    async def stop(self) -> None:
        """Stop taking updates, let work in hand finish, then close in reverse order."""
        self.ready = False
        log.info("node stopping")
        if getattr(self, "webhook", None) is not None:
            self.webhook.accepting = False  # type: ignore[union-attr]
        if self._webhook_runner is not None:
            await self._webhook_runner.cleanup()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        intake = getattr(self, "intake", None)
        if intake is not None:
            await intake.confirm()
            await asyncio.to_thread(intake.close)
        if hasattr(self, "_http"):
            await self._readiness.stop()
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
        if hasattr(self, "async_redis"):
            await self.async_redis.aclose(close_connection_pool=True)
        self._closers.clear()
        self._tasks.clear()
        alive = [pool.name for pool in self._pools if pool.any_alive()]
        if alive:
            log.error("actors still alive after stop", pools=alive)
        log.info("node stopped")

    # -- wiring ---------------------------------------------------------------------------

    def _dispatch(self, delivery: Delivery) -> None:
        """Runs on the consumer thread: an update goes to the user's session actor, replies
        forwarded by another node to the outbox (once)."""
        if delivery.kind == topology.KIND_SEND:
            self.forwarding.receive(delivery)
        else:
            self.sessions.for_user(delivery.user_id).handle(delivery)

    def _user_blocked_bot(self, chat_id: int) -> None:
        """Runs on the loop (outbox): the user's profile actor records it off the loop."""
        self.profiles.for_user(chat_id).set_inactive(chat_id)

    async def _register_commands(self) -> None:
        for language in LANGUAGES:
            commands = [BotCommand(name, text) for name, text in menu(COMMANDS, language)]
            await self.bot.set_my_commands(
                commands, language_code=None if language == "en" else language
            )
        # The button beside the message field opens that menu (the default in most clients,
        # but not all: set it for every chat).
        await self.bot.set_chat_menu_button(menu_button=MenuButtonCommands())

    async def _serve_health(self) -> None:
        """/metrics, /healthz and /readyz, the readiness checks running in the background."""
        settings = self.settings
        self._readiness = Readiness(self._readiness_checks())
        await self._readiness.start()
        self._http = web.AppRunner(build_app(self.metrics, self._readiness), access_log=None)
        await self._http.setup()
        if self._metrics_socket is not None:
            await web.SockSite(self._http, self._metrics_socket).start()
            self.metrics_port = int(self._metrics_socket.getsockname()[1])
        else:
            site = web.TCPSite(self._http, settings.metrics_host, settings.metrics_port)
            await site.start()
            self.metrics_port = bound_port(site)

    def _readiness_checks(self) -> dict[str, Callable[[], None]]:
        def actors() -> None:
            if not all(pool.alive() for pool in self._pools):
                raise RuntimeError("an actor has died")
            if not self.consumer.is_alive():
                raise RuntimeError("the shard consumer has stopped")
            if not self.bus.is_alive():
                raise RuntimeError("the bus has stopped")

        def rabbitmq() -> None:
            with broker.open_connection(self.settings.amqp_url) as connection:
                connection.ensure_connection(max_retries=1, timeout=2)

        return {
            "postgresql": lambda: db.ping(self.pool),
            "redis": self._ping_redis,
            "rabbitmq": rabbitmq,
            "s3": self.photos.ping,
            "actors": actors,
        }

    def _dependencies_healthy(self) -> bool:
        """PostgreSQL and Redis answer (the broker's and S3's faults show as errors of their
        own kind, see actors.faults)."""
        try:
            db.ping(self.pool)
            self._ping_redis()
        except Exception:
            return False
        return True

    def _ping_redis(self) -> None:
        self.redis.ping()
