"""What the bot shows for onboarding and the own profile, as Bot API calls (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot_api import replies
from bot_api.replies import Keyboard, Reply
from config.i18n import t
from domain.interests import INTERESTS, MAX_INTERESTS
from domain.location_privacy import distance_step
from domain.media import MEDIA_MAX_SECONDS
from domain.onboarding import Step
from domain.validation import ABOUT_MAX, MAX_PHOTOS, default_age_range
from presentation.buttons import Button
from presentation.callbacks import CallbackSigner, issued_now


class CardData(Protocol):
    """What a profile card shows; storage.accounts.Account provides it."""

    @property
    def name(self) -> str | None: ...
    @property
    def age(self) -> int | None: ...
    @property
    def city(self) -> str | None: ...
    @property
    def about(self) -> str | None: ...
    @property
    def interests(self) -> tuple[str, ...]: ...


class Buttons:
    """Inline buttons whose data is signed for one recipient."""

    def __init__(self, signer: CallbackSigner, user_id: int, language: str) -> None:
        self._signer = signer
        self.user_id = user_id
        self.language = language

    def __call__(self, label_key: str, *data: str, **label_values: object) -> dict[str, str]:
        return replies.button(
            t(self.language, label_key, **label_values), self._signer.sign(self.user_id, *data)
        )

    def raw(self, label: str, *data: str) -> dict[str, str]:
        return replies.button(label, self._signer.sign(self.user_id, *data))


def interest_labels(language: str, interests: Sequence[str]) -> str:
    return ", ".join(t(language, f"interests.{name}") for name in interests)


def card_caption(
    language: str,
    card: CardData,
    distance_km: float | None = None,
    extra_lines: Sequence[str] = (),
    *,
    verified: bool = False,
) -> str:
    """ "Name, age, city — about" and the interests, as every card shows it; ✅ after the
    name of a verified person."""
    if distance_km is not None:
        # Coarse steps between stored (displaced) points: never an exact distance
        # (domain.location_privacy).
        step = distance_step(distance_km)
        place = t(language, step.key, km=step.km)
    else:
        place = card.city or t(language, "profile.location_shared")
    name = t(language, "verify.badge", name=card.name) if verified else card.name
    head = t(language, "profile.card", name=name, age=card.age, place=place)
    if card.about:
        head = f"{head} — {card.about}"
    lines = [head]
    if card.interests:
        lines.append(
            t(language, "profile.interests", interests=interest_labels(language, card.interests))
        )
    lines.extend(extra_lines)
    return "\n\n".join(lines)


def location_keyboard(language: str) -> list[list[dict[str, object]]]:
    return [[{"text": t(language, "buttons.share_location"), "request_location": True}]]


def interests_keyboard(buttons: Buttons, chosen: Sequence[str]) -> Keyboard:
    rows: Keyboard = []
    row: list[dict[str, str]] = []
    for index, name in enumerate(INTERESTS):
        label = t(buttons.language, f"interests.{name}")
        ticked = name in chosen
        # The press says what it makes of the interest (untick "-", tick "+"), not "toggle".
        row.append(
            buttons.raw(
                f"✅ {label}" if ticked else label,
                Button.STEP_CHOICE,
                Step.INTERESTS.value,
                f"{index}{'-' if ticked else '+'}",
            )
        )
        if len(row) == 2:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    rows.append([buttons("buttons.done", Button.STEP_CHOICE, Step.INTERESTS.value, "done")])
    return rows


def ask_step(
    step: Step,
    chat_id: int,
    buttons: Buttons,
    age: int | None,
    interests: Sequence[str] = (),
    photos_owned: int = 0,
    *,
    onboarding: bool = False,
) -> Reply:
    """The question for one step of onboarding or editing, with its buttons. In onboarding
    the about question follows the location's reply keyboard: its Skip is a reply key that
    takes the location key's place (an inline keyboard could not remove it)."""
    lang = buttons.language
    if step is Step.NAME:
        return replies.message(chat_id, t(lang, "onboarding.ask_name"))
    if step is Step.AGE:
        return replies.message(chat_id, t(lang, "onboarding.ask_age"))
    if step is Step.GENDER:
        return replies.message(
            chat_id,
            t(lang, "onboarding.ask_gender"),
            [
                [
                    buttons("buttons.man", Button.STEP_CHOICE, step.value, "m"),
                    buttons("buttons.woman", Button.STEP_CHOICE, step.value, "f"),
                ]
            ],
        )
    if step is Step.SEEKING:
        return replies.message(
            chat_id,
            t(lang, "onboarding.ask_seeking"),
            [
                [
                    buttons("buttons.seek_men", Button.STEP_CHOICE, step.value, "m"),
                    buttons("buttons.seek_women", Button.STEP_CHOICE, step.value, "f"),
                    buttons("buttons.seek_anyone", Button.STEP_CHOICE, step.value, "any"),
                ]
            ],
        )
    if step is Step.AGE_RANGE:
        low, high = default_age_range(age or 25)
        return replies.message(
            chat_id,
            t(lang, "onboarding.ask_age_range", low=low, high=high),
            [
                [
                    buttons(
                        "buttons.keep_range",
                        Button.STEP_CHOICE,
                        step.value,
                        "keep",
                        low=low,
                        high=high,
                    )
                ]
            ],
        )
    if step is Step.LOCATION:
        return replies.message_with_reply_keyboard(
            chat_id, t(lang, "onboarding.ask_location"), location_keyboard(lang)
        )
    if step is Step.ABOUT and onboarding:
        return replies.message_with_reply_keyboard(
            chat_id,
            t(lang, "onboarding.ask_about", limit=ABOUT_MAX),
            [[{"text": t(lang, "buttons.skip")}]],
        )
    if step is Step.ABOUT:
        return replies.message(
            chat_id,
            t(lang, "onboarding.ask_about", limit=ABOUT_MAX),
            [[buttons("buttons.skip", Button.STEP_CHOICE, step.value, "skip")]],
        )
    if step is Step.INTERESTS:
        return replies.message(
            chat_id,
            t(lang, "onboarding.ask_interests", limit=MAX_INTERESTS),
            interests_keyboard(buttons, interests),
        )
    keyboard = (
        [[buttons("buttons.done", Button.STEP_CHOICE, step.value, "done")]]
        if photos_owned
        else None
    )
    return replies.message(chat_id, t(lang, "onboarding.ask_photos", limit=MAX_PHOTOS), keyboard)


