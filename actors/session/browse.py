"""Browsing the feed: a card at a time, liked (with a message or not), skipped or undone."""

from __future__ import annotations

from actors.session.context import Context
from actors.session.feed import Feed
from actors.session.router import button, command, takes_input
from actors.session.services import CHAT, DRAFT, LIKE_MESSAGE, ORIGIN, Services
from bot_api.incoming import Kind
from domain.content_checks import findings, reason_keys
from domain.discovery import LikeMedia
from domain.media import LIKE_MEDIA_KINDS, MEDIA_MAX_SECONDS, check_media
from domain.validation import Invalid
from presentation import cards
from presentation.buttons import Button
from presentation.cards import LIKE_MESSAGE_MAX, Origin


def _like_text(raw: str) -> str:
    """A 💌 like's text: not empty, within LIKE_MESSAGE_MAX, and free of what chat warns of
    (contacts, links, wallets, requests for money): a stranger gets no way around the bot."""
    text = raw.strip()
    if not text:
        raise Invalid("media.like_kinds")
    if len(text) > LIKE_MESSAGE_MAX:
        raise Invalid("errors.about_length", {"length": len(text), "limit": LIKE_MESSAGE_MAX})
    found = reason_keys(findings(text))
    if found:
        raise Invalid("media.like_refused", {"reason": found[0]})
    return text


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
            self._feed.like(ctx, target, None, Origin.BROWSE, replace=True)

    @button(Button.LIKE_WITH_MESSAGE)
    def like_with_message(self, ctx: Context, args: list[str]) -> None:
        target = self._services.user_arg(ctx, args)
        if target is None:
            return
        self._services.set_mode(ctx, LIKE_MESSAGE, target, Origin.BROWSE)
        ctx.say("browse.ask_like_message", limit=LIKE_MESSAGE_MAX, seconds=MEDIA_MAX_SECONDS)

    @takes_input(rank=20)
    def like_message(self, ctx: Context) -> bool:
        """A 💌 like's message (text, a voice message or a video note), shown back for
        confirmation; a refusal says why and leaves the mode open for another try."""
        services = self._services
        state = services.mode(ctx)
        if LIKE_MESSAGE not in state:
            return False
        incoming = ctx.incoming
        text: str | None = None
        media: LikeMedia | None = None
        try:
            if incoming.kind is Kind.TEXT:
                text = _like_text(incoming.text)
            else:
                check_media(
                    incoming.kind.value,
                    incoming.duration,
                    incoming.file_size,
                    LIKE_MEDIA_KINDS,
                    "media.like_kinds",
                )
                media = LikeMedia(incoming.kind.value, incoming.file_id)
        except Invalid as refusal:
            values: dict[str, object] = {"limit": LIKE_MESSAGE_MAX, **refusal.params}
            if "reason" in values:  # a catalog key of content_checks.REASON_KEYS
                values["reason"] = ctx.text(str(values["reason"]))
            ctx.say(refusal.key, None, **values)
            return True
        target = int(state[LIKE_MESSAGE])
        draft = {"text": text} if media is None else {"kind": media.kind, "file_id": media.file_id}
        services.deps.conversations.set(ctx.user_id, {**state, DRAFT: draft})
        card = services.ask(services.matcher(ctx).card(ctx.user_id, target))
        name = card.name if card is not None else None
        ctx.send(cards.like_draft(ctx.chat_id, ctx.buttons, target, name, text, media))
        return True

    @button(Button.SEND_LIKE)
    def send_like(self, ctx: Context, args: list[str]) -> None:
        """✅ or ✖️ under a 💌 draft: only the latest draft for this person is sent, once."""
        services = self._services
        target = services.user_arg(ctx, args)
        if target is None:
            return
        state = services.mode(ctx)
        draft = state.get(DRAFT)
        if state.get(LIKE_MESSAGE) != target or not isinstance(draft, dict):
            services.outdated(ctx)
            return
        services.clear(ctx)
        if args[1:] == ["no"]:
            services.drop_buttons(ctx)
            ctx.say("media.like_dropped")
            return
        origin = Origin(state.get(ORIGIN, Origin.BROWSE.value))
        media = LikeMedia(draft["kind"], draft["file_id"]) if "kind" in draft else None
        self._feed.like(ctx, target, draft.get("text"), origin, media)

    @button(Button.SKIP)
    def skip(self, ctx: Context, args: list[str]) -> None:
        target = self._feed.skip(ctx, args, drop=False)
        if target is not None:
            # The next card takes the skipped one's place, with ↩️ to bring it back.
            self._feed.show_next_card(ctx, undo_skip_of=target, replace=True)

    @button(Button.UNDO_SKIP)
    def undo_skip(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        skipped, current = services.user_arg(ctx, args, 0), services.user_arg(ctx, args, 1)
        if skipped is None or current is None:
            return
        if not services.ask(services.matcher(ctx).undo_skip(ctx.user_id, skipped, current)):
            services.answer(ctx, "browse.undo_expired", alert=True)
            return
        self._feed.show_next_card(ctx, replace=True)

    @button(Button.STOP_BROWSING)
    def stop_browsing(self, ctx: Context, args: list[str]) -> None:
        self._services.drop_buttons(ctx)
        ctx.say("browse.stopped")
