"""Browsing the feed: a card at a time, liked (with a message or not), skipped or undone."""

from __future__ import annotations

from actors.session.context import Context
from actors.session.feed import Feed
from actors.session.router import button, command, takes_input
from actors.session.services import CHAT, LIKE_MESSAGE, ORIGIN, Services
from bot_api.incoming import Kind
from presentation.buttons import Button
from presentation.cards import LIKE_MESSAGE_MAX, Origin


class Browse:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._feed = Feed(services)

    @command("browse", rank=20)
    def browse(self, ctx: Context) -> None:
        services = self._services
        if not services.require_complete(ctx):
            return
        if services.mode(ctx) and CHAT not in services.mode(ctx):
            services.clear(ctx)
        self._feed.show_next_card(ctx)

    @button(Button.BROWSE)
    def browse_button(self, ctx: Context, args: list[str]) -> None:
        self.browse(ctx)

    @button(Button.LIKE)
    def like(self, ctx: Context, args: list[str]) -> None:
        target = self._services.user_arg(ctx, args)
        if target is not None:
            self._feed.like(ctx, target, None, Origin.BROWSE)

    @button(Button.LIKE_WITH_MESSAGE)
    def like_with_message(self, ctx: Context, args: list[str]) -> None:
        target = self._services.user_arg(ctx, args)
        if target is None:
            return
        self._services.set_mode(ctx, LIKE_MESSAGE, target, Origin.BROWSE)
        ctx.say("browse.ask_like_message", limit=LIKE_MESSAGE_MAX)

    @takes_input(rank=20)
    def like_message(self, ctx: Context) -> bool:
        state = self._services.mode(ctx)
        if LIKE_MESSAGE not in state:
            return False
        text = ctx.incoming.text.strip()
        if ctx.incoming.kind is not Kind.TEXT or not text:
            ctx.say("browse.like_message_text_only", limit=LIKE_MESSAGE_MAX)
        elif len(text) > LIKE_MESSAGE_MAX:
            ctx.say("errors.about_length", length=len(text), limit=LIKE_MESSAGE_MAX)
        else:
            self._services.clear(ctx)
            origin = Origin(state.get(ORIGIN, Origin.BROWSE.value))
            self._feed.like(ctx, int(state[LIKE_MESSAGE]), text, origin)
        return True

    @button(Button.SKIP)
    def skip(self, ctx: Context, args: list[str]) -> None:
        target = self._feed.skip(ctx, args)
        if target is not None:
            self._feed.show_next_card(ctx, undo_skip_of=target)

    @button(Button.UNDO_SKIP)
    def undo_skip(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        skipped, current = services.user_arg(ctx, args, 0), services.user_arg(ctx, args, 1)
        if skipped is None or current is None:
            return
        if not services.ask(services.matcher(ctx).undo_skip(ctx.user_id, skipped, current)):
            services.answer(ctx, "browse.undo_expired", alert=True)
            return
        services.drop_buttons(ctx)
        self._feed.show_next_card(ctx)

    @button(Button.STOP_BROWSING)
    def stop_browsing(self, ctx: Context, args: list[str]) -> None:
        self._services.drop_buttons(ctx)
        ctx.say("browse.stopped")
