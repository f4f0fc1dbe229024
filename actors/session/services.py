"""What the session's controllers share: asking the actors, the conversation, and the few
screens and answers every area needs (the own profile, a question asked again, an outdated
button). Each controller is given one Services; none reaches into another controller."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

import pykka

from actors.chat_relay import ChatRelayActorProxy
from actors.matcher import MatcherActorProxy
from actors.profile import ProfileActorProxy
from actors.session.context import Context, SessionDeps
from actors.session.router import Command
from bot_api import replies
from bot_api.incoming import Kind
from bot_api.replies import Reply
from domain.onboarding import Conversation, Flow, Step, resume_step
from presentation import screens
from presentation.cards import Origin
from storage import db
from storage.accounts import Account
from storage.fence import Within

ASK_TIMEOUT_SECONDS = 60.0

# Conversation-state keys of the modes a message outside any question can be for (the own
# profile's edit uses "edit"); each mode's controller takes its input.
CHAT = "chat"
LIKE_MESSAGE = "like_message"
REPORT_COMMENT = "report_comment"
ORIGIN = "origin"
# Issue 14: a new profile video, a verification video note, and a 💌 like's message waiting
# for its confirmation (stored under DRAFT next to LIKE_MESSAGE).
PROFILE_VIDEO = "profile_video"
VERIFY = "verify"
DRAFT = "draft"
MODES = (CHAT, LIKE_MESSAGE, REPORT_COMMENT, PROFILE_VIDEO, VERIFY)
# Where a user stood when a late button press showed it to them (issue 12): shown once.
REMINDED = "reminded"


P = TypeVar("P")


def _within(proxy: P) -> P:
    """The proxy, or one whose calls run within this thread's fence (the calls look the
    same to the caller: a typed proxy, as actors.pool casts it)."""
    fence = db.ambient()
    return proxy if fence is None else cast(P, Within(proxy, fence))


def _prefaced(preface: str | None, text: str) -> str:
    return text if preface is None else f"{preface}\n\n{text}"


class Services:
    def __init__(self, deps: SessionDeps, commands: Sequence[Command]) -> None:
        self.deps = deps
        self.commands = commands  # the router's table, for /help

    # -- the actors -------------------------------------------------------------------------

    def ask(self, future: pykka.Future[Any]) -> Any:
        return future.get(timeout=ASK_TIMEOUT_SECONDS)

    # Inside the fence of the update being handled (storage.fence), the actors' calls run
    # with its connection: their writes are the update's, committed with it.

    def profile(self, user_id: int) -> ProfileActorProxy:
        return _within(self.deps.profiles.for_user(user_id))

    def matcher(self, ctx: Context) -> MatcherActorProxy:
        return _within(self.deps.discovery.matchers.for_user(ctx.user_id))

    def relay(self, ctx: Context) -> ChatRelayActorProxy:
        return _within(self.deps.discovery.relays.for_user(ctx.user_id))

    def count(self, action: str) -> None:
        """One more of a user action in the metrics."""
        metrics = self.deps.metrics
        metrics.user_actions.labels(metrics.node_id, action).inc()

    def reload(self, ctx: Context) -> Account:
        account = self.deps.accounts.get(ctx.user_id)
        if account is None:
            raise LookupError(f"account {ctx.user_id} vanished while handling an update")
        ctx.account = account
        return account

    # -- the conversation -------------------------------------------------------------------

    def conversation(self, account: Account) -> Conversation:
        step = resume_step(account.onboarding_step)
        if step is not None:
            return Conversation.onboarding(step)
        state = self.deps.conversations.get(account.id)
        editing = state.get("edit")
        if isinstance(editing, str) and editing in Step.__members__.values():
            return Conversation.editing(Step(editing))
        return Conversation.idle()

    def clear(self, ctx: Context) -> None:
        self.deps.conversations.clear(ctx.user_id)

    def mode(self, ctx: Context) -> dict[str, Any]:
        """The conversation state when it is one of the MODES, else empty."""
        state = self.deps.conversations.get(ctx.user_id)
        return state if any(key in state for key in MODES) else {}

    def set_mode(self, ctx: Context, key: str, value: int, origin: Origin | None = None) -> None:
        state: dict[str, Any] = {key: value}
        if origin is not None:
            state[ORIGIN] = origin.value
        self.deps.conversations.set(ctx.user_id, state)

    def leave_mode(self, ctx: Context) -> bool:
        """Leave a mode (/stop, /cancel); False when in none."""
        state = self.mode(ctx)
        if not state:
            return False
        self.clear(ctx)
        if CHAT in state:
            ctx.say("chat.left")
        else:
            ctx.say("common.edit_cancelled")
        return True

    def require_complete(self, ctx: Context) -> bool:
        """True for a finished profile; otherwise asks to finish onboarding first."""
        conversation = self.conversation(ctx.account)
        if conversation.flow is Flow.ONBOARDING:
            self.ask_current_step(ctx, conversation, ctx.text("common.finish_profile_first"))
            return False
        return True

    def ask_current_step(
        self,
        ctx: Context,
        conversation: Conversation,
        preface: str | None = None,
        *,
        edit: bool = False,
    ) -> None:
        """Ask the step's question, after preface in the same message if given; with edit,
        by editing the message the pressed button is on into it where an edit can show it. A
        user who left onboarding with /cancel is back in it."""
        assert conversation.step is not None
        if conversation.flow is Flow.ONBOARDING:
            self._leave_other_states(ctx, conversation.step)
        elif conversation.step is Step.PHOTOS:
            text = ctx.text("profile.send_new_photo")
            ctx.send(replies.message(ctx.chat_id, _prefaced(preface, text)))
            return
        account = ctx.account
        question = screens.ask_step(
            conversation.step,
            ctx.chat_id,
            ctx.buttons,
            account.age,
            account.interests,
            len(account.photos),
            onboarding=conversation.flow is Flow.ONBOARDING,
        )
        if preface is not None:
            text = _prefaced(preface, question.params["text"])
            question = replies.Reply(question.method, {**question.params, "text": text})
        if edit:
            self.edit_or_send(ctx, question)
        else:
            ctx.send(question)

    def _leave_other_states(self, ctx: Context, step: Step) -> None:
        """Back on an onboarding question: whatever state was kept (a /cancel, a mode) is
        over, except the note that this very question was shown again after a late press."""
        if ctx.state_empty:
            return
        state = self.deps.conversations.get(ctx.user_id)
        if state and state != {REMINDED: f"{Flow.ONBOARDING.value}:{step.value}"}:
            self.clear(ctx)

    def edit_or_send(self, ctx: Context, reply: Reply) -> None:
        """The pressed button's message edited into ``reply`` (one message per press), or
        ``reply`` sent when the message cannot become it: not a text message (a photo, a
        voice message, a video note, a sticker), or a reply keyboard to show."""
        ctx.send(self.edited(ctx, reply) or reply)

    def edited(self, ctx: Context, reply: Reply) -> Reply | None:
        """The edit of the pressed button's message into ``reply``, if one can show it: a
        text into a text, a photo or a video into a photo or a video."""
        incoming = ctx.incoming
        if not (incoming.callback_id and incoming.message_id):
            return None
        if incoming.button_on is Kind.TEXT:
            return replies.as_edit(reply, incoming.message_id)
        if incoming.button_on in (Kind.PHOTO, Kind.VIDEO):
            return replies.as_media_edit(reply, incoming.message_id)
        return None

    def late_press(self, ctx: Context, where: str) -> bool:
        """A button of a question already answered: answered quietly; True the first time
        for ``where`` the user stands now (they are then shown it once), False after."""
        ctx.send(replies.answer_callback(ctx.incoming.callback_id))
        state = self.deps.conversations.get(ctx.user_id)
        if state.get(REMINDED) == where:
            return False
        self.deps.conversations.set(ctx.user_id, {**state, REMINDED: where})
        return True

    # -- answers every area gives -----------------------------------------------------------

    def is_admin(self, ctx: Context) -> bool:
        return ctx.user_id in self.deps.admin_ids

    def unknown_command(self, ctx: Context) -> None:
        ctx.say("common.unknown_command")

    def outdated(self, ctx: Context) -> None:
        """Refuse an old, forged or foreign button; a pending question is asked again."""
        ctx.send(
            replies.answer_callback(
                ctx.incoming.callback_id, ctx.text("common.outdated_button"), alert=True
            )
        )
        conversation = self.conversation(ctx.account)
        if conversation.flow is not Flow.IDLE:
            self.ask_current_step(ctx, conversation)

    def user_arg(self, ctx: Context, args: list[str], index: int = 0) -> int | None:
        """A user id from button data, or None (answered as an outdated button)."""
        try:
            return int(args[index])
        except (IndexError, ValueError):
            self.outdated(ctx)
            return None

    def answer(
        self, ctx: Context, key: str | None = None, alert: bool = False, **values: object
    ) -> None:
        text = ctx.text(key, **values) if key else None
        ctx.send(replies.answer_callback(ctx.incoming.callback_id, text, alert))

    def drop_buttons(self, ctx: Context) -> None:
        """Take the buttons off the message a pressed button was on (a decided card)."""
        ctx.send(replies.edit_keyboard(ctx.chat_id, ctx.incoming.message_id, None))

    def show_own_profile(self, ctx: Context, note: str | None = None) -> None:
        """The own card and its menu; ``note`` heads the menu (a finished onboarding)."""
        account = ctx.account
        ctx.send(
            *screens.own_profile(
                ctx.chat_id,
                ctx.buttons,
                account,
                [photo.telegram_file_id for photo in account.photos],
                account.is_paused,
                video_file_id=account.video.telegram_file_id if account.video else None,
                verified=account.is_verified,
                note=note,
            )
        )
