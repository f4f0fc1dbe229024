"""The session actor: turns one user's updates into domain requests and replies.

Each update arrives as a Delivery from the shard consumer. The actor loads the user's account
and conversation state, routes the update (command, button, or input for the current step),
asks the profile actor for what changes, renders replies from the message catalog, and hands
them to the outbox with the delivery's done() — so the update is acknowledged only once its
effects are committed and its replies sent. Nothing that goes wrong with one update may kill
the actor: failures are logged, counted and answered with a polite message.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

import pykka
import structlog
from pykka.typing import ActorMemberMixin, proxy_method

from actors.delivery import Delivery
from actors.outbox import Outbox
from actors.pool import ActorPool
from actors.profile import ProfileActorProxy
from actors.send_once import SendOnce
from actors.session_discovery import DiscoveryDeps, DiscoveryMixin
from bot_api import replies
from bot_api.incoming import Incoming, Kind, parse_update
from bot_api.replies import Keyboard, Reply
from config.i18n import language_for, t
from domain.interests import INTERESTS, MAX_INTERESTS
from domain.onboarding import (
    CHOICE_STEPS,
    Conversation,
    Event,
    Flow,
    Step,
    TransitionError,
    resume_step,
    transition,
)
from domain.validation import (
    MAX_PHOTOS,
    Invalid,
    default_age_range,
    toggle_interest,
    validate_about,
    validate_age,
    validate_age_range,
    validate_city,
    validate_location,
    validate_name,
)
from observability.metrics import Metrics
from presentation import screens
from presentation.callbacks import CallbackSigner
from presentation.screens import Buttons
from storage.accounts import KEEP_STEP, Account, Accounts
from storage.state import ConversationStore
from storage.stats import Stats

log = structlog.get_logger(__name__)

ASK_TIMEOUT_SECONDS = 60.0
# Tries of one update before it goes to the dead letters; waits between them grow 4x.
HANDLE_ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 0.05
# Conversation-state flag: the user left onboarding with /cancel; input waits for /start.
ONBOARDING_CANCELLED = "onboarding_cancelled"
# Commands a first message may be, answered before the welcome (any other starts onboarding).
FIRST_CONTACT_COMMANDS = frozenset({"help", "language"})
TEXT_STEPS = frozenset({Step.NAME, Step.AGE, Step.AGE_RANGE, Step.ABOUT})
PHOTO_KINDS = frozenset({Kind.PHOTO, Kind.DOCUMENT})


@dataclass(frozen=True)
class SessionDeps:
    profiles: ActorPool[ProfileActorProxy]  # every change to an account goes through these
    accounts: Accounts  # reads: a session reads its user's account itself, saving a hand-off
    conversations: ConversationStore
    processed: SendOnce  # the reply journal: each update's effects and replies once
    outbox: Outbox
    signer: CallbackSigner
    metrics: Metrics
    admin_ids: frozenset[int] = frozenset()
    discovery: DiscoveryDeps | None = None
    stats: Stats | None = None  # /stats for admin_ids


@dataclass
class Context:
    """One update being handled, and the replies it has produced so far."""

    incoming: Incoming
    account: Account
    buttons: Buttons
    out: list[Reply] = field(default_factory=list)
    state_empty: bool = False  # the conversation state was read and is empty: nothing to clear

    @property
    def user_id(self) -> int:
        return self.incoming.user_id

    @property
    def chat_id(self) -> int:
        return self.incoming.chat_id

    @property
    def language(self) -> str:
        return self.buttons.language

    def text(self, key: str, **values: object) -> str:
        return t(self.language, key, **values)

    def say(self, key: str, keyboard: Keyboard | None = None, **values: object) -> None:
        self.out.append(replies.message(self.chat_id, self.text(key, **values), keyboard))

    def send(self, *items: Reply) -> None:
        self.out.extend(items)


class SessionActor(DiscoveryMixin, pykka.ThreadingActor):
    def __init__(self, deps: SessionDeps) -> None:
        super().__init__()
        self._deps = deps
        self._commands: dict[str, Callable[[Context], None]] = {
            "start": self._cmd_start,
            "help": self._cmd_help,
            "profile": self._cmd_profile,
            "language": self._cmd_language,
            "cancel": self._cmd_cancel,
            "stats": self._cmd_stats,
        }
        self._callbacks: dict[str, Callable[[Context, list[str]], None]] = {
            "st": self._cb_step_choice,
            "ed": self._cb_edit,
            "ph": self._cb_photos,
            "pa": self._cb_add_photo,
            "pd": self._cb_delete_photo,
            "pm": self._cb_main_photo,
            "pf": self._cb_back_to_profile,
            "pz": self._cb_pause,
            "dl": self._cb_delete_account,
            "lg": self._cb_language,
        }
        if deps.discovery is not None:
            self._register_discovery()

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

    def _profile(self, user_id: int) -> ProfileActorProxy:
        return self._deps.profiles.for_user(user_id)

    def _ask(self, future: pykka.Future[Any]) -> Any:
        return future.get(timeout=ASK_TIMEOUT_SECONDS)

    def _route(self, incoming: Incoming) -> list[Reply]:
        profile = self._profile(incoming.user_id)
        if incoming.kind is Kind.BOT_BLOCKED:
            self._ask(profile.set_inactive(incoming.user_id))
            return []
        account = self._deps.accounts.get(incoming.user_id)
        if account is None:
            if incoming.kind in (Kind.CALLBACK, Kind.BOT_UNBLOCKED):
                return self._unknown_user_button(incoming)
            language = language_for(incoming.language_code)
            account, _ = self._ask(
                profile.register(incoming.user_id, incoming.chat_id, language, incoming.username)
            )
            self._deps.metrics.user_actions.labels(self._deps.metrics.node_id, "registered").inc()
            ctx = self._context(incoming, account)
            if incoming.kind is Kind.COMMAND and incoming.command in FIRST_CONTACT_COMMANDS:
                self._commands[incoming.command](ctx)
            ctx.say("onboarding.welcome")
            self._ask_current_step(ctx, Conversation.onboarding())
            return ctx.out
        if incoming.username != account.username or account.is_inactive or _stale(account):
            self._ask(profile.touch(account, incoming.username))
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
            self._commands.get(incoming.command, self._cmd_unknown)(ctx)
        else:
            conversation = self._conversation(account)
            if conversation.flow is Flow.IDLE:
                self._on_idle_input(ctx)
            elif conversation.flow is Flow.ONBOARDING and self._onboarding_cancelled(ctx):
                ctx.say("onboarding.cancelled")
            else:
                self._on_step_input(ctx, conversation)
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

    def _conversation(self, account: Account) -> Conversation:
        step = resume_step(account.onboarding_step)
        if step is not None:
            return Conversation.onboarding(step)
        state = self._deps.conversations.get(account.id)
        editing = state.get("edit")
        if isinstance(editing, str) and editing in Step.__members__.values():
            return Conversation.editing(Step(editing))
        return Conversation.idle()

    def _reload(self, ctx: Context) -> Account:
        account = self._deps.accounts.get(ctx.user_id)
        if account is None:
            raise LookupError(f"account {ctx.user_id} vanished while handling an update")
        ctx.account = account
        return account

    # -- commands -------------------------------------------------------------------------

    def _cmd_start(self, ctx: Context) -> None:
        conversation = self._conversation(ctx.account)
        if conversation.flow is Flow.ONBOARDING:
            ctx.say("onboarding.resume")
            self._ask_current_step(ctx, conversation)
            return
        self._deps.conversations.clear(ctx.user_id)
        self._show_own_profile(ctx)

    def _cmd_help(self, ctx: Context) -> None:
        ctx.say("help.text")

    def _cmd_profile(self, ctx: Context) -> None:
        if self._require_complete(ctx):
            self._deps.conversations.clear(ctx.user_id)
            self._show_own_profile(ctx)

    def _cmd_language(self, ctx: Context) -> None:
        ctx.send(screens.language_choice(ctx.chat_id, ctx.buttons))

    def _cmd_cancel(self, ctx: Context) -> None:
        conversation = self._conversation(ctx.account)
        if conversation.flow is Flow.ONBOARDING:
            self._deps.conversations.set(ctx.user_id, {ONBOARDING_CANCELLED: True})
            ctx.send(
                replies.message_removing_keyboard(ctx.chat_id, ctx.text("onboarding.cancelled"))
            )
        elif conversation.flow is Flow.EDIT:
            self._deps.conversations.clear(ctx.user_id)
            ctx.send(
                replies.message_removing_keyboard(ctx.chat_id, ctx.text("common.edit_cancelled"))
            )
        else:
            ctx.say("common.nothing_to_cancel")

    def _cmd_stats(self, ctx: Context) -> None:
        """Deployment-wide counts, for admins only; anyone else gets the unknown command."""
        if self._deps.stats is None or ctx.user_id not in self._deps.admin_ids:
            self._cmd_unknown(ctx)
            return
        ctx.say("admin.stats", **asdict(self._deps.stats.totals()))

    def _cmd_unknown(self, ctx: Context) -> None:
        ctx.say("common.unknown_command")

    def _require_complete(self, ctx: Context) -> bool:
        """True for a finished profile; otherwise asks to finish onboarding first."""
        conversation = self._conversation(ctx.account)
        if conversation.flow is Flow.ONBOARDING:
            ctx.say("common.finish_profile_first")
            self._ask_current_step(ctx, conversation)
            return False
        return True

    # -- conversation steps ---------------------------------------------------------------

    def _on_idle_input(self, ctx: Context) -> None:
        if self._deps.discovery is not None and self._discovery_input(ctx):
            return
        ctx.say("common.idle_hint")

    def _onboarding_cancelled(self, ctx: Context) -> bool:
        state = self._deps.conversations.get(ctx.user_id)
        ctx.state_empty = not state
        return bool(state.get(ONBOARDING_CANCELLED))

    def _ask_current_step(self, ctx: Context, conversation: Conversation) -> None:
        """Ask the step's question; a user who left onboarding with /cancel is back in it."""
        assert conversation.step is not None
        if conversation.flow is Flow.ONBOARDING:
            if not ctx.state_empty:
                self._deps.conversations.clear(ctx.user_id)
        elif conversation.step is Step.PHOTOS:
            ctx.say("profile.send_new_photo")
            return
        account = ctx.account
        ctx.send(
            screens.ask_step(
                conversation.step,
                ctx.chat_id,
                ctx.buttons,
                account.age,
                account.interests,
                len(account.photos),
            )
        )

    def _on_step_input(self, ctx: Context, conversation: Conversation) -> None:
        step = conversation.step
        assert step is not None
        incoming = ctx.incoming
        try:
            if step in CHOICE_STEPS:
                raise Invalid("errors.expected_choice")
            if step is Step.PHOTOS:
                self._accept_photo(ctx, conversation)
                return
            if step is Step.LOCATION:
                values = self._location_values(incoming)
            elif incoming.kind is not Kind.TEXT:
                raise Invalid("errors.expected_text")
            else:
                values = self._text_values(step, incoming.text, ctx.account)
        except Invalid as invalid:
            ctx.out.append(replies.message(ctx.chat_id, ctx.text(invalid.key, **invalid.params)))
            self._ask_current_step(ctx, conversation)
            return
        if step is Step.LOCATION and conversation.flow is Flow.ONBOARDING:
            ctx.send(replies.message_removing_keyboard(ctx.chat_id, ctx.text("common.saved")))
        self._advance(ctx, conversation, Event.ACCEPTED, values)

    @staticmethod
    def _text_values(step: Step, text: str, account: Account) -> dict[str, object]:
        if step is Step.NAME:
            return {"name": validate_name(text)}
        if step is Step.AGE:
            return {"age": validate_age(text)}
        if step is Step.AGE_RANGE:
            low, high = validate_age_range(text, account.age or 25)
            return {"age_min": low, "age_max": high}
        return {"about": validate_about(text) or None}

    @staticmethod
    def _location_values(incoming: Incoming) -> dict[str, object]:
        if incoming.kind is Kind.LOCATION:
            latitude, longitude = validate_location(incoming.latitude, incoming.longitude)
            return {"latitude": latitude, "longitude": longitude, "city": None, "city_key": None}
        if incoming.kind is not Kind.TEXT:
            raise Invalid("errors.expected_location")
        city, key = validate_city(incoming.text)
        return {"city": city, "city_key": key, "latitude": None, "longitude": None}

    def _accept_photo(self, ctx: Context, conversation: Conversation) -> None:
        incoming = ctx.incoming
        if incoming.kind not in PHOTO_KINDS:
            raise Invalid("errors.expected_photo")
        ctx.account = self._ask(
            self._profile(ctx.user_id).add_photo(
                ctx.user_id,
                incoming.file_id,
                incoming.file_unique_id,
                incoming.mime_type,
                incoming.file_size,
                len(ctx.account.photos),
                ctx.chat_id if incoming.kind is Kind.DOCUMENT else None,
            )
        )
        owned = len(ctx.account.photos)
        self._deps.metrics.user_actions.labels(self._deps.metrics.node_id, "photo_added").inc()
        if (
            conversation.flow is Flow.ONBOARDING
            and transition(conversation, Event.ACCEPTED, owned) == conversation
        ):
            ctx.send(screens.photo_saved(ctx.chat_id, ctx.buttons, owned))
            return
        self._advance(ctx, conversation, Event.ACCEPTED)

    def _advance(
        self,
        ctx: Context,
        conversation: Conversation,
        event: Event,
        values: dict[str, object] | None = None,
    ) -> None:
        """Save the step's values, move the conversation on after an event and say what
        comes next. The values and the next onboarding step are one write, which hands back
        the account as it is now (ctx.account must be current when this is called)."""
        following = transition(conversation, event, len(ctx.account.photos))
        moves_onboarding = conversation.flow is Flow.ONBOARDING and following != conversation
        if values or moves_onboarding:
            next_step = following.step.value if following.step else None
            ctx.account = self._ask(
                self._profile(ctx.user_id).save(
                    ctx.user_id, values or {}, next_step if moves_onboarding else KEEP_STEP
                )
            )
        if following == conversation:
            return
        if conversation.flow is Flow.EDIT:
            self._deps.conversations.clear(ctx.user_id)
            # The location question showed a reply keyboard: saying "saved" takes it away.
            ctx.send(
                replies.message_removing_keyboard(ctx.chat_id, ctx.text("common.saved"))
                if conversation.step is Step.LOCATION
                else replies.message(ctx.chat_id, ctx.text("common.saved"))
            )
            self._show_own_profile(ctx)
            return
        if following.flow is Flow.ONBOARDING:
            self._ask_current_step(ctx, following)
            return
        self._deps.metrics.user_actions.labels(
            self._deps.metrics.node_id, "profile_completed"
        ).inc()
        ctx.say("onboarding.done")
        self._show_own_profile(ctx)

    # -- buttons --------------------------------------------------------------------------

    def _on_callback(self, ctx: Context) -> None:
        incoming = ctx.incoming
        parts = self._deps.signer.verify(ctx.user_id, incoming.callback_data)
        handler = self._callbacks.get(parts[0]) if parts else None
        if parts is None or handler is None:
            log.info(
                "button refused",
                user_id=ctx.user_id,
                update_id=incoming.update_id,
                reason="bad signature" if parts is None else "unknown action",
            )
            self._outdated(ctx)
            return
        handler(ctx, parts[1:])
        if not any(reply.method == "answerCallbackQuery" for reply in ctx.out):
            ctx.out.insert(0, replies.answer_callback(incoming.callback_id))

    def _outdated(self, ctx: Context) -> None:
        """Refuse an old, forged or foreign button; a pending question is asked again."""
        ctx.send(
            replies.answer_callback(
                ctx.incoming.callback_id, ctx.text("common.outdated_button"), alert=True
            )
        )
        conversation = self._conversation(ctx.account)
        if conversation.flow is not Flow.IDLE:
            self._ask_current_step(ctx, conversation)

    def _cb_step_choice(self, ctx: Context, args: list[str]) -> None:
        conversation = self._conversation(ctx.account)
        if len(args) != 2 or conversation.step is None or conversation.step.value != args[0]:
            self._outdated(ctx)
            if conversation.flow is Flow.IDLE and ctx.account.is_complete:
                # A question of the onboarding that is over: pressed late, or the last answer
                # handled again after its node died before replying. The finished profile is
                # where the user stands (and what that answer showed).
                self._show_own_profile(ctx)
            return
        step, value = conversation.step, args[1]
        account = ctx.account
        event = Event.ACCEPTED
        values: dict[str, object] | None = None
        try:
            if step is Step.GENDER and value in ("m", "f"):
                values = {"gender": value}
            elif step is Step.SEEKING and value in ("m", "f", "any"):
                values = {"seeking": value}
            elif step is Step.AGE_RANGE and value == "keep":
                low, high = default_age_range(account.age or 25)
                values = {"age_min": low, "age_max": high}
            elif (step, value) in ((Step.ABOUT, "skip"), (Step.INTERESTS, "done")):
                event = Event.DONE
            elif step is Step.INTERESTS and value.isdigit() and int(value) < len(INTERESTS):
                self._toggle_interest(ctx, INTERESTS[int(value)])
                return
            elif step is Step.PHOTOS and value == "done":
                if not account.photos:
                    raise Invalid("errors.expected_photo")
                event = Event.DONE
            else:
                self._outdated(ctx)
                return
        except Invalid as invalid:
            ctx.send(
                replies.answer_callback(
                    ctx.incoming.callback_id, ctx.text(invalid.key, **invalid.params), True
                )
            )
            return
        try:
            self._advance(ctx, conversation, event, values)
        except TransitionError:
            self._outdated(ctx)

    def _toggle_interest(self, ctx: Context, interest: str) -> None:
        chosen = toggle_interest(ctx.account.interests, interest, INTERESTS, MAX_INTERESTS)
        ctx.account = self._ask(
            self._profile(ctx.user_id).save(ctx.user_id, {"interests": list(chosen)})
        )
        ctx.send(
            replies.answer_callback(ctx.incoming.callback_id),
            replies.edit_keyboard(
                ctx.chat_id,
                ctx.incoming.message_id,
                screens.interests_keyboard(ctx.buttons, chosen),
            ),
        )

    def _cb_edit(self, ctx: Context, args: list[str]) -> None:
        if not args or args[0] not in {step.value for step in screens.EDITABLE_STEPS}:
            self._outdated(ctx)
            return
        if not self._require_complete(ctx):
            return
        step = Step(args[0])
        self._deps.conversations.set(ctx.user_id, {"edit": step.value})
        ctx.say("profile.ask_new_value")
        self._ask_current_step(ctx, Conversation.editing(step))

    def _cb_photos(self, ctx: Context, args: list[str]) -> None:
        if self._require_complete(ctx):
            self._show_photo_manager(ctx)

    def _cb_add_photo(self, ctx: Context, args: list[str]) -> None:
        if not self._require_complete(ctx):
            return
        if len(ctx.account.photos) >= MAX_PHOTOS:
            ctx.say("errors.photo_limit", limit=MAX_PHOTOS)
            return
        self._deps.conversations.set(ctx.user_id, {"edit": Step.PHOTOS.value})
        ctx.say("profile.send_new_photo")

    def _photo_arg(self, ctx: Context, args: list[str]) -> UUID | None:
        try:
            photo_id = UUID(hex=args[0]) if args else None
        except ValueError:
            photo_id = None
        if photo_id is None or all(photo.id != photo_id for photo in ctx.account.photos):
            ctx.send(
                replies.answer_callback(
                    ctx.incoming.callback_id, ctx.text("errors.photo_missing"), alert=True
                )
            )
            return None
        return photo_id

    def _cb_delete_photo(self, ctx: Context, args: list[str]) -> None:
        photo_id = self._photo_arg(ctx, args)
        if photo_id is None:
            return
        if len(ctx.account.photos) <= 1:
            ctx.send(
                replies.answer_callback(
                    ctx.incoming.callback_id, ctx.text("errors.photo_last"), alert=True
                )
            )
            return
        self._ask(self._profile(ctx.user_id).delete_photo(ctx.user_id, photo_id))
        self._deps.metrics.user_actions.labels(self._deps.metrics.node_id, "photo_deleted").inc()
        ctx.say("profile.photo_deleted")
        self._reload(ctx)
        self._show_photo_manager(ctx)

    def _cb_main_photo(self, ctx: Context, args: list[str]) -> None:
        photo_id = self._photo_arg(ctx, args)
        if photo_id is None:
            return
        self._ask(self._profile(ctx.user_id).make_main_photo(ctx.user_id, photo_id))
        ctx.say("profile.photo_made_main")
        self._reload(ctx)
        self._show_photo_manager(ctx)

    def _cb_back_to_profile(self, ctx: Context, args: list[str]) -> None:
        if self._require_complete(ctx):
            self._deps.conversations.clear(ctx.user_id)
            self._show_own_profile(ctx)

    def _cb_pause(self, ctx: Context, args: list[str]) -> None:
        if not self._require_complete(ctx):
            return
        paused = not ctx.account.is_paused
        self._ask(self._profile(ctx.user_id).set_paused(ctx.user_id, paused))
        self._deps.metrics.user_actions.labels(
            self._deps.metrics.node_id, "paused" if paused else "resumed"
        ).inc()
        ctx.say("profile.paused" if paused else "profile.resumed")
        ctx.send(
            replies.edit_keyboard(
                ctx.chat_id, ctx.incoming.message_id, screens.profile_menu(ctx.buttons, paused)
            )
        )

    def _cb_delete_account(self, ctx: Context, args: list[str]) -> None:
        choice = args[0] if args else ""
        if choice == "ask":
            ctx.send(screens.delete_confirmation(ctx.chat_id, ctx.buttons))
        elif choice == "yes":
            self._ask(self._profile(ctx.user_id).delete_account(ctx.user_id))
            self._deps.conversations.clear(ctx.user_id)
            self._deps.metrics.user_actions.labels(self._deps.metrics.node_id, "deleted").inc()
            ctx.send(replies.message_removing_keyboard(ctx.chat_id, ctx.text("profile.deleted")))
        elif choice == "no":
            ctx.say("profile.delete_kept")
        else:
            self._outdated(ctx)

    def _cb_language(self, ctx: Context, args: list[str]) -> None:
        if not args or args[0] not in ("en", "ru"):
            self._outdated(ctx)
            return
        self._ask(self._profile(ctx.user_id).set_language(ctx.user_id, args[0]))
        ctx.buttons = Buttons(self._deps.signer, ctx.user_id, args[0])
        ctx.say("language.set")
        conversation = self._conversation(ctx.account)
        if conversation.flow is not Flow.IDLE:
            self._ask_current_step(ctx, conversation)

    # -- screens --------------------------------------------------------------------------

    def _show_own_profile(self, ctx: Context) -> None:
        account = ctx.account
        ctx.send(
            *screens.own_profile(
                ctx.chat_id,
                ctx.buttons,
                account,
                [photo.telegram_file_id for photo in account.photos],
                account.is_paused,
            )
        )

    def _show_photo_manager(self, ctx: Context) -> None:
        ctx.send(
            *screens.photo_manager(
                ctx.chat_id,
                ctx.buttons,
                [(photo.id.hex, photo.telegram_file_id) for photo in ctx.account.photos],
            )
        )


def _stale(account: Account) -> bool:
    return time.time() - account.last_active_at.timestamp() > 60


class SessionActorProxy(ActorMemberMixin, pykka.ActorProxy[SessionActor]):
    handle = proxy_method(SessionActor.handle)
