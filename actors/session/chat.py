"""Chat mode: the user's messages go to a match through the chat relay until they leave."""

from __future__ import annotations

from actors.chat_relay import RELAYED_KINDS, ChatMessage
from actors.session.context import Context
from actors.session.router import button, cancels, command, takes_input
from actors.session.services import CHAT, Services
from presentation import cards
from presentation.buttons import Button
from storage.chats import ChatStatus

CHAT_REFUSALS = {
    ChatStatus.UNMATCHED: "chat.ended",
    ChatStatus.BLOCKED: "chat.blocked",
    ChatStatus.NOT_MATCHED: "chat.not_matched",
    ChatStatus.UNAVAILABLE: "chat.unavailable",
}


class Chat:
    def __init__(self, services: Services) -> None:
        self._services = services

    @button(Button.WRITE)
    def write(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        other = services.user_arg(ctx, args)
        if other is None:
            return
        check = services.ask(services.relay(ctx).status(ctx.user_id, other))
        if check.status is not ChatStatus.ACTIVE or check.partner is None:
            services.answer(ctx, CHAT_REFUSALS.get(check.status, "chat.not_matched"), alert=True)
            return
        services.set_mode(ctx, CHAT, other)
        ctx.send(cards.chat_opened(ctx.chat_id, ctx.buttons, check.partner.name, other))

    @takes_input(rank=10)
    def relay(self, ctx: Context) -> bool:
        state = self._services.mode(ctx)
        if CHAT not in state:
            return False
        incoming = ctx.incoming
        if incoming.kind not in RELAYED_KINDS:
            ctx.say("chat.cannot_relay")
            return True
        services = self._services
        status = services.ask(
            services.relay(ctx).relay(
                ChatMessage(
                    sender_id=ctx.user_id,
                    recipient_id=int(state[CHAT]),
                    update_id=incoming.update_id,
                    kind=incoming.kind,
                    sender_chat_id=ctx.chat_id,
                    message_id=incoming.message_id,
                    text=incoming.text,
                    protect=ctx.account.protect_media,
                )
            )
        )
        if status is not ChatStatus.ACTIVE:
            services.clear(ctx)
            ctx.say(CHAT_REFUSALS[status])
        return True

    @button(Button.CONTACTS)
    def contacts(self, ctx: Context, args: list[str]) -> None:
        """Agree to exchange contacts with the match (the offer and the answer to one): the
        first side's offer goes to the other; when both agreed, each gets the other's."""
        services = self._services
        other = services.user_arg(ctx, args)
        if other is None:
            return
        outcome = services.ask(services.relay(ctx).consent_to_contacts(ctx.user_id, other))
        partner = outcome.check.partner
        if outcome.check.status is not ChatStatus.ACTIVE or partner is None:
            services.answer(ctx, "contacts.stale", alert=True)
            return
        name = partner.name or ctx.text("chat.someone")
        if outcome.mutual:
            ctx.send(cards.contact_of(ctx.chat_id, ctx.language, partner))
        elif outcome.new:
            ctx.say("contacts.offer_sent", name=name)
        else:
            services.answer(ctx, "contacts.already_offered", alert=True, name=name)

    @button(Button.LEAVE_CHAT)
    def leave(self, ctx: Context, args: list[str]) -> None:
        if CHAT in self._services.mode(ctx):
            self._services.clear(ctx)
        self._services.drop_buttons(ctx)
        ctx.say("chat.left")

    @command("stop", rank=70)
    def stop(self, ctx: Context) -> None:
        if not self._services.leave_mode(ctx):
            ctx.say("browse.stopped")

    @cancels(rank=10)
    def cancel_mode(self, ctx: Context) -> bool:
        """/cancel leaves a mode (chat, a like's message, a report's comment) first."""
        return self._services.leave_mode(ctx)
