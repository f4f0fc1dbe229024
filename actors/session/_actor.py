"""The session actor: turns one user's updates into domain requests and replies.

Each update arrives as a Delivery from the shard consumer. The actor loads the user's account
and conversation state, routes the update through the router to the controller of its area
(a command, a button, or input for the current question or mode), and hands the replies to
the outbox with the delivery's done() — so the update is acknowledged only once its effects
are committed and its replies sent. Nothing that goes wrong with one update may kill the
actor: failures are logged, counted and answered with a polite message.
"""

from __future__ import annotations

import time
import traceback

import pykka
import structlog
from pykka.typing import ActorMemberMixin, proxy_method

from actors.delivery import Delivery
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
from domain.onboarding import Flow
from presentation.cards import INVITE_PREFIX
from presentation.screens import Buttons
from storage.accounts import Account

log = structlog.get_logger(__name__)

# Tries of one update before it goes to the dead letters; waits between them grow 4x.
HANDLE_ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 0.05
# Commands a first message may be, answered before the welcome (any other starts onboarding).
FIRST_CONTACT_COMMANDS = frozenset({"help", "language"})

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

    # -- intake ---------------------------------------------------------------------------

    def handle(self, delivery: Delivery) -> None:
        """Handle one update; never raises (an exception here would be lost in a future).

        An update given out again (its node died, Telegram sent it twice) is recognised by its
        update_id in the reply journal: what was done is not done again, and only replies not
        yet sent go out. Handling that fails HANDLE_ATTEMPTS times in a row sends the update to
        the dead letters with the error, and the user an apology."""
        started = time.perf_counter()
        metrics = self._deps.metrics
        try:
            incoming = parse_update(delivery.update)
        except (KeyError, TypeError, ValueError) as error:
            log.warning("unusable update skipped", error=str(error), user_id=delivery.user_id)
            delivery.done()
            return
        if incoming is None:
            delivery.done()
            return
        bound = log.bind(user_id=incoming.user_id, update_id=incoming.update_id)
        chat_id = incoming.chat_id
        work = str(incoming.update_id)

        def finished() -> None:
            delivery.done()
            metrics.handler_seconds.labels(metrics.node_id).observe(time.perf_counter() - started)

        failure: Exception | None = None
        for attempt in range(1, HANDLE_ATTEMPTS + 1):
            try:
                if attempt == 1 and self._deps.processed.replay(work, finished, incoming.user_id):
                    bound.info("repeated update: nothing done twice")
                    return
                out = self._route(incoming)
                break
            except Exception as error:
                failure = error
                metrics.errors.labels(metrics.node_id, "session").inc()
                bound.exception("update handling failed", kind=incoming.kind.value, attempt=attempt)
                if attempt < HANDLE_ATTEMPTS:
                    time.sleep(RETRY_BACKOFF_SECONDS * 4 ** (attempt - 1))
        else:
            trace = "".join(traceback.format_exception(failure)) if failure else "unknown"
            delivery.dead_letter(trace[-2000:])
            self._deps.outbox.submit(chat_id, self._apology(incoming))
            return
        metrics.updates.labels(metrics.node_id, incoming.kind.value).inc()
        try:
            self._deps.processed.send(work, chat_id, out, finished)
        except Exception:
            metrics.errors.labels(metrics.node_id, "session").inc()
            bound.exception("reply journal unavailable; replies sent without it")
            self._deps.outbox.submit(chat_id, out, finished)

    def _apology(self, incoming: Incoming) -> list[Reply]:
        language = language_for(incoming.language_code)
        out = [replies.message(incoming.chat_id, t(language, "common.internal_error"))]
        if incoming.callback_id:
            out.insert(0, replies.answer_callback(incoming.callback_id))
        return out

    def _route(self, incoming: Incoming) -> list[Reply]:
        ask = self._services.ask
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
            self._on_command(ctx)
        else:
            conversation = self._services.conversation(account)
            if conversation.flow is not Flow.IDLE:
                self._onboarding.answer(ctx, conversation)
            elif not self._router.take_input(ctx):
                ctx.say("common.idle_hint")
        return ctx.out

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
        handler(ctx, parts[1:])
        if not any(reply.method == "answerCallbackQuery" for reply in ctx.out):
            ctx.out.insert(0, replies.answer_callback(incoming.callback_id))


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