def photo_saved(chat_id: int, buttons: Buttons, photos_owned: int) -> Reply:
    return replies.message(
        chat_id,
        t(buttons.language, "onboarding.photo_saved", count=photos_owned, limit=MAX_PHOTOS),
        [[buttons("buttons.done", Button.STEP_CHOICE, Step.PHOTOS.value, "done")]],
    )


EDITABLE_STEPS: tuple[Step, ...] = (
    Step.NAME,
    Step.AGE,
    Step.GENDER,
    Step.SEEKING,
    Step.AGE_RANGE,
    Step.LOCATION,
    Step.ABOUT,
    Step.INTERESTS,
)


def profile_menu(buttons: Buttons, paused: bool) -> Keyboard:
    edit = [
        buttons(f"buttons.edit_{step.value}", Button.EDIT, step.value) for step in EDITABLE_STEPS
    ]
    return [
        edit[0:3],
        edit[3:6],
        [*edit[6:8], buttons("buttons.edit_photos", Button.PHOTOS)],
        [buttons("media.button_edit_video", Button.VIDEO)],
        [
            buttons("buttons.resume" if paused else "buttons.pause", Button.PAUSE),
            buttons("buttons.delete_account", Button.DELETE_ACCOUNT, "ask"),
        ],
    ]


def own_profile(
    chat_id: int,
    buttons: Buttons,
    card: CardData,
    photo_file_ids: Sequence[str],
    paused: bool,
    *,
    video_file_id: str | None = None,
    verified: bool = False,
    note: str | None = None,
) -> list[Reply]:
    """The own card exactly as others see it, then the editing menu (headed by note)."""
    lang = buttons.language
    caption = card_caption(lang, card, verified=verified)
    menu_text = t(lang, "profile.menu")
    if paused:
        menu_text = f"{t(lang, 'profile.paused_note')}\n\n{menu_text}"
    if note:
        menu_text = f"{note}\n\n{menu_text}"
    menu = profile_menu(buttons, paused)
    if len(photo_file_ids) > 1 or (photo_file_ids and video_file_id):
        return [
            replies.album(chat_id, list(photo_file_ids), caption, video_file_id),
            replies.message(chat_id, menu_text, menu),
        ]
    if photo_file_ids:
        return [
            replies.photo(chat_id, photo_file_ids[0], caption),
            replies.message(chat_id, menu_text, menu),
        ]
    return [replies.message(chat_id, caption), replies.message(chat_id, menu_text, menu)]


def photo_manager(chat_id: int, buttons: Buttons, photos: Sequence[tuple[str, str]]) -> list[Reply]:
    """Each photo (id hex, file_id) with its own buttons, then add / back."""
    lang = buttons.language
    screens = [
        replies.message(
            chat_id, t(lang, "profile.photos_title", count=len(photos), limit=MAX_PHOTOS)
        )
    ]
    for position, (photo_id, file_id) in enumerate(photos, start=1):
        caption_key = "profile.photo_caption_main" if position == 1 else "profile.photo_caption"
        row = [buttons("buttons.photo_delete", Button.DELETE_PHOTO, photo_id)]
        if position > 1:
            row.insert(0, buttons("buttons.photo_make_main", Button.MAIN_PHOTO, photo_id))
        screens.append(
            replies.photo(chat_id, file_id, t(lang, caption_key, position=position), [row])
        )
    last_row = [buttons("buttons.back_to_profile", Button.BACK_TO_PROFILE)]
    if len(photos) < MAX_PHOTOS:
        last_row.insert(0, buttons("buttons.photo_add", Button.ADD_PHOTO))
    screens.append(replies.message(chat_id, t(lang, "profile.menu"), [last_row]))
    return screens


def video_manager(chat_id: int, buttons: Buttons, has_video: bool) -> Reply:
    """The question for a new profile video, with deleting the current one when there is one."""
    lang = buttons.language
    row = [buttons("buttons.back_to_profile", Button.BACK_TO_PROFILE)]
    if has_video:
        row.insert(0, buttons("media.button_video_delete", Button.DELETE_VIDEO))
    return replies.message(chat_id, t(lang, "media.send_video", seconds=MEDIA_MAX_SECONDS), [row])


def delete_confirmation(chat_id: int, buttons: Buttons) -> Reply:
    return replies.message(
        chat_id,
        t(buttons.language, "profile.delete_confirm"),
        [
            [
                buttons("buttons.delete_yes", Button.DELETE_ACCOUNT, "yes", issued_now()),
                buttons("buttons.delete_no", Button.DELETE_ACCOUNT, "no"),
            ]
        ],
    )


def language_choice(chat_id: int, buttons: Buttons) -> Reply:
    return replies.message(
        chat_id,
        t(buttons.language, "language.choose"),
        [
            [
                buttons("buttons.lang_ru", Button.LANGUAGE, "ru"),
                buttons("buttons.lang_en", Button.LANGUAGE, "en"),
            ]
        ],
    )
