"""The profile actor: accounts, profile fields and photos (PostgreSQL, S3, Telegram files)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pykka
import structlog
from pykka.typing import ActorMemberMixin, proxy_method

from actors.faults import transient
from bot_api.gateway import FileTooLarge, TelegramGateway
from domain.images import clean_jpeg, perceptual_hash
from domain.location_privacy import (
    LOCATION_CHANGE_WINDOW,
    LOCATION_CHANGES_PER_DAY,
    StoredLocation,
    location_change_allowed,
    next_location_change_at,
    private_location,
)
from domain.media import MEDIA_MAX_BYTES, PROFILE_VIDEO_KINDS, check_media, sniff_video_type
from domain.safety_keys import safety_key
from domain.validation import (
    MAX_PHOTOS,
    PHOTO_MAX_BYTES,
    Invalid,
    sniff_image_type,
    validate_photo_upload,
)
from storage.accounts import KEEP_STEP, Account, Accounts, Keep
from storage.fence import FenceAware
from storage.photos import PhotoStore
from storage.verifications import Case, Request, Review, Verifications

log = structlog.get_logger(__name__)

# (user_id, the new photo's file_id, [(other account, its photo's file_id)])
SamePhoto = Callable[[int, str, list[tuple[int, str]]], None]


class ProfileActor(FenceAware, pykka.ThreadingActor):
    def __init__(
        self,
        accounts: Accounts,
        photos: PhotoStore,
        telegram: TelegramGateway,
        verifications: Verifications,
        secret: bytes,
        on_changed: Callable[[int], None] | None = None,
        on_same_photo: SamePhoto | None = None,
        on_deleted: Callable[[int], None] | None = None,
    ) -> None:
        """secret places shared locations (domain.location_privacy) and keys the safety
        records of an account (domain.safety_keys); on_changed(user_id) is told of every
        change to what a profile shows (the rater re-rates it); on_same_photo(user_id,
        file_id, twins) of a photo just added that other accounts have too (twins: their ids
        and that photo's file_id); on_deleted(user_id) of an account deleted (what else holds
        the user's data forgets it). None of them may block."""
        super().__init__()
        self._on_same_photo = on_same_photo or (lambda _user, _file, _twins: None)
        self._accounts = accounts
        self._verifications = verifications
        self._photos = photos
        self._telegram = telegram
        self._secret = secret
        self._on_changed = on_changed or (lambda _user_id: None)
        self._on_deleted = on_deleted or (lambda _user_id: None)

    def register(
        self, user_id: int, chat_id: int, language: str, username: str | None
    ) -> tuple[Account, bool]:
        account, created = self._accounts.register(
            user_id, chat_id, language, username, safety_key(user_id, self._secret)
        )
        if created:
            log.info("user registered", user_id=user_id, action="registered", language=language)
        return account, created

    def touch(self, account: Account, username: str | None) -> bool:
        """Record activity; True when it brought someone paused for inactivity back."""
        back = self._accounts.touch(account, username)
        if back:
            log.info("back from away", user_id=account.id, action="back_from_away")
        return back

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

    def place(self, user_id: int, latitude: float, longitude: float) -> StoredLocation:
        """The point to store for a location the user shares, counted against the daily limit
        on location changes; raises Invalid (with when a change is allowed again) beyond it."""
        now = datetime.now(UTC)
        earlier = self._accounts.location_changes(user_id, now - LOCATION_CHANGE_WINDOW)
        if not location_change_allowed(earlier, now):
            allowed_at = next_location_change_at(earlier, now) or now
            hours = max(1, math.ceil((allowed_at - now) / timedelta(hours=1)))
            raise Invalid(
                "errors.location_limit", {"limit": LOCATION_CHANGES_PER_DAY, "hours": hours}
            )
        self._accounts.record_location_change(user_id, now, now - LOCATION_CHANGE_WINDOW)
        return private_location(latitude, longitude, user_id=user_id, secret=self._secret)

    def set_paused(self, user_id: int, paused: bool) -> None:
        self._accounts.set_paused(user_id, paused)
        log.info(
            "profile paused" if paused else "profile resumed",
            user_id=user_id,
            action="paused" if paused else "resumed",
        )

    def invite_code(self, user_id: int) -> str:
        return self._accounts.invite_code(user_id)

    def accept_invitation(self, user_id: int, code: str) -> bool:
        accepted = self._accounts.accept_invitation(user_id, code)
        log.info("came by invitation" if accepted else "invitation refused", user_id=user_id)
        return accepted

    def set_protect_media(self, user_id: int, protect: bool) -> None:
        self._accounts.set_protect_media(user_id, protect)

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
            if transient(error):
                raise  # Telegram unreachable: the update waits for it, not the user
            log.warning("photo download failed", user_id=user_id, error=str(error))
            raise Invalid("errors.photo_download_failed") from None
        content_type = sniff_image_type(data[:16])
        if content_type is None:
            raise Invalid("errors.photo_not_image")
        validate_photo_upload(content_type, len(data), photos_owned)
        # Only the pixels are kept: EXIF (GPS included), XMP, IPTC and ICC data go, here and in
        # what a file sent as a document is uploaded to Telegram as.
        try:
            data, content_type = clean_jpeg(data), "image/jpeg"
        except Exception as error:
            log.warning("photo not decodable", user_id=user_id, error=str(error))
            raise Invalid("errors.photo_not_image") from None
        if as_document_in is not None:
            try:
                file_id = self._telegram.photo_file_id(as_document_in, data)
            except Exception as error:
                if transient(error):
                    raise  # Telegram unreachable: the update waits for it, not the user
                log.warning("photo upload failed", user_id=user_id, error=str(error))
                raise Invalid("errors.photo_download_failed") from None
        fingerprint = perceptual_hash(data)
        key = self._photos.put(data, content_type)
        added = self._accounts.add_photo(
            user_id, key, file_id, file_unique_id, content_type, len(data), fingerprint
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
        twins = [] if fingerprint is None else self._accounts.photo_twins(user_id, fingerprint)
        if twins:
            log.info("same photo on other accounts", user_id=user_id, others=len(twins))
            self._on_same_photo(user_id, file_id, twins)
        return account

    def clean_image(self, chat_id: int, file_id: str) -> str:
        """An image sent as a file in chat, as a photo without its metadata (EXIF with GPS and
        the rest): its photo file_id, or "" when it cannot be read or is too large (then it
        is not relayed: a copy would carry the metadata)."""
        try:
            data = self._telegram.download(file_id, PHOTO_MAX_BYTES)
            if sniff_image_type(data[:16]) is None:
                return ""
            return self._telegram.photo_file_id(chat_id, clean_jpeg(data))
        except Exception as error:
            log.warning("chat image not cleaned", chat_id=chat_id, error=str(error))
            return ""

    def delete_photo(self, user_id: int, photo_id: UUID) -> bool:
        key = self._accounts.delete_photo(user_id, photo_id)
        if key is None:
            return False
        self._drop_objects([key])
        log.info("photo deleted", user_id=user_id, action="photo_deleted")
        return True

    def make_main_photo(self, user_id: int, photo_id: UUID) -> bool:
        return self._accounts.make_main_photo(user_id, photo_id)

    # -- issue 14: the profile video and verification ------------------------------------------

    def set_video(
        self,
        user_id: int,
        chat_id: int,
        kind: str,
        file_id: str,
        file_unique_id: str,
        size: int,
        duration: int,
    ) -> Account:
        """Keep a video or video note of up to 15 s as the profile's video, like a photo: its
        bytes under a random key, a file_id reused to show it; the account with it. A video
        note is uploaded again as a video, since a card is sent with sendVideo (Telegram
        refuses a video note's file_id there). Raises Invalid with the reason."""
        check_media(kind, duration, size, PROFILE_VIDEO_KINDS, "media.video_expected")
        too_large = Invalid("media.too_large", {"limit_mb": MEDIA_MAX_BYTES // (1024 * 1024)})
        try:
            data = self._telegram.download(file_id, MEDIA_MAX_BYTES)
        except FileTooLarge:
            raise too_large from None
        except Exception as error:
            if transient(error):
                raise  # Telegram unreachable: the update waits for it, not the user
            log.warning("video download failed", user_id=user_id, error=str(error))
            raise Invalid("media.video_download_failed") from None
        content_type = sniff_video_type(data[:16])
        if content_type is None:
            raise Invalid("media.video_expected")
        if kind == "video_note":
            try:
                file_id, file_unique_id = self._telegram.video_file_id(chat_id, data, duration)
            except Exception as error:
                if transient(error):
                    raise  # Telegram unreachable: the update waits for it, not the user
                log.warning("video upload failed", user_id=user_id, error=str(error))
                raise Invalid("media.video_download_failed") from None
        key = self._photos.put(data, content_type)
        replaced = self._accounts.set_video(
            user_id, key, file_id, file_unique_id, content_type, len(data), duration
        )
        if replaced is not None:
            self._drop_objects([replaced])
        self._on_changed(user_id)
        log.info("video set", user_id=user_id, action="video_set", seconds=duration)
        account = self._accounts.get(user_id)
        if account is None:
            raise LookupError(f"account {user_id} vanished while setting a video")
        return account

    def delete_video(self, user_id: int) -> bool:
        key = self._accounts.delete_video(user_id)
        if key is None:
            return False
        self._drop_objects([key])
        log.info("video deleted", user_id=user_id, action="video_deleted")
        return True

    def latest_verification(self, user_id: int) -> Request | None:
        return self._verifications.latest(user_id)

    def ask_verification(self, user_id: int, gesture: str) -> int:
        request = self._verifications.ask(user_id, gesture)
        log.info("verification asked", user_id=user_id, action="verification_asked")
        return request

    def submit_verification(self, user_id: int, video_file_id: str) -> bool:
        submitted = self._verifications.submit(user_id, video_file_id)
        if submitted:
            log.info("verification sent", user_id=user_id, action="verification_sent")
        return submitted

    def next_verification(self) -> Case | None:
        return self._verifications.next_case()

    def review_verification(
        self, request_id: int, moderator_id: int, approve: bool, reason: str | None
    ) -> Review | None:
        review = self._verifications.review(request_id, moderator_id, approve, reason)
        if review is not None:
            log.info(
                "verification reviewed",
                user_id=review.party.user_id,
                moderator=moderator_id,
                action="verified" if approve else "verification_refused",
            )
        return review

    def delete_account(self, user_id: int) -> list[int]:
        """Delete the account; everyone it was matched with (their chats with it end)."""
        keys, partners = self._accounts.delete_account(user_id)
        self._drop_objects(keys)
        self._on_deleted(user_id)
        log.info("account deleted", user_id=user_id, action="deleted", photos=len(keys))
        return partners

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
    place = proxy_method(ProfileActor.place)
    set_paused = proxy_method(ProfileActor.set_paused)
    set_inactive = proxy_method(ProfileActor.set_inactive)
    set_protect_media = proxy_method(ProfileActor.set_protect_media)
    invite_code = proxy_method(ProfileActor.invite_code)
    accept_invitation = proxy_method(ProfileActor.accept_invitation)
    add_photo = proxy_method(ProfileActor.add_photo)
    delete_photo = proxy_method(ProfileActor.delete_photo)
    clean_image = proxy_method(ProfileActor.clean_image)
    make_main_photo = proxy_method(ProfileActor.make_main_photo)
    delete_account = proxy_method(ProfileActor.delete_account)
    set_video = proxy_method(ProfileActor.set_video)
    delete_video = proxy_method(ProfileActor.delete_video)
    latest_verification = proxy_method(ProfileActor.latest_verification)
    ask_verification = proxy_method(ProfileActor.ask_verification)
    submit_verification = proxy_method(ProfileActor.submit_verification)
    next_verification = proxy_method(ProfileActor.next_verification)
    review_verification = proxy_method(ProfileActor.review_verification)
