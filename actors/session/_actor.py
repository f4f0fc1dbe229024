"""The session actor: turns one user's updates into domain requests and replies.

Each update arrives as a Delivery from the shard consumer. The actor loads the user's account
and conversation state, routes the update through the router to the controller of its area
(a command, a button, or input for the current question or mode), and hands the replies to
the outbox with the delivery's done() — so the update is acknowledged only once its effects
are committed and its replies sent. Nothing that goes wrong with one update may kill the
actor: failures are logged, counted and answered with a polite message.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from collections import deque
from typing import Any

import pykka
import structlog
from pykka.typing import ActorMemberMixin, proxy_method

from actors.delivery import Delivery
from actors.faults import WAITING, transient
from actors.session.browse import Browse
from actors.session.chat import Chat
from actors.session.context import Context, SessionDeps
from actors.session.general import General
from actors.session.likes import Likes
from actors.session.matches import Matches
from actors.session.moderation import Moderation
from actors.session.onboarding import Onboarding
from actors.session.own_profile import OwnProfile
from actors.session.router import Router, command_table
from actors.session.services import Services
from actors.session.settings import Settings
from actors.session.verification import Verification
from bot_api import replies
from bot_api.incoming import Incoming, Kind, parse_update
from bot_api.replies import Reply
from config.i18n import language_for, t
from domain.action_limits import Action, Verdict
from domain.backoff import GIVE_UP_SECONDS
from domain.onboarding import Flow, Step
from presentation.buttons import Button
from presentation.cards import INVITE_PREFIX
from presentation.screens import Buttons
from storage import db
from storage.accounts import Account
from storage.fence import Deferred, Fence

log = structlog.get_logger(__name__)

# Tries of one update failing while the dependencies are healthy before it goes to the dead
# letters; waits between them grow 4x.
HANDLE_ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 0.05
# A user whose action has waited this long is told, once, that it is taking longer.
SLOW_NOTICE_SECONDS = 3.0
# Commands a first message may be, answered before the welcome (any other starts onboarding).
FIRST_CONTACT_COMMANDS = frozenset({"help", "language"})

# Buttons whose press is an action with a limit of its own (domain.action_limits).
BUTTON_ACTIONS = {
    Button.LIKE.value: Action.LIKE,
    Button.LIKE_WITH_MESSAGE.value: Action.LIKE,
    Button.LIKER_LIKE.value: Action.LIKE,
    Button.REPORT.value: Action.REPORT,
    Button.MATCH_REPORT.value: Action.REPORT,
}
PHOTO_KINDS = frozenset({Kind.PHOTO, Kind.DOCUMENT})

# Onboarding first: it also takes the answers to the questions.
CONTROLLERS = (
    Onboarding,
    General,
    OwnProfile,
    Browse,
    Likes,
    Matches,
    Chat,
    Settings,
    Moderation,
    Verification,
)
COMMANDS = command_table(CONTROLLERS)


class SessionActor(pykka.ThreadingActor):
    def __init__(self, deps: SessionDeps) -> None:
        super().__init__()
        self._deps = deps
        self._services = services = Services(deps, COMMANDS)
        self._onboarding = Onboarding(services)
        others = [controller(services) for controller in CONTROLLERS[1:]]
        self._router = Router([self._onboarding, *others])
        # Users whose update waits for a dependency: that update first, then the ones that
        # came after it (a wait of their own, or None), tried again when the wait is over.
        self._parked: dict[int, deque[tuple[Delivery, _Wait | None]]] = {}

    # -- intake ---------------------------------------------------------------------------

    def handle(self, delivery: Delivery) -> None:
        """Handle one update; never raises (an exception here would be lost in a future).

        An update given out again (its node died, Telegram sent it twice) is recognised by its
        update_id in the reply journal: what was done is not done again, and only replies not
        yet sent go out. A failure while a dependency is down (actors.faults) parks the update
        and tries it again later, with growing waits, for as long as Telegram keeps updates:
        the user's later updates wait behind it, in order, while the actor serves its other
        users; after a few seconds the user is told once that it takes longer. Only handling
        that fails HANDLE_ATTEMPTS times while the dependencies are healthy (a bug, a poison
        update) sends it to the dead letters, and the user an apology."""
        parked = self._parked.get(delivery.user_id)
        if parked is not None:
            parked.append((delivery, None))
            return
        self._attempt(delivery, None)

    def resume(self, user_id: int) -> None:
        """A parked user's wait is over: try their updates again, in order."""
        parked = self._parked.get(user_id)
        while parked:
            delivery, wait = parked.popleft()
            if not self._attempt(delivery, wait):
                return  # parked again, at the front
        self._parked.pop(user_id, None)

    def _park(self, delivery: Delivery, wait: _Wait, delay: float) -> None:
        self._parked.setdefault(delivery.user_id, deque()).appendleft((delivery, wait))
        timer = threading.Timer(delay, self._wake, (delivery.user_id,))
        timer.daemon = True
        timer.start()

    def _wake(self, user_id: int) -> None:
        # Stopped: the broker gives the parked updates out again.
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.proxy().resume(user_id)

    def _attempt(self, delivery: Delivery, wait: _Wait | None) -> bool:
        """One try of an update: True when it is over (handled, skipped or given up), False
        when it was parked to be tried again."""
        started = time.perf_counter()
        metrics = self._deps.metrics
        if not delivery.current():
            # Its connection to the broker is gone, so the broker gives it out again: handled
            # now it would overtake the copies of earlier updates given out with it.
            return True
        try:
            incoming = parse_update(delivery.update)
        except (KeyError, TypeError, ValueError) as error:
            log.warning("unusable update skipped", error=str(error), user_id=delivery.user_id)
            delivery.done()
            return True
        if incoming is None:
            delivery.done()
            return True
        bound = log.bind(user_id=incoming.user_id, update_id=incoming.update_id)
        chat_id = incoming.chat_id
        work = str(incoming.update_id)
        began = wait.began if wait is not None else started

        def finished() -> None:
            delivery.done()
            metrics.handler_seconds.labels(metrics.node_id).observe(time.perf_counter() - began)

        try:
            if self._deps.processed.replay(work, finished, incoming.user_id):
                bound.info("repeated update: nothing done twice")
                return True
            out, sends = self._fenced(incoming, work, bound)
        except Exception as error:
            metrics.errors.labels(metrics.node_id, "session").inc()
            wait = wait or _Wait(self, delivery, incoming, bound, began)
            delay = wait.after(error)
            if delay is None:
                return True
            self._park(delivery, wait, delay)
            return False
        metrics.updates.labels(metrics.node_id, incoming.kind.value).inc()
        wait = wait or _Wait(self, delivery, incoming, bound, began)
        while True:
            # The effects are committed: only the sends to others the update made (each
            # under its key: a second try sends nothing twice) and the journal's write are
            # tried again (here, as nothing else of the user's may run before them).
            try:
                while sends:
                    send = sends[0]
                    self._deps.outbox.deliver(send.user_id, send.chat_id, send.replies, send.key)
                    sends.pop(0)
                self._deps.processed.send(work, chat_id, out, finished)
                return True
            except Exception as error:
                metrics.errors.labels(metrics.node_id, "session").inc()
                delay = wait.after(error, dead_letter=False)
                if delay is None:
                    if wait.gave_up:
                        bound.error("reply journal unavailable; replies sent without it")
                        self._deps.outbox.submit(chat_id, out, finished)
                    return True
                time.sleep(delay)

    @property
    def deps(self) -> SessionDeps:
        return self._deps

    def slow_notice(self, incoming: Incoming) -> Reply:
        language = language_for(incoming.language_code)
        return replies.message(incoming.chat_id, t(language, "common.taking_longer"))

    def apology(self, incoming: Incoming) -> list[Reply]:
        language = language_for(incoming.language_code)
        out = [replies.message(incoming.chat_id, t(language, "common.internal_error"))]
        if incoming.callback_id:
            out.insert(0, replies.answer_callback(incoming.callback_id))
        return out

    def _fenced(
        self, incoming: Incoming, work: str, bound: Any
    ) -> tuple[list[Reply], list[Deferred]]:
        """Handle the update in its fence (storage.fence): its effects and its row commit in
        one transaction, or none of it does (an exception rolls it back: the update is tried
        again whole). An update whose fence committed before is not handled again: the
        replies it was given, and the sends to others it made, are returned from its row.
        The replies, and the sends to make now."""
        if incoming.kind is Kind.GROUP:
            return self._route(incoming), []  # no effect to fence, and nobody to name
        fence = Fence(self._deps.pool, incoming.user_id, self._deps.processed.journal.key(work))
        try:
            handled = fence.open()
            if handled is not None:
                bound.info("fenced update given again: its stored replies go out")
                metrics = self._deps.metrics
                metrics.fenced_repeats.labels(metrics.node_id).inc()
                return list(handled.replies), list(handled.deliveries)
            previous = db.set_ambient(fence)
            try:
                out = self._route(incoming)
            finally:
                db.set_ambient(previous)
            fence.commit(out)
            return out, list(fence.deliveries)
        finally:
            fence.close()

    def _route(self, incoming: Incoming) -> list[Reply]:
        ask = self._services.ask
        if incoming.kind is Kind.GROUP:
            # A dating bot has no business in a group: it leaves, and nobody is registered.
            log.info("left a group chat", user_id=incoming.user_id, chat_id=incoming.chat_id)
            return [replies.leave_chat(incoming.chat_id)]
        profile = self._services.profile(incoming.user_id)
        if incoming.kind is Kind.BOT_BLOCKED:
            ask(profile.set_inactive(incoming.user_id))
            return []
        account = self._deps.accounts.get(incoming.user_id)
        if account is None:
            if incoming.kind in (Kind.CALLBACK, Kind.BOT_UNBLOCKED):
                return self._unknown_user_button(incoming)
            language = language_for(incoming.language_code)
            account, _ = ask(
                profile.register(incoming.user_id, incoming.chat_id, language, incoming.username)
            )
            self._services.count("registered")
            code = invitation_code(incoming)
            if code is not None:
                ask(profile.accept_invitation(incoming.user_id, code))
            ctx = self._context(incoming, account)
            if account.is_banned:  # a ban outlives the account (storage.accounts.register)
                ctx.say("common.banned")
                return ctx.out
            if incoming.kind is Kind.COMMAND and incoming.command in FIRST_CONTACT_COMMANDS:
                self._on_command(ctx)
            self._onboarding.welcome(ctx)
            return ctx.out
        if (
            incoming.username != account.username
            or account.is_inactive
            or account.away_since is not None
            or _stale(account)
        ) and ask(profile.touch(account, incoming.username)):
            # Back from away (domain.activity): the account read above was still paused.
            account = self._deps.accounts.get(incoming.user_id) or account
        ctx = self._context(incoming, account)
        if incoming.kind is Kind.BOT_UNBLOCKED:
            return []
        if account.is_banned:
            if incoming.callback_id:
                ctx.send(replies.answer_callback(incoming.callback_id))
            ctx.say("common.banned")
            return ctx.out
        if incoming.kind is Kind.CALLBACK:
            self._on_callback(ctx)
        elif incoming.kind is Kind.COMMAND:
            if self._within_limit(ctx, Action.MESSAGE):
                self._on_command(ctx)
        else:
            conversation = self._services.conversation(account)
            # A photo where the step takes one changes the profile; anything else (a typo, a
            # city being spelt) is only a message. A shared location is limited per day
            # (domain.location_privacy), by the profile actor.
            action = Action.MESSAGE
            if conversation.step is Step.PHOTOS and incoming.kind in PHOTO_KINDS:
                action = Action.PHOTO
            if not self._within_limit(ctx, action):
                return ctx.out
            if conversation.flow is not Flow.IDLE:
                self._onboarding.answer(ctx, conversation)
            elif not self._router.take_input(ctx):
                ctx.say("common.idle_hint")
        return ctx.out

    def _within_limit(self, ctx: Context, action: Action) -> bool:
        """Count the action against the user's limit; past it, say "slow down" once per
        window and nothing after that."""
        taken = self._deps.limits.take(ctx.user_id, action, ctx.incoming.update_id)
        if taken is Verdict.ALLOW:
            return True
        self._deps.metrics.limited.labels(self._deps.metrics.node_id, action.value).inc()
        if taken is Verdict.TELL:
            log.info("action limited", user_id=ctx.user_id, action=action.value)
            ctx.say(f"limits.{action.value}")
        return False

    def _unknown_user_button(self, incoming: Incoming) -> list[Reply]:
        language = language_for(incoming.language_code)
        out = [replies.message(incoming.chat_id, t(language, "profile.no_profile"))]
        if incoming.callback_id:
            out.insert(
                0,
                replies.answer_callback(
                    incoming.callback_id, t(language, "common.outdated_button")
                ),
            )
        return out

    def _context(self, incoming: Incoming, account: Account) -> Context:
        return Context(incoming, account, Buttons(self._deps.signer, account.id, account.language))

    def _on_command(self, ctx: Context) -> None:
        handler = self._router.command(ctx.incoming.command)
        if handler is None:
            self._services.unknown_command(ctx)
        else:
            handler(ctx)

    def _on_callback(self, ctx: Context) -> None:
        incoming = ctx.incoming
        parts = self._deps.signer.verify(ctx.user_id, incoming.callback_data)
        handler = self._router.button(parts[0]) if parts else None
        if parts is None or handler is None:
            log.info(
                "button refused",
                user_id=ctx.user_id,
                update_id=incoming.update_id,
                reason="bad signature" if parts is None else "unknown action",
            )
            self._services.outdated(ctx)
            return
        action = BUTTON_ACTIONS.get(parts[0])
        if action is None or self._within_limit(ctx, action):
            handler(ctx, parts[1:])
        if not any(reply.method == "answerCallbackQuery" for reply in ctx.out):
            ctx.out.insert(0, replies.answer_callback(incoming.callback_id))


