"""The user's matches: the list, one match's card, and ending it (unmatch or block)."""

from __future__ import annotations

from datetime import UTC, datetime

from actors.matcher import viewer_of
from actors.session.context import Context
from actors.session.router import button, command
from actors.session.services import CHAT, Services
from presentation import cards
from presentation.buttons import Button
from presentation.callbacks import still_valid


class Matches:
    def __init__(self, services: Services) -> None:
        self._services = services

    @command("matches", rank=40)
    def matches(self, ctx: Context) -> None:
        services = self._services
        if not services.require_complete(ctx):
            return
        found = services.ask(services.matcher(ctx).matches(ctx.user_id))
        ctx.send(cards.matches_list(ctx.chat_id, ctx.buttons, found, datetime.now(UTC)))

    @button(Button.MATCHES)
    def matches_button(self, ctx: Context, args: list[str]) -> None:
        self.matches(ctx)

    @button(Button.MATCH_OPEN)
    def open_match(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        other = services.user_arg(ctx, args)
        if other is None:
            return
        matcher = services.matcher(ctx)
        match = services.ask(matcher.active_match(ctx.user_id, other))
        card = services.ask(matcher.card(ctx.user_id, other)) if match else None
        if match is None or card is None:
            services.answer(ctx, "chat.not_matched", alert=True)
            return
        ctx.send(
            cards.match_card(
                ctx.chat_id, ctx.buttons, viewer_of(ctx.account), card, match, datetime.now(UTC)
            )
        )

    def _confirmed(
        self, ctx: Context, args: list[str], action: Button, question: str, other: int
    ) -> bool:
        """True once the user said yes; otherwise asks (with the other's name)."""
        if len(args) > 1 and args[1] == "y":
            if len(args) > 2 and still_valid(args[2]):
                return True
            ctx.say("common.confirmation_expired")
        services = self._services
        card = services.ask(services.matcher(ctx).card(ctx.user_id, other))
        if card is None:
            services.outdated(ctx)
            return False
        ctx.send(cards.confirm(ctx.chat_id, ctx.buttons, question, action, other, card.name))
        return False

    def _end_chat_with(self, ctx: Context, other: int) -> None:
        if self._services.mode(ctx).get(CHAT) == other:
            self._services.clear(ctx)

    @button(Button.UNMATCH)
    def unmatch(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        other = services.user_arg(ctx, args)
        if other is None or not self._confirmed(
            ctx, args, Button.UNMATCH, "safety.confirm_unmatch", other
        ):
            return
        if not services.ask(services.matcher(ctx).unmatch(ctx.user_id, other)):
            services.answer(ctx, "chat.not_matched", alert=True)
            return
        self._end_chat_with(ctx, other)
        services.drop_buttons(ctx)
        ctx.say("safety.unmatched")

    @button(Button.BLOCK)
    def block(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        other = services.user_arg(ctx, args)
        if other is None or not self._confirmed(
            ctx, args, Button.BLOCK, "safety.confirm_block", other
        ):
            return
        if not services.ask(services.matcher(ctx).block(ctx.user_id, other)):
            services.outdated(ctx)
            return
        self._end_chat_with(ctx, other)
        services.drop_buttons(ctx)
        ctx.say("safety.blocked")
