"""The session actor's discovery side: browsing, likes, matches, chat mode, safety, settings
and moderation, as a mixin the SessionActor inherits.

It registers its commands and buttons into the session's dispatch tables and takes the input
of its own conversation modes (chat, a like's message, a report's comment), kept in the
session's ConversationStore under keys of its own. The work is asked of the matcher and chat
relay actors; the replies to the acting user are rendered here from presentation.cards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from actors.chat_relay import RELAYED_KINDS, ChatMessage, ChatRelayActorProxy
from actors.matcher import MatcherActorProxy, viewer_of
from actors.pool import ActorPool
from bot_api import replies
from bot_api.incoming import Kind
from presentation import cards
from presentation.cards import LIKE_MESSAGE_MAX, REPORT_COMMENT_MAX, Action, Origin
from storage.chats import ChatStatus
from storage.likes import LikeResult, LikeStatus

if TYPE_CHECKING:
    import pykka

    from actors.profile import ProfileActorProxy
    from actors.session import Context, SessionDeps
    from storage.accounts import Account

# Conversation-state keys of the discovery modes (the session's own modes use "edit").
CHAT = "chat"
LIKE_MESSAGE = "like_message"
REPORT_COMMENT = "report_comment"
ORIGIN = "origin"
DISCOVERY_MODES = (CHAT, LIKE_MESSAGE, REPORT_COMMENT)

CHAT_REFUSALS = {
    ChatStatus.UNMATCHED: "chat.ended",
    ChatStatus.BLOCKED: "chat.blocked",
    ChatStatus.NOT_MATCHED: "chat.not_matched",
    ChatStatus.UNAVAILABLE: "chat.unavailable",
}


@dataclass(frozen=True)
class DiscoveryDeps:
    matchers: ActorPool[MatcherActorProxy]
    relays: ActorPool[ChatRelayActorProxy]
    daily_like_limit: int = 100  # only to tell the user the limit; the matcher enforces it


Handler = Callable[["Context"], None]
ButtonHandler = Callable[["Context", list[str]], None]


class DiscoveryMixin:
    """Needs of its host (SessionActor): _deps, the dispatch tables, _ask, _profile,
    _reload, _require_complete, _outdated, _cmd_unknown."""

    _deps: SessionDeps
    _commands: dict[str, Handler]
    _callbacks: dict[str, ButtonHandler]

    if TYPE_CHECKING:

        def _ask(self, future: pykka.Future[Any]) -> Any: ...
        def _profile(self, user_id: int) -> ProfileActorProxy: ...
        def _reload(self, ctx: Context) -> Account: ...
        def _require_complete(self, ctx: Context) -> bool: ...
        def _outdated(self, ctx: Context) -> None: ...
        def _cmd_unknown(self, ctx: Context) -> None: ...

    def _register_discovery(self) -> None:
        self._commands.update(
            {
                "browse": self._cmd_browse,
                "likes": self._cmd_likes,
                "matches": self._cmd_matches,
                "settings": self._cmd_settings,
                "stop": self._cmd_stop,
                "reports": self._cmd_reports,
                "ban": self._cmd_ban,
                "unban": self._cmd_unban,
            }
        )
        session_cancel = self._commands["cancel"]

        def cancel(ctx: Context) -> None:
            if not self._leave_mode(ctx):
                session_cancel(ctx)

        self._commands["cancel"] = cancel
        buttons: dict[Action, ButtonHandler] = {
            Action.LIKE: self._cb_like,
            Action.LIKE_WITH_MESSAGE: self._cb_like_with_message,
            Action.SKIP: self._cb_skip,
            Action.UNDO_SKIP: self._cb_undo_skip,
            Action.REPORT: self._cb_report,
            Action.STOP_BROWSING: self._cb_stop_browsing,
            Action.BROWSE: self._cb_browse,
            Action.LIKES: self._cb_likes,
            Action.LIKER_LIKE: self._cb_liker_like,
            Action.LIKER_SKIP: self._cb_liker_skip,
            Action.MATCHES: self._cb_matches,
            Action.MATCH_OPEN: self._cb_match_open,
            Action.WRITE: self._cb_write,
            Action.UNMATCH: self._cb_unmatch,
            Action.BLOCK: self._cb_block,
            Action.MATCH_REPORT: self._cb_match_report,
            Action.LEAVE_CHAT: self._cb_leave_chat,
            Action.REPORT_REASON: self._cb_report_reason,
            Action.REPORT_NO_COMMENT: self._cb_report_no_comment,
            Action.SETTINGS: self._cb_settings,
            Action.RADIUS_MENU: self._cb_radius_menu,
            Action.RADIUS: self._cb_radius,
            Action.SHOW_USERNAME: self._cb_show_username,
            Action.BAN: self._cb_ban,
            Action.DISMISS: self._cb_dismiss,
        }
        self._callbacks.update({action.value: handler for action, handler in buttons.items()})

    # -- plumbing -------------------------------------------------------------------------

    @property
    def _discovery(self) -> DiscoveryDeps:
        deps = self._deps.discovery
        if deps is None:
            raise RuntimeError("the session was started without discovery actors")
        return deps

    def _matcher(self, ctx: Context) -> MatcherActorProxy:
        return self._discovery.matchers.for_user(ctx.user_id)

    def _relay_actor(self, ctx: Context) -> ChatRelayActorProxy:
        return self._discovery.relays.for_user(ctx.user_id)

    def _mode(self, ctx: Context) -> dict[str, Any]:
        state = self._deps.conversations.get(ctx.user_id)
        return state if any(key in state for key in DISCOVERY_MODES) else {}

    def _set_mode(self, ctx: Context, key: str, value: int, origin: Origin | None = None) -> None:
        state: dict[str, Any] = {key: value}
        if origin is not None:
            state[ORIGIN] = origin.value
        self._deps.conversations.set(ctx.user_id, state)

    def _user_arg(self, ctx: Context, args: list[str], index: int = 0) -> int | None:
        """A user id from button data, or None (answered as an outdated button)."""
        try:
            return int(args[index])
        except (IndexError, ValueError):
            self._outdated(ctx)
            return None

    def _answer(
        self, ctx: Context, key: str | None = None, alert: bool = False, **values: object
    ) -> None:
        text = ctx.text(key, **values) if key else None
        ctx.send(replies.answer_callback(ctx.incoming.callback_id, text, alert))

    def _drop_buttons(self, ctx: Context) -> None:
        """Take the buttons off the message a pressed button was on (a decided card)."""
        ctx.send(replies.edit_keyboard(ctx.chat_id, ctx.incoming.message_id, None))

    def _is_admin(self, ctx: Context) -> bool:
        return ctx.user_id in self._deps.admin_ids

    # -- input in a discovery mode --------------------------------------------------------

    def _discovery_input(self, ctx: Context) -> bool:
        """Take a message that is not a command when a discovery mode expects it."""
        state = self._mode(ctx)
        if CHAT in state:
            self._relay(ctx, int(state[CHAT]))
        elif LIKE_MESSAGE in state:
            self._like_message_input(
                ctx, int(state[LIKE_MESSAGE]), Origin(state.get(ORIGIN, Origin.BROWSE.value))
            )
        elif REPORT_COMMENT in state:
            self._report_comment_input(
                ctx, int(state[REPORT_COMMENT]), Origin(state.get(ORIGIN, Origin.BROWSE.value))
            )
        else:
            return False
        return True

    def _leave_mode(self, ctx: Context) -> bool:
        """Leave a discovery mode (/stop, /cancel); False when in none."""
        state = self._mode(ctx)
        if not state:
            return False
        self._deps.conversations.clear(ctx.user_id)
        if CHAT in state:
            ctx.say("chat.left")
        else:
            ctx.say("common.edit_cancelled")
        return True

    # -- browsing -------------------------------------------------------------------------

    def _cmd_browse(self, ctx: Context) -> None:
        if not self._require_complete(ctx):
            return
        if self._mode(ctx) and CHAT not in self._mode(ctx):
            self._deps.conversations.clear(ctx.user_id)
        self._show_next_card(ctx)

    def _cb_browse(self, ctx: Context, args: list[str]) -> None:
        self._cmd_browse(ctx)

    def _show_next_card(self, ctx: Context, undo_skip_of: int | None = None) -> None:
        found = self._ask(self._matcher(ctx).next_card(ctx.account))
        if found is None:
            ctx.send(cards.nobody_left(ctx.chat_id, ctx.buttons, ctx.account.has_location))
            return
        ctx.send(
            cards.browse_card(
                ctx.chat_id,
                ctx.buttons,
                viewer_of(ctx.account),
                found.card,
                undo_skip_of=undo_skip_of,
                widened_to_km=found.widened_to_km,
            )
        )

    def _cb_like(self, ctx: Context, args: list[str]) -> None:
        target = self._user_arg(ctx, args)
        if target is not None:
            self._like(ctx, target, None, Origin.BROWSE)

    def _like(self, ctx: Context, target: int, message: str | None, origin: Origin) -> None:
        """Like someone shown to the user; then the next card (or the next liker)."""
        result: LikeResult = self._ask(self._matcher(ctx).like(ctx.account, target, message))
        status = result.status
        if status is LikeStatus.NOT_SHOWN:
            self._refuse(ctx, "common.outdated_button")
            return
        if status is LikeStatus.UNAVAILABLE:
            self._refuse(ctx, "browse.unavailable")
        elif status is LikeStatus.ALREADY_LIKED:
            self._refuse(ctx, "browse.already_liked")
            return
        elif status is LikeStatus.LIMIT_REACHED:
            ctx.say("browse.limit_reached", limit=self._discovery.daily_like_limit)
            return
        elif status is LikeStatus.MATCHED:
            self._tell_match(ctx, target, result)
        elif ctx.incoming.callback_id:
            self._answer(ctx, "browse.liked")
        if ctx.incoming.callback_id:
            self._drop_buttons(ctx)
        self._continue(ctx, origin)

    def _refuse(self, ctx: Context, key: str) -> None:
        if ctx.incoming.callback_id:
            self._answer(ctx, key, alert=True)
        else:
            ctx.say(key)

    def _tell_match(self, ctx: Context, target: int, result: LikeResult) -> None:
        card = self._ask(self._matcher(ctx).card(ctx.user_id, target))
        other = result.target
        if card is None or other is None:
            return
        name = cards.display_name(ctx.language, other.name, other.username, other.show_username)
        ctx.send(cards.match_notice(ctx.chat_id, ctx.buttons, viewer_of(ctx.account), card, name))

    def _continue(self, ctx: Context, origin: Origin) -> None:
        """After a decision: the next card of the feed, or the next liker."""
        if origin is Origin.BROWSE:
            self._show_next_card(ctx)
        else:
            self._show_next_liker(ctx)

    def _cb_like_with_message(self, ctx: Context, args: list[str]) -> None:
        target = self._user_arg(ctx, args)
        if target is None:
            return
        self._set_mode(ctx, LIKE_MESSAGE, target, Origin.BROWSE)
        ctx.say("browse.ask_like_message", limit=LIKE_MESSAGE_MAX)

    def _like_message_input(self, ctx: Context, target: int, origin: Origin) -> None:
        text = ctx.incoming.text.strip()
        if ctx.incoming.kind is not Kind.TEXT or not text:
            ctx.say("browse.like_message_text_only", limit=LIKE_MESSAGE_MAX)
            return
        if len(text) > LIKE_MESSAGE_MAX:
            ctx.say("errors.about_length", length=len(text), limit=LIKE_MESSAGE_MAX)
            return
        self._deps.conversations.clear(ctx.user_id)
        self._like(ctx, target, text, origin)

    def _cb_skip(self, ctx: Context, args: list[str]) -> None:
        target = self._user_arg(ctx, args)
        if target is None:
            return
        if not self._ask(self._matcher(ctx).skip(ctx.user_id, target)):
            self._outdated(ctx)
            return
        self._drop_buttons(ctx)
        self._show_next_card(ctx, undo_skip_of=target)

    def _cb_undo_skip(self, ctx: Context, args: list[str]) -> None:
        skipped, current = self._user_arg(ctx, args, 0), self._user_arg(ctx, args, 1)
        if skipped is None or current is None:
            return
        if not self._ask(self._matcher(ctx).undo_skip(ctx.user_id, skipped, current)):
            self._answer(ctx, "browse.undo_expired", alert=True)
            return
        self._drop_buttons(ctx)
        self._show_next_card(ctx)

    def _cb_stop_browsing(self, ctx: Context, args: list[str]) -> None:
        self._drop_buttons(ctx)
        ctx.say("browse.stopped")

    # -- likes received -------------------------------------------------------------------

    def _cmd_likes(self, ctx: Context) -> None:
        if self._require_complete(ctx):
            self._show_next_liker(ctx)

    def _cb_likes(self, ctx: Context, args: list[str]) -> None:
        self._cmd_likes(ctx)

    def _show_next_liker(self, ctx: Context) -> None:
        found = self._ask(self._matcher(ctx).next_liker(ctx.user_id))
        if found is None:
            ctx.say("likes.none")
            return
        card, remaining = found
        ctx.send(
            cards.liker_card(ctx.chat_id, ctx.buttons, viewer_of(ctx.account), card, remaining)
        )

    def _cb_liker_like(self, ctx: Context, args: list[str]) -> None:
        target = self._user_arg(ctx, args)
        if target is not None:
            self._like(ctx, target, None, Origin.MATCH)

    def _cb_liker_skip(self, ctx: Context, args: list[str]) -> None:
        target = self._user_arg(ctx, args)
        if target is None:
            return
        if not self._ask(self._matcher(ctx).skip(ctx.user_id, target)):
            self._outdated(ctx)
            return
        self._drop_buttons(ctx)
        self._show_next_liker(ctx)

    # -- matches and chat -----------------------------------------------------------------

    def _cmd_matches(self, ctx: Context) -> None:
        if not self._require_complete(ctx):
            return
        found = self._ask(self._matcher(ctx).matches(ctx.user_id))
        ctx.send(cards.matches_list(ctx.chat_id, ctx.buttons, found, datetime.now(UTC)))

    def _cb_matches(self, ctx: Context, args: list[str]) -> None:
        self._cmd_matches(ctx)

    def _cb_match_open(self, ctx: Context, args: list[str]) -> None:
        other = self._user_arg(ctx, args)
        if other is None:
            return
        matcher = self._matcher(ctx)
        match = self._ask(matcher.active_match(ctx.user_id, other))
        card = self._ask(matcher.card(ctx.user_id, other)) if match else None
        if match is None or card is None:
            self._answer(ctx, "chat.not_matched", alert=True)
            return
        ctx.send(
            cards.match_card(
                ctx.chat_id, ctx.buttons, viewer_of(ctx.account), card, match, datetime.now(UTC)
            )
        )

    def _cb_write(self, ctx: Context, args: list[str]) -> None:
        other = self._user_arg(ctx, args)
        if other is None:
            return
        check = self._ask(self._relay_actor(ctx).status(ctx.user_id, other))
        if check.status is not ChatStatus.ACTIVE or check.partner is None:
            self._answer(ctx, CHAT_REFUSALS.get(check.status, "chat.not_matched"), alert=True)
            return
        self._set_mode(ctx, CHAT, other)
        ctx.send(cards.chat_opened(ctx.chat_id, ctx.buttons, check.partner.name))

    def _relay(self, ctx: Context, other: int) -> None:
        incoming = ctx.incoming
        if incoming.kind not in RELAYED_KINDS:
            ctx.say("chat.cannot_relay")
            return
        status = self._ask(
            self._relay_actor(ctx).relay(
                ChatMessage(
                    sender_id=ctx.user_id,
                    recipient_id=other,
                    update_id=incoming.update_id,
                    kind=incoming.kind,
                    sender_chat_id=ctx.chat_id,
                    message_id=incoming.message_id,
                    text=incoming.text,
                )
            )
        )
        if status is not ChatStatus.ACTIVE:
            self._deps.conversations.clear(ctx.user_id)
            ctx.say(CHAT_REFUSALS[status])

    def _cb_leave_chat(self, ctx: Context, args: list[str]) -> None:
        if CHAT in self._mode(ctx):
            self._deps.conversations.clear(ctx.user_id)
        self._drop_buttons(ctx)
        ctx.say("chat.left")

    def _cmd_stop(self, ctx: Context) -> None:
        if not self._leave_mode(ctx):
            ctx.say("browse.stopped")

    # -- safety ---------------------------------------------------------------------------

    def _confirmed(
        self, ctx: Context, args: list[str], action: Action, question: str, other: int
    ) -> bool:
        """True once the user said yes; otherwise asks (with the other's name)."""
        if len(args) > 1 and args[1] == "y":
            return True
        card = self._ask(self._matcher(ctx).card(ctx.user_id, other))
        if card is None:
            self._outdated(ctx)
            return False
        ctx.send(cards.confirm(ctx.chat_id, ctx.buttons, question, action, other, card.name))
        return False

    def _end_chat_with(self, ctx: Context, other: int) -> None:
        if self._mode(ctx).get(CHAT) == other:
            self._deps.conversations.clear(ctx.user_id)

    def _cb_unmatch(self, ctx: Context, args: list[str]) -> None:
        other = self._user_arg(ctx, args)
        if other is None or not self._confirmed(
            ctx, args, Action.UNMATCH, "safety.confirm_unmatch", other
        ):
            return
        if not self._ask(self._matcher(ctx).unmatch(ctx.user_id, other)):
            self._answer(ctx, "chat.not_matched", alert=True)
            return
        self._end_chat_with(ctx, other)
        self._drop_buttons(ctx)
        ctx.say("safety.unmatched")

    def _cb_block(self, ctx: Context, args: list[str]) -> None:
        other = self._user_arg(ctx, args)
        if other is None or not self._confirmed(
            ctx, args, Action.BLOCK, "safety.confirm_block", other
        ):
            return
        if not self._ask(self._matcher(ctx).block(ctx.user_id, other)):
            self._outdated(ctx)
            return
        self._end_chat_with(ctx, other)
        self._drop_buttons(ctx)
        ctx.say("safety.blocked")

    def _cb_report(self, ctx: Context, args: list[str]) -> None:
        target = self._user_arg(ctx, args)
        if target is not None:
            ctx.send(cards.report_reasons(ctx.chat_id, ctx.buttons, target, Origin.BROWSE))

    def _cb_match_report(self, ctx: Context, args: list[str]) -> None:
        target = self._user_arg(ctx, args)
        if target is not None:
            ctx.send(cards.report_reasons(ctx.chat_id, ctx.buttons, target, Origin.MATCH))

    def _cb_report_reason(self, ctx: Context, args: list[str]) -> None:
        target = self._user_arg(ctx, args)
        if target is None:
            return
        reason = args[1] if len(args) > 2 else ""
        origin = args[2] if len(args) > 2 else ""
        if reason not in cards.REPORT_REASONS or origin not in {o.value for o in Origin}:
            self._outdated(ctx)
            return
        matcher = self._matcher(ctx)
        if not self._ask(matcher.report(ctx.user_id, target, reason)):
            self._outdated(ctx)
            return
        if origin == Origin.BROWSE.value:
            self._ask(matcher.skip(ctx.user_id, target))
        self._drop_buttons(ctx)
        self._set_mode(ctx, REPORT_COMMENT, target, Origin(origin))
        ctx.send(cards.ask_report_comment(ctx.chat_id, ctx.buttons))

    def _report_comment_input(self, ctx: Context, target: int, origin: Origin) -> None:
        text = ctx.incoming.text.strip()
        if ctx.incoming.kind is not Kind.TEXT or not text:
            ctx.say("errors.expected_text")
            return
        if len(text) > REPORT_COMMENT_MAX:
            ctx.say("errors.about_length", length=len(text), limit=REPORT_COMMENT_MAX)
            return
        self._ask(self._matcher(ctx).comment_report(ctx.user_id, target, text))
        self._after_report(ctx, origin)

    def _cb_report_no_comment(self, ctx: Context, args: list[str]) -> None:
        state = self._mode(ctx)
        if REPORT_COMMENT not in state:
            self._outdated(ctx)
            return
        self._drop_buttons(ctx)
        self._after_report(ctx, Origin(state.get(ORIGIN, Origin.BROWSE.value)))

    def _after_report(self, ctx: Context, origin: Origin) -> None:
        self._deps.conversations.clear(ctx.user_id)
        ctx.say("safety.reported")
        if origin is Origin.BROWSE:
            self._show_next_card(ctx)

    # -- settings -------------------------------------------------------------------------

    def _cmd_settings(self, ctx: Context) -> None:
        if not self._require_complete(ctx):
            return
        account = ctx.account
        ctx.send(
            cards.settings_screen(
                ctx.chat_id,
                ctx.buttons,
                seeking=account.seeking,
                age_min=account.age_min,
                age_max=account.age_max,
                radius_km=account.radius_km,
                has_location=account.has_location,
                show_username=account.show_username,
            )
        )

    def _cb_settings(self, ctx: Context, args: list[str]) -> None:
        self._cmd_settings(ctx)

    def _cb_radius_menu(self, ctx: Context, args: list[str]) -> None:
        ctx.send(cards.radius_choices(ctx.chat_id, ctx.buttons, ctx.account.radius_km))

    def _cb_radius(self, ctx: Context, args: list[str]) -> None:
        km = int(args[0]) if args and args[0].isdigit() else 0
        if km not in cards.RADIUS_CHOICES_KM:
            self._outdated(ctx)
            return
        ctx.account = self._ask(self._profile(ctx.user_id).save(ctx.user_id, {"radius_km": km}))
        self._drop_buttons(ctx)
        ctx.say("settings.radius_set", km=km)
        self._cmd_settings(ctx)

    def _cb_show_username(self, ctx: Context, args: list[str]) -> None:
        show = not ctx.account.show_username
        self._ask(self._matcher(ctx).set_show_username(ctx.user_id, show))
        self._drop_buttons(ctx)
        ctx.say("settings.username_now_shown" if show else "settings.username_now_hidden")
        self._reload(ctx)
        self._cmd_settings(ctx)

    # -- moderation -----------------------------------------------------------------------

    def _cmd_reports(self, ctx: Context) -> None:
        if not self._is_admin(ctx):
            self._cmd_unknown(ctx)
            return
        case = self._ask(self._matcher(ctx).next_report_case(ctx.user_id))
        if case is None:
            ctx.say("admin.no_reports")
            return
        ctx.send(cards.report_case(ctx.chat_id, ctx.buttons, case.card, case.reports, case.hidden))

    def _review(self, ctx: Context, args: list[str], ban: bool) -> None:
        if not self._is_admin(ctx):
            self._outdated(ctx)
            return
        reported = self._user_arg(ctx, args)
        if reported is None:
            return
        self._drop_buttons(ctx)
        if self._ask(self._matcher(ctx).resolve_reports(ctx.user_id, reported, ban)):
            ctx.say("admin.case_banned" if ban else "admin.case_dismissed", user_id=reported)
        else:
            ctx.say("admin.case_already_reviewed")
        self._cmd_reports(ctx)

    def _cb_ban(self, ctx: Context, args: list[str]) -> None:
        self._review(ctx, args, ban=True)

    def _cb_dismiss(self, ctx: Context, args: list[str]) -> None:
        self._review(ctx, args, ban=False)

    def _set_banned(self, ctx: Context, banned: bool) -> None:
        if not self._is_admin(ctx):
            self._cmd_unknown(ctx)
            return
        argument = ctx.incoming.text.strip()
        if not argument.isdigit():
            ctx.say("admin.ban_usage")
            return
        user_id = int(argument)
        if not self._ask(self._matcher(ctx).set_banned(ctx.user_id, user_id, banned)):
            ctx.say("admin.unknown_user", user_id=user_id)
            return
        ctx.say("admin.user_banned" if banned else "admin.user_unbanned", user_id=user_id)

    def _cmd_ban(self, ctx: Context) -> None:
        self._set_banned(ctx, banned=True)

    def _cmd_unban(self, ctx: Context) -> None:
        self._set_banned(ctx, banned=False)
