"""The likes a user received: one liker at a time, liked back (a match) or skipped."""

from __future__ import annotations

from actors.session.context import Context
from actors.session.feed import Feed
from actors.session.router import button, command
from actors.session.services import Services
from presentation.buttons import Button
from presentation.cards import Origin


class Likes:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._feed = Feed(services)

    @command("likes", rank=30)
    def likes(self, ctx: Context) -> None:
        if self._services.require_complete(ctx):
            self._feed.show_next_liker(ctx)

    @button(Button.LIKES)
    def likes_button(self, ctx: Context, args: list[str]) -> None:
        self.likes(ctx)

    @button(Button.LIKER_LIKE)
    def like_back(self, ctx: Context, args: list[str]) -> None:
        target = self._services.user_arg(ctx, args)
        if target is not None:
            self._feed.like(ctx, target, None, Origin.MATCH)

    @button(Button.LIKER_SKIP)
    def skip(self, ctx: Context, args: list[str]) -> None:
        if self._feed.skip(ctx, args) is not None:
            self._feed.show_next_liker(ctx)
