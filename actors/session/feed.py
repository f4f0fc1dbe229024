"""The two decks a user decides on, shared by the browse, likes and moderation controllers:
the feed's next card, the next liker, and a like from either (after which the same deck
goes on)."""

from __future__ import annotations

from actors.matcher import viewer_of
from actors.session.context import Context
from actors.session.services import Services
from domain.discovery import LikeMedia
from presentation import cards
from presentation.cards import Origin
from storage.likes import LikeResult, LikeStatus


class Feed:
    def __init__(self, services: Services) -> None:
        self._services = services

    def show_next_card(
        self, ctx: Context, undo_skip_of: int | None = None, *, replace: bool = False
    ) -> None:
        """The feed's next card; with ``replace``, in place of the pressed card (edited into
        it: one message per press), or after it with its buttons taken off where an edit
        cannot show it (a card without a photo, "that's everyone")."""
        services = self._services
        found = services.ask(services.matcher(ctx).next_card(ctx.account))
        if found is None:
            if replace:
                services.drop_buttons(ctx)
            ctx.send(cards.nobody_left(ctx.chat_id, ctx.buttons, ctx.account.has_location))
            return
        card = cards.browse_card(
            ctx.chat_id,
            ctx.buttons,
            viewer_of(ctx.account),
            found.card,
            undo_skip_of=undo_skip_of,
            widened_to_km=found.widened_to_km,
        )
        edit = services.edited(ctx, card) if replace else None
        if edit is not None:
            ctx.send(edit)
            return
        if replace:
            services.drop_buttons(ctx)
        ctx.send(card)

    def show_next_liker(self, ctx: Context) -> None:
        found = self._services.ask(self._services.matcher(ctx).next_liker(ctx.user_id))
        if found is None:
            ctx.say("likes.none")
            return
        card, remaining = found
        ctx.send(
            *cards.liker_card(ctx.chat_id, ctx.buttons, viewer_of(ctx.account), card, remaining)
        )

    def skip(self, ctx: Context, args: list[str], *, drop: bool = True) -> int | None:
        """Skip the user the pressed card was for and (with ``drop``) take its buttons off;
        None (answered as an outdated button) when there was nothing to skip."""
        services = self._services
        target = services.user_arg(ctx, args)
        if target is None:
            return None
        if not services.ask(services.matcher(ctx).skip(ctx.user_id, target)):
            services.outdated(ctx)
            return None
        if drop:
            services.drop_buttons(ctx)
        return target

    def like(
        self,
        ctx: Context,
        target: int,
        message: str | None,
        origin: Origin,
        media: LikeMedia | None = None,
        *,
        replace: bool = False,
    ) -> None:
        """Like someone shown to the user; then the next card (or the next liker). With
        ``replace`` (❤️ on a feed card) the next card takes the liked one's place, unless it
        was a match: then the liked card stays, above the match notice."""
        services = self._services
        result: LikeResult = services.ask(
            services.matcher(ctx).like(ctx.account, target, message, media)
        )
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
            ctx.say("browse.limit_reached", limit=services.deps.discovery.daily_like_limit)
            return
        elif status is LikeStatus.MATCHED:
            self._tell_match(ctx, target, result)
        elif ctx.incoming.callback_id:
            services.answer(ctx, "browse.liked")
        swap = (
            replace
            and origin is Origin.BROWSE
            and status is not LikeStatus.MATCHED
            and bool(ctx.incoming.callback_id)
        )
        if ctx.incoming.callback_id and not swap:
            services.drop_buttons(ctx)
        if origin is Origin.BROWSE:
            self.show_next_card(ctx, replace=swap)
        else:
            self.show_next_liker(ctx)

    def _refuse(self, ctx: Context, key: str) -> None:
        if ctx.incoming.callback_id:
            self._services.answer(ctx, key, alert=True)
        else:
            ctx.say(key)

    def _tell_match(self, ctx: Context, target: int, result: LikeResult) -> None:
        card = self._services.ask(self._services.matcher(ctx).card(ctx.user_id, target))
        other = result.target
        if card is None or other is None:
            return
        name = cards.display_name(ctx.language, other.name, other.username, other.show_username)
        ctx.send(cards.match_notice(ctx.chat_id, ctx.buttons, viewer_of(ctx.account), card, name))
