"""What every user can do at any point: /help (the router's table), /language and /invite."""

from __future__ import annotations

from actors.session.context import Context
from actors.session.router import button, command, help_text
from actors.session.services import Services
from bot_api import replies
from domain.onboarding import Flow
from presentation import screens
from presentation.buttons import Button
from presentation.cards import invitation_link
from presentation.screens import Buttons


class General:
    def __init__(self, services: Services) -> None:
        self._services = services

    @command("help", rank=100)
    def help(self, ctx: Context) -> None:
        text = help_text(self._services.commands, ctx.language)
        ctx.send(replies.message(ctx.chat_id, text))

    @command("privacy", rank=90)
    def privacy(self, ctx: Context) -> None:
        ctx.say("privacy.text")

    @command("invite", rank=65)
    def invite(self, ctx: Context) -> None:
        services = self._services
        if not services.require_complete(ctx):
            return
        code = services.ask(services.profile(ctx.user_id).invite_code(ctx.user_id))
        ctx.say(
            "invite.text",
            link=invitation_link(services.deps.bot_username, code),
            count=services.deps.accounts.invitations_counted(ctx.user_id),
        )

    @command("language", rank=80)
    def language(self, ctx: Context) -> None:
        ctx.send(screens.language_choice(ctx.chat_id, ctx.buttons))

    @button(Button.LANGUAGE)
    def choose_language(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        if not args or args[0] not in ("en", "ru"):
            services.outdated(ctx)
            return
        services.ask(services.profile(ctx.user_id).set_language(ctx.user_id, args[0]))
        ctx.buttons = Buttons(services.deps.signer, ctx.user_id, args[0])
        conversation = services.conversation(ctx.account)
        if conversation.flow is Flow.IDLE:
            ctx.say("language.set")
            return
        # The choice becomes the question again in the new language: one message.
        services.ask_current_step(ctx, conversation, ctx.text("language.set"), edit=True)
