"""Reports and their review: a user reports someone (a reason, then maybe a comment); admins
(admin_ids) review the cases, ban and unban, and see deployment-wide counts. To anyone else
the admin commands are unknown ones."""

from __future__ import annotations

from dataclasses import asdict

from actors.session.context import Context
from actors.session.feed import Feed
from actors.session.router import button, command, takes_input
from actors.session.services import ORIGIN, REPORT_COMMENT, Services
from bot_api.incoming import Kind
from presentation import cards
from presentation.buttons import Button
from presentation.callbacks import still_valid
from presentation.cards import REPORT_COMMENT_MAX, Origin


class Moderation:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._feed = Feed(services)

    # -- a user's report ----------------------------------------------------------------------

    @button(Button.REPORT)
    def report(self, ctx: Context, args: list[str]) -> None:
        target = self._services.user_arg(ctx, args)
        if target is not None:
            ctx.send(cards.report_reasons(ctx.chat_id, ctx.buttons, target, Origin.BROWSE))

    @button(Button.MATCH_REPORT)
    def report_match(self, ctx: Context, args: list[str]) -> None:
        target = self._services.user_arg(ctx, args)
        if target is not None:
            ctx.send(cards.report_reasons(ctx.chat_id, ctx.buttons, target, Origin.MATCH))

    @button(Button.REPORT_REASON)
    def reason(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        target = services.user_arg(ctx, args)
        if target is None:
            return
        reason = args[1] if len(args) > 2 else ""
        origin = args[2] if len(args) > 2 else ""
        if reason not in cards.REPORT_REASONS or origin not in {o.value for o in Origin}:
            services.outdated(ctx)
            return
        matcher = services.matcher(ctx)
        if not services.ask(matcher.report(ctx.user_id, target, reason)):
            services.outdated(ctx)
            return
        if origin == Origin.BROWSE.value:
            services.ask(matcher.skip(ctx.user_id, target))
        services.drop_buttons(ctx)
        services.set_mode(ctx, REPORT_COMMENT, target, Origin(origin))
        ctx.send(cards.ask_report_comment(ctx.chat_id, ctx.buttons))

    @takes_input(rank=30)
    def comment(self, ctx: Context) -> bool:
        state = self._services.mode(ctx)
        if REPORT_COMMENT not in state:
            return False
        text = ctx.incoming.text.strip()
        if ctx.incoming.kind is not Kind.TEXT or not text:
            ctx.say("errors.expected_text")
        elif len(text) > REPORT_COMMENT_MAX:
            ctx.say("errors.about_length", length=len(text), limit=REPORT_COMMENT_MAX)
        else:
            target = int(state[REPORT_COMMENT])
            services = self._services
            services.ask(services.matcher(ctx).comment_report(ctx.user_id, target, text))
            self._after_report(ctx, Origin(state.get(ORIGIN, Origin.BROWSE.value)))
        return True

    @button(Button.REPORT_NO_COMMENT)
    def no_comment(self, ctx: Context, args: list[str]) -> None:
        state = self._services.mode(ctx)
        if REPORT_COMMENT not in state:
            self._services.outdated(ctx)
            return
        self._services.drop_buttons(ctx)
        self._after_report(ctx, Origin(state.get(ORIGIN, Origin.BROWSE.value)))

    def _after_report(self, ctx: Context, origin: Origin) -> None:
        self._services.clear(ctx)
        ctx.say("safety.reported")
        if origin is Origin.BROWSE:
            self._feed.show_next_card(ctx)

    # -- admins -------------------------------------------------------------------------------

    @command("stats", admin=True)
    def stats(self, ctx: Context) -> None:
        """Deployment-wide counts."""
        if not self._services.is_admin(ctx):
            self._services.unknown_command(ctx)
            return
        ctx.say("admin.stats", **asdict(self._services.deps.stats.totals()))

    @command("reports", admin=True)
    def reports(self, ctx: Context) -> None:
        services = self._services
        if not services.is_admin(ctx):
            services.unknown_command(ctx)
            return
        case = services.ask(services.matcher(ctx).next_report_case(ctx.user_id))
        if case is None:
            ctx.say("admin.no_reports")
            return
        ctx.send(
            *cards.report_case(
                ctx.chat_id, ctx.buttons, case.card, case.reports, case.hidden, case.weight
            )
        )

    def _review(self, ctx: Context, args: list[str], ban: bool) -> None:
        services = self._services
        if not services.is_admin(ctx):
            services.outdated(ctx)
            return
        reported = services.user_arg(ctx, args)
        if reported is None:
            return
        services.drop_buttons(ctx)
        if ban and not (len(args) > 1 and still_valid(args[1])):
            # The case may have changed since (reports filed later): show it as it is now.
            ctx.say("common.confirmation_expired")
            self.reports(ctx)
            return
        if services.ask(services.matcher(ctx).resolve_reports(ctx.user_id, reported, ban)):
            ctx.say("admin.case_banned" if ban else "admin.case_dismissed", user_id=reported)
        else:
            ctx.say("admin.case_already_reviewed")
        self.reports(ctx)

    @button(Button.BAN)
    def ban_case(self, ctx: Context, args: list[str]) -> None:
        self._review(ctx, args, ban=True)

    @button(Button.DISMISS)
    def dismiss_case(self, ctx: Context, args: list[str]) -> None:
        self._review(ctx, args, ban=False)

    def _set_banned(self, ctx: Context, banned: bool) -> None:
        services = self._services
        if not services.is_admin(ctx):
            services.unknown_command(ctx)
            return
        argument = ctx.incoming.text.strip()
        if not argument.isdigit():
            ctx.say("admin.ban_usage")
            return
        user_id = int(argument)
        if not services.ask(services.matcher(ctx).set_banned(ctx.user_id, user_id, banned)):
            ctx.say("admin.unknown_user", user_id=user_id)
            return
        ctx.say("admin.user_banned" if banned else "admin.user_unbanned", user_id=user_id)

    @command("ban", admin=True)
    def ban(self, ctx: Context) -> None:
        self._set_banned(ctx, banned=True)

    @command("unban", admin=True)
    def unban(self, ctx: Context) -> None:
        self._set_banned(ctx, banned=False)
