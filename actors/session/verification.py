"""The verified badge (issue 14): /verify asks for a video note doing a gesture picked at
random; moderators (admin_ids) review it next to the profile's photos with /verifications and
approve it or refuse it with a reason, and the user is told either way."""

from __future__ import annotations

from actors.session.context import Context
from actors.session.router import button, command, takes_input
from actors.session.services import VERIFY, Services
from bot_api import replies
from config.i18n import t
from domain.media import MEDIA_MAX_SECONDS, VERIFICATION_KINDS, check_media
from domain.validation import Invalid
from domain.verification import REFUSAL_REASONS, pick_gesture
from presentation import cards
from presentation.buttons import Button
from storage.verifications import Review


class Verification:
    def __init__(self, services: Services) -> None:
        self._services = services

    @command("verify", rank=55)
    def verify(self, ctx: Context) -> None:
        services = self._services
        if not services.require_complete(ctx):
            return
        if ctx.account.is_verified:
            ctx.say("verify.already")
            return
        profile = services.profile(ctx.user_id)
        latest = services.ask(profile.latest_verification(ctx.user_id))
        if latest is not None and latest.status == "pending":
            ctx.say("verify.waiting")
            return
        gesture = pick_gesture()
        services.ask(profile.ask_verification(ctx.user_id, gesture))
        services.deps.conversations.set(ctx.user_id, {VERIFY: 1})
        ctx.say(
            "verify.ask",
            gesture=ctx.text(f"verify.gesture_{gesture}"),
            seconds=MEDIA_MAX_SECONDS,
        )

    @takes_input(rank=45)
    def video_note(self, ctx: Context) -> bool:
        services = self._services
        if VERIFY not in services.mode(ctx):
            return False
        incoming = ctx.incoming
        try:
            check_media(
                incoming.kind.value,
                incoming.duration,
                incoming.file_size,
                VERIFICATION_KINDS,
                "verify.expected_video_note",
            )
        except Invalid as refusal:
            ctx.say(refusal.key, None, **refusal.params)
            return True
        services.clear(ctx)
        if not services.ask(
            services.profile(ctx.user_id).submit_verification(ctx.user_id, incoming.file_id)
        ):
            ctx.say("verify.expired")
            return True
        services.count("verification_sent")
        ctx.say("verify.sent")
        return True

    # -- moderators ---------------------------------------------------------------------------

    @command("verifications", admin=True)
    def verifications(self, ctx: Context) -> None:
        services = self._services
        if not services.is_admin(ctx):
            services.unknown_command(ctx)
            return
        case = services.ask(services.profile(ctx.user_id).next_verification())
        if case is None:
            ctx.say("verify.no_cases")
            return
        ctx.send(*cards.verification_case(ctx.chat_id, ctx.buttons, case))

    def _review(self, ctx: Context, args: list[str], approve: bool) -> None:
        services = self._services
        if not services.is_admin(ctx):
            services.outdated(ctx)
            return
        reason = None if approve else (args[1] if len(args) > 1 else "")
        if (
            not args
            or not args[0].isdigit()
            or (reason is not None and reason not in REFUSAL_REASONS)
        ):
            services.outdated(ctx)
            return
        services.drop_buttons(ctx)
        review = services.ask(
            services.profile(ctx.user_id).review_verification(
                int(args[0]), ctx.user_id, approve, reason
            )
        )
        if review is None:
            ctx.say("verify.case_already_reviewed")
        else:
            self._tell(review, int(args[0]))
            ctx.say(
                "verify.case_approved" if approve else "verify.case_refused",
                user_id=review.party.user_id,
            )
        self.verifications(ctx)

    def _tell(self, review: Review, request_id: int) -> None:
        party = review.party
        language = party.language
        if review.approved:
            text = replies.message(party.chat_id, t(language, "verify.approved"))
        else:
            reason = t(language, f"verify.reason_{review.reason}")
            text = replies.message(party.chat_id, t(language, "verify.refused", reason=reason))
        self._services.deps.outbox.deliver(
            party.user_id, party.chat_id, [text], key=f"verification:{request_id}"
        )

    @button(Button.VERIFY_APPROVE)
    def approve(self, ctx: Context, args: list[str]) -> None:
        self._review(ctx, args, approve=True)

    @button(Button.VERIFY_REFUSE)
    def refuse(self, ctx: Context, args: list[str]) -> None:
        self._review(ctx, args, approve=False)
