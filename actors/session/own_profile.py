"""The user's own profile: showing it, editing one answer, photos, the video, pause and
deletion."""

from __future__ import annotations

from uuid import UUID

from actors.session.context import Context
from actors.session.router import button, cancels, command, takes_input
from actors.session.services import PROFILE_VIDEO, Services
from bot_api import replies
from domain.onboarding import Conversation, Flow, Step
from domain.validation import MAX_PHOTOS, Invalid
from presentation import screens
from presentation.buttons import Button
from presentation.callbacks import still_valid


class OwnProfile:
    def __init__(self, services: Services) -> None:
        self._services = services

    @command("profile", rank=50)
    def profile(self, ctx: Context) -> None:
        if self._services.require_complete(ctx):
            self._services.clear(ctx)
            self._services.show_own_profile(ctx)

    @button(Button.BACK_TO_PROFILE)
    def back_to_profile(self, ctx: Context, args: list[str]) -> None:
        self.profile(ctx)

    @cancels(rank=30)
    def cancel_edit(self, ctx: Context) -> bool:
        if self._services.conversation(ctx.account).flow is not Flow.EDIT:
            return False
        self._services.clear(ctx)
        ctx.send(replies.message_removing_keyboard(ctx.chat_id, ctx.text("common.edit_cancelled")))
        return True

    @button(Button.EDIT)
    def edit(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        if not args or args[0] not in {step.value for step in screens.EDITABLE_STEPS}:
            services.outdated(ctx)
            return
        if not services.require_complete(ctx):
            return
        step = Step(args[0])
        services.deps.conversations.set(ctx.user_id, {"edit": step.value})
        services.ask_current_step(
            ctx, Conversation.editing(step), ctx.text("profile.ask_new_value")
        )

    @button(Button.PHOTOS)
    def photos(self, ctx: Context, args: list[str]) -> None:
        if self._services.require_complete(ctx):
            self._show_photo_manager(ctx)

    @button(Button.ADD_PHOTO)
    def add_photo(self, ctx: Context, args: list[str]) -> None:
        if not self._services.require_complete(ctx):
            return
        if len(ctx.account.photos) >= MAX_PHOTOS:
            ctx.say("errors.photo_limit", limit=MAX_PHOTOS)
            return
        self._services.deps.conversations.set(ctx.user_id, {"edit": Step.PHOTOS.value})
        ctx.say("profile.send_new_photo")

    def _photo_arg(self, ctx: Context, args: list[str]) -> UUID | None:
        try:
            photo_id = UUID(hex=args[0]) if args else None
        except ValueError:
            photo_id = None
        if photo_id is None or all(photo.id != photo_id for photo in ctx.account.photos):
            self._services.answer(ctx, "errors.photo_missing", alert=True)
            return None
        return photo_id

    @button(Button.DELETE_PHOTO)
    def delete_photo(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        photo_id = self._photo_arg(ctx, args)
        if photo_id is None:
            return
        if len(ctx.account.photos) <= 1:
            services.answer(ctx, "errors.photo_last", alert=True)
            return
        services.ask(services.profile(ctx.user_id).delete_photo(ctx.user_id, photo_id))
        services.count("photo_deleted")
        ctx.say("profile.photo_deleted")
        services.reload(ctx)
        self._show_photo_manager(ctx)

    @button(Button.MAIN_PHOTO)
    def main_photo(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        photo_id = self._photo_arg(ctx, args)
        if photo_id is None:
            return
        services.ask(services.profile(ctx.user_id).make_main_photo(ctx.user_id, photo_id))
        ctx.say("profile.photo_made_main")
        services.reload(ctx)
        self._show_photo_manager(ctx)

    # -- the profile video (issue 14) ----------------------------------------------------------

    @button(Button.VIDEO)
    def video(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        if not services.require_complete(ctx):
            return
        services.deps.conversations.set(ctx.user_id, {PROFILE_VIDEO: 1})
        ctx.send(screens.video_manager(ctx.chat_id, ctx.buttons, ctx.account.video is not None))

    @takes_input(rank=40)
    def video_sent(self, ctx: Context) -> bool:
        services = self._services
        if PROFILE_VIDEO not in services.mode(ctx):
            return False
        incoming = ctx.incoming
        try:
            ctx.account = services.ask(
                services.profile(ctx.user_id).set_video(
                    ctx.user_id,
                    ctx.chat_id,
                    incoming.kind.value,
                    incoming.file_id,
                    incoming.file_unique_id,
                    incoming.file_size,
                    incoming.duration,
                )
            )
        except Invalid as refusal:
            ctx.say(refusal.key, None, **refusal.params)
            return True
        services.clear(ctx)
        services.count("video_set")
        ctx.say("media.video_saved")
        services.show_own_profile(ctx)
        return True

    @button(Button.DELETE_VIDEO)
    def delete_video(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        if not services.ask(services.profile(ctx.user_id).delete_video(ctx.user_id)):
            services.answer(ctx, "media.video_missing", alert=True)
            return
        services.clear(ctx)
        services.drop_buttons(ctx)
        services.count("video_deleted")
        ctx.say("media.video_deleted")

    @button(Button.PAUSE)
    def pause(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        if not services.require_complete(ctx):
            return
        paused = not ctx.account.is_paused
        services.ask(services.profile(ctx.user_id).set_paused(ctx.user_id, paused))
        services.count("paused" if paused else "resumed")
        ctx.say("profile.paused" if paused else "profile.resumed")
        ctx.send(
            replies.edit_keyboard(
                ctx.chat_id, ctx.incoming.message_id, screens.profile_menu(ctx.buttons, paused)
            )
        )

    @button(Button.DELETE_ACCOUNT)
    def delete_account(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        choice = args[0] if args else ""
        if choice == "ask":
            ctx.send(screens.delete_confirmation(ctx.chat_id, ctx.buttons))
        elif choice == "yes" and not (len(args) > 1 and still_valid(args[1])):
            ctx.say("common.confirmation_expired")
            ctx.send(screens.delete_confirmation(ctx.chat_id, ctx.buttons))
        elif choice == "yes":
            partners = services.ask(services.profile(ctx.user_id).delete_account(ctx.user_id))
            services.deps.conversations.forget_chats_with(ctx.user_id, partners)
            services.deps.limits.forget(ctx.user_id)
            services.clear(ctx)
            services.count("deleted")
            ctx.send(replies.message_removing_keyboard(ctx.chat_id, ctx.text("profile.deleted")))
        elif choice == "no":
            ctx.say("profile.delete_kept")
        else:
            services.outdated(ctx)

    def _show_photo_manager(self, ctx: Context) -> None:
        ctx.send(
            *screens.photo_manager(
                ctx.chat_id,
                ctx.buttons,
                [(photo.id.hex, photo.telegram_file_id) for photo in ctx.account.photos],
            )
        )
