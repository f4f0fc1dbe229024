"""Search settings: the radius, verified people only, whether matches see the user's @username,
and whether the photos and videos the user sends in chat may be forwarded or saved."""

from __future__ import annotations

from actors.session.context import Context
from actors.session.router import button, command
from actors.session.services import Services
from presentation import cards
from presentation.buttons import Button


class Settings:
    def __init__(self, services: Services) -> None:
        self._services = services

    @command("settings", rank=60)
    def settings(self, ctx: Context) -> None:
        if not self._services.require_complete(ctx):
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
                verified_only=account.verified_only,
                protect_media=account.protect_media,
            )
        )

    @button(Button.SETTINGS)
    def settings_button(self, ctx: Context, args: list[str]) -> None:
        self.settings(ctx)

    @button(Button.RADIUS_MENU)
    def radius_menu(self, ctx: Context, args: list[str]) -> None:
        ctx.send(cards.radius_choices(ctx.chat_id, ctx.buttons, ctx.account.radius_km))

    @button(Button.RADIUS)
    def radius(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        km = int(args[0]) if args and args[0].isdigit() else 0
        if km not in cards.RADIUS_CHOICES_KM:
            services.outdated(ctx)
            return
        ctx.account = services.ask(
            services.profile(ctx.user_id).save(ctx.user_id, {"radius_km": km})
        )
        services.drop_buttons(ctx)
        ctx.say("settings.radius_set", km=km)
        self.settings(ctx)

    @button(Button.VERIFIED_ONLY)
    def verified_only(self, ctx: Context, args: list[str]) -> None:
        """Explicit on/off in the button, not a toggle: a press handled twice changes nothing
        twice."""
        services = self._services
        if args not in (["on"], ["off"]):
            services.outdated(ctx)
            return
        wanted = args[0] == "on"
        ctx.account = services.ask(
            services.profile(ctx.user_id).save(ctx.user_id, {"verified_only": wanted})
        )
        services.drop_buttons(ctx)
        ctx.say("verify.verified_only_set" if wanted else "verify.everyone_set")
        self.settings(ctx)

    @button(Button.SHOW_USERNAME)
    def show_username(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        show = not ctx.account.show_username
        services.ask(services.matcher(ctx).set_show_username(ctx.user_id, show))
        services.drop_buttons(ctx)
        ctx.say("settings.username_now_shown" if show else "settings.username_now_hidden")
        services.reload(ctx)
        self.settings(ctx)

    @button(Button.PROTECT_MEDIA)
    def protect_media(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        protect = not ctx.account.protect_media
        services.ask(services.profile(ctx.user_id).set_protect_media(ctx.user_id, protect))
        services.drop_buttons(ctx)
        ctx.say("protection.now_on" if protect else "protection.now_off")
        services.reload(ctx)
        self.settings(ctx)