class _Wait:
    """The tries of one update: how long to wait after a failure, and when to give up."""

    def __init__(
        self,
        actor: SessionActor,
        delivery: Delivery,
        incoming: Incoming,
        bound: Any,
        began: float,
    ) -> None:
        self._actor = actor
        self._delivery = delivery
        self._incoming = incoming
        self._log = bound
        self.began = began
        self._waits = 0
        self._failures = 0
        self._told = False
        self.gave_up = False

    def after(self, error: Exception, dead_letter: bool = True) -> float | None:
        """The wait before the next try; None when there is none (the update was given up)."""
        deps = self._actor.deps
        waited = time.perf_counter() - self.began
        if transient(error) or not deps.healthy():
            self._waits += 1
            if self._waits == 1 or self._waits % 20 == 0:
                self._log.warning(
                    "waiting for a dependency", error=repr(error), waited=round(waited, 1)
                )
            if waited > GIVE_UP_SECONDS:
                self._give_up(error, dead_letter)
                return None
            delay = WAITING.seconds(self._waits)
            if waited + delay > SLOW_NOTICE_SECONDS and not self._told:
                self._told = True
                deps.outbox.submit(
                    self._incoming.chat_id, [self._actor.slow_notice(self._incoming)]
                )
            return delay
        self._failures += 1
        self._log.exception(
            "update handling failed", kind=self._incoming.kind.value, attempt=self._failures
        )
        if self._failures >= HANDLE_ATTEMPTS:
            self._give_up(error, dead_letter)
            return None
        return float(RETRY_BACKOFF_SECONDS * 4 ** (self._failures - 1))

    def _give_up(self, error: Exception, dead_letter: bool) -> None:
        self.gave_up = True
        if dead_letter:
            trace = "".join(traceback.format_exception(error))
            self._delivery.dead_letter(trace[-2000:])
            self._actor.deps.outbox.submit(
                self._incoming.chat_id, self._actor.apology(self._incoming)
            )


def invitation_code(incoming: Incoming) -> str | None:
    """The code of an invitation deep link's /start ref_<code>, if that is what came."""
    if incoming.kind is not Kind.COMMAND or incoming.command != "start":
        return None
    prefix, _, code = incoming.text.partition(INVITE_PREFIX)
    return code if not prefix and code else None


def _stale(account: Account) -> bool:
    return time.time() - account.last_active_at.timestamp() > 60


class SessionActorProxy(ActorMemberMixin, pykka.ActorProxy[SessionActor]):
    handle = proxy_method(SessionActor.handle)
    resume = proxy_method(SessionActor.resume)
