"""The profile actor: accounts, profile fields and photos (PostgreSQL, S3, Telegram files)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pykka
import structlog
from pykka.typing import ActorMemberMixin, proxy_method

from bot_api.gateway import FileTooLarge, TelegramGateway
from domain.validation import (
    MAX_PHOTOS,
    PHOTO_MAX_BYTES,
    Invalid,
    sniff_image_type,
    validate_photo_upload,
)
from storage.accounts import KEEP_STEP, Account, Accounts, Keep
from storage.photos import PhotoStore

log = structlog.get_logger(__name__)


class ProfileActor(pykka.ThreadingActor):
    def __init__(
        self,
        accounts: Accounts,
        photos: PhotoStore,
        telegram: TelegramGateway,
        on_changed: Callable[[int], None] | None = None,
        on_deleted: Callable[[int], None] | None = None,
    ) -> None:
        """on_changed(user_id) is told of every change to what a profile shows (the rater
        re-rates it), on_deleted(user_id) of an account deleted (what else holds the user's
        data forgets it); neither may block."""
        super().__init__()
        self._accounts = accounts
        self._photos = photos
        self._telegram = telegram
        self._on_changed = on_changed or (lambda _user_id: None)
        self._on_deleted = on_deleted or (lambda _user_id: None)

    def register(
        self, user_id: int, chat_id: int, language: str, username: str | None
    ) -> tuple[Account, bool]:
        account, created = self._accounts.register(user_id, chat_id, language, username)
        if created:
            log.info("user registered", user_id=user_id, action="registered", language=language)
        return account, created

    def touch(self, account: Account, username: str | None) -> None:
        self._accounts.touch(account, username)

    def set_language(self, user_id: int, language: str) -> None:
        self._accounts.set_language(user_id, language)

    def save(
        self, user_id: int, values: dict[str, object], step: str | Keep | None = KEEP_STEP
    ) -> Account:
        """Set profile fields and/or move the onboarding step (None: finished) in one
        transaction; the account as it is now."""
        account, shown = self._accounts.save(user_id, values, step)
        # A profile still being built is shown to nobody: it is rated once it is finished.
        if shown:
            self._on_changed(user_id)
        if values:
            log.info("profile edited", user_id=user_id, action="edited", fields=sorted(values))
        if step is None:
            log.info("profile completed", user_id=user_id, action="profile_completed")
        return account

    def set_paused(self, user_id: int, paused: bool) -> None:
        self._accounts.set_paused(user_id, paused)
        log.info(
            "profile paused" if paused else "profile resumed",
            user_id=user_id,
            action="paused" if paused else "resumed",
        )

    def set_inactive(self, user_id: int) -> None:
        self._accounts.set_inactive(user_id, True)
        log.info("user blocked the bot", user_id=user_id, action="inactive")

    def add_photo(
        self,
        user_id: int,
        file_id: str,
        file_unique_id: str,
        claimed_type: str,
        claimed_size: int,
        photos_owned: int,
        as_document_in: int | None = None,
    ) -> Account:
        """Download a Telegram photo once, keep its bytes under a random key and its file_id
        for showing; the account with the photo. Raises Invalid with the reason.
        An image sent as a document (as_document_in: its chat) gets a photo file_id first,
        since Telegram refuses a document's file_id where a photo is sent."""
        validate_photo_upload(claimed_type or "image/jpeg", claimed_size, photos_owned)
        try:
            data = self._telegram.download(file_id, PHOTO_MAX_BYTES)
        except FileTooLarge:
            raise Invalid(
                "errors.photo_too_large", {"limit_mb": PHOTO_MAX_BYTES // (1024 * 1024)}
            ) from None
        except Exception as error:
            log.warning("photo download failed", user_id=user_id, error=str(error))
            raise Invalid("errors.photo_download_failed") from None
        content_type = sniff_image_type(data[:16])
        if content_type is None:
            raise Invalid("errors.photo_not_image")
        validate_photo_upload(content_type, len(data), photos_owned)
        if as_document_in is not None:
            try:
                file_id = self._telegram.photo_file_id(as_document_in, data)
            except Exception as error:
                log.warning("photo upload failed", user_id=user_id, error=str(error))
                raise Invalid("errors.photo_download_failed") from None
        key = self._photos.put(data, content_type)
        added = self._accounts.add_photo(
            user_id, key, file_id, file_unique_id, content_type, len(data)
        )
        account = self._accounts.get(user_id)
        if account is None:
            self._photos.delete([key])
            raise LookupError(f"account {user_id} vanished while adding a photo")
        count = len(account.photos)
        if not added:
            self._photos.delete([key])
            if count >= MAX_PHOTOS:
                raise Invalid("errors.photo_limit", {"limit": MAX_PHOTOS})
            raise Invalid("errors.photo_duplicate")
        log.info("photo added", user_id=user_id, action="photo_added", photos=count)
        return account

    def delete_photo(self, user_id: int, photo_id: UUID) -> bool:
        key = self._accounts.delete_photo(user_id, photo_id)
        if key is None:
            return False
        self._drop_objects([key])
        log.info("photo deleted", user_id=user_id, action="photo_deleted")
        return True

    def make_main_photo(self, user_id: int, photo_id: UUID) -> bool:
        return self._accounts.make_main_photo(user_id, photo_id)

    def delete_account(self, user_id: int) -> None:
        keys = self._accounts.delete_account(user_id)
        self._drop_objects(keys)
        self._on_deleted(user_id)
        log.info("account deleted", user_id=user_id, action="deleted", photos=len(keys))

    def _drop_objects(self, keys: list[str]) -> None:
        """Delete objects now; a failure leaves them queued for the maintenance sweep."""
        try:
            self._photos.delete(keys)
        except Exception as error:
            log.warning("photo objects left for the sweep", error=str(error), count=len(keys))
            return
        self._accounts.forget_orphans(keys)


class ProfileActorProxy(ActorMemberMixin, pykka.ActorProxy[ProfileActor]):
    register = proxy_method(ProfileActor.register)
    touch = proxy_method(ProfileActor.touch)
    set_language = proxy_method(ProfileActor.set_language)
    save = proxy_method(ProfileActor.save)
    set_paused = proxy_method(ProfileActor.set_paused)
    set_inactive = proxy_method(ProfileActor.set_inactive)
    add_photo = proxy_method(ProfileActor.add_photo)
    delete_photo = proxy_method(ProfileActor.delete_photo)
    make_main_photo = proxy_method(ProfileActor.make_main_photo)
    delete_account = proxy_method(ProfileActor.delete_account)
