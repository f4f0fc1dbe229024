"""Every wrong answer at every onboarding step gets the catalog's polite message in the user's
language and the same question again, in one message; stale buttons are answered quietly,
forged ones refused; the node counts no error through any of it (the steady_node fixture
checks that around each test). Newcomers of different languages, or of different cases, go
side by side: each chat is paced at a message a second, so one after another they took
minutes."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from domain.onboarding import Step
from domain.validation import (
    ABOUT_MAX,
    CITY_MAX,
    MAX_AGE,
    MAX_PHOTOS,
    MIN_AGE,
    NAME_MAX,
    PHOTO_MAX_BYTES,
)
from sandbox.client import SandboxClient, VirtualUser
from storage import db
from tests.e2e.story import Newcomer, fetch, in_every_language, profile_row, side_by_side
from tests.support.images import big_jpeg, image

pytestmark = pytest.mark.usefixtures("steady_node")

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
LIMIT_MB = PHOTO_MAX_BYTES // (1024 * 1024)

Send = Callable[[VirtualUser], object]
# Everything but text a user can send where the bot expects a typed answer.
NOT_TEXT: dict[str, Send] = {
    "sticker": lambda user: user.send_sticker(),
    "photo": lambda user: user.send_photo(image()),
    "location": lambda user: user.send_location(55.75, 37.62),
    "voice": lambda user: user.send_voice(),
    "document": lambda user: user.send_document(PDF, "cv.pdf", "application/pdf"),
    "video note": lambda user: user.send_video_note(),
    "contact": lambda user: user.send_contact(),
}


def refuse_all(person: Newcomer, step: Step, key: str, senders: dict[str, Send]) -> None:
    for send in senders.values():
        send(person.user)
        person.expect_refusal(key, step)


@in_every_language
def test_name_step(person: Newcomer, pool: db.Pool) -> None:
    """The name must be typed text, at most 64 characters, made of letters."""
    person.reach(Step.NAME)
    refuse_all(person, Step.NAME, "errors.expected_text", NOT_TEXT)
    person.user.send_text("A" * (NAME_MAX + 1))
    person.expect_refusal("errors.name_length", Step.NAME, limit=NAME_MAX)
    for wrong in ("R2D2", "Anna!", "@anna", "___"):
        person.user.send_text(wrong)
        person.expect_refusal("errors.name_chars", Step.NAME)
    person.user.send_text("  Anna-Maria  O'Neil ")
    person.expect(person.question(Step.AGE))
    row = profile_row(pool, person.id)
    assert row is not None and row["name"] == "Anna-Maria O'Neil"


@in_every_language
def test_age_step(person: Newcomer, pool: db.Pool) -> None:
    """The age must be a number from 18 to 100, typed as text."""
    person.reach(Step.AGE)
    refuse_all(person, Step.AGE, "errors.expected_text", NOT_TEXT)
    for wrong in ("abc", "twenty", "25.5", "-20", "1000", "2 5"):
        person.user.send_text(wrong)
        person.expect_refusal("errors.age_not_number", Step.AGE)
    person.user.send_text(str(MIN_AGE - 1))
    person.expect_refusal("errors.age_too_young", Step.AGE, low=MIN_AGE)
    person.user.send_text(str(MAX_AGE + 1))
    person.expect_refusal("errors.age_too_old", Step.AGE, low=MIN_AGE, high=MAX_AGE)
    person.user.send_text(" 18 ")
    person.expect(person.question(Step.GENDER))
    row = profile_row(pool, person.id)
    assert row is not None and row["age"] == MIN_AGE


@pytest.mark.parametrize("step", [Step.GENDER, Step.SEEKING])
@in_every_language
def test_choice_steps_take_buttons_only(person: Newcomer, pool: db.Pool, step: Step) -> None:
    """Where the bot offers buttons, typed text and any media are pointed at the buttons."""
    person.reach(step)
    person.user.send_text("woman")
    person.expect_refusal("errors.expected_choice", step)
    refuse_all(person, step, "errors.expected_choice", NOT_TEXT)
    person.answer(step)
    row = profile_row(pool, person.id)
    assert row is not None and (row["gender"], row["seeking"]) == (
        ("f", None) if step is Step.GENDER else ("f", "m")
    )


@in_every_language
def test_age_range_step(person: Newcomer, pool: db.Pool) -> None:
    """The range must be two ages from 18 to 100, the smaller first, typed as text."""
    person.reach(Step.AGE_RANGE)
    refuse_all(person, Step.AGE_RANGE, "errors.expected_text", NOT_TEXT)
    for malformed in ("abc", "25", "25-", "twenty-thirty", "25-30-35", "1000-2000"):
        person.user.send_text(malformed)
        person.expect_refusal("errors.range_format", Step.AGE_RANGE, low=22, high=32)
    for out_of_bounds in ("17-30", "30-101", "0-0"):
        person.user.send_text(out_of_bounds)
        person.expect_refusal("errors.range_bounds", Step.AGE_RANGE, low=MIN_AGE, high=MAX_AGE)
    person.user.send_text("40-30")
    person.expect_refusal("errors.range_order", Step.AGE_RANGE)
    person.user.send_text("30 — 40")
    person.expect(person.question(Step.LOCATION))
    row = profile_row(pool, person.id)
    assert row is not None and (row["age_min"], row["age_max"]) == (30, 40)


@in_every_language
def test_location_step(person: Newcomer, pool: db.Pool) -> None:
    """The city must be letters (2 to 64), or a shared location; other media are refused."""
    person.reach(Step.LOCATION)
    not_a_place = {kind: send for kind, send in NOT_TEXT.items() if kind != "location"}
    refuse_all(person, Step.LOCATION, "errors.expected_location", not_a_place)
    for wrong in ("Moscow 2", "123", "Berlin!", "@city"):
        person.user.send_text(wrong)
        person.expect_refusal("errors.city_chars", Step.LOCATION)
    for wrong in ("M", "B" * (CITY_MAX + 1)):
        person.user.send_text(wrong)
        person.expect_refusal("errors.city_length", Step.LOCATION, limit=CITY_MAX)
    person.user.send_text("St. Petersburg")
    person.expect(person.question(Step.ABOUT))
    row = profile_row(pool, person.id)
    assert row is not None and (row["city"], row["city_key"]) == ("St. Petersburg", "st petersburg")


@in_every_language
def test_about_step(person: Newcomer, pool: db.Pool) -> None:
    """About is typed text of at most 1000 characters (the message says how long it was)."""
    person.reach(Step.ABOUT)
    refuse_all(person, Step.ABOUT, "errors.expected_text", NOT_TEXT)
    person.user.send_text("x" * (ABOUT_MAX + 1))
    person.expect_refusal("errors.about_length", Step.ABOUT, length=ABOUT_MAX + 1, limit=ABOUT_MAX)
    person.user.send_text("y" * ABOUT_MAX)
    person.expect(person.question(Step.INTERESTS))
    row = profile_row(pool, person.id)
    assert row is not None and row["about"] == "y" * ABOUT_MAX


# "About" texts with a sign of spam or a scam, by language, and the reason each is refused for.
SCAM_ABOUTS: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("Join my channel t.me/hot_dates_club for more", "errors.about_invite_link"),
        ("Call me on +44 7911 123456 tonight", "errors.about_phone"),
        ("Looking for a generous man, send me money for a ticket", "errors.about_money"),
    ],
    "ru": [
        ("Пиши мне в телеграм @sweet_katya_99", "errors.about_handle"),
        ("Звони 8 912 345-67-89, жду", "errors.about_phone"),
        ("Мой кошелёк 0x52908400098527886E0F7030069857D2E4169EE7", "errors.about_wallet"),
    ],
}


def about_refusal(person: Newcomer, reason: str) -> str:
    """The reason and the question again, in one message."""
    refusal = person.t("errors.about_refused", reason=person.t(reason))
    return f"{refusal}\n\n{person.question(Step.ABOUT)}"


@in_every_language
def test_about_with_contacts_links_or_money_is_refused_with_the_reason(
    person: Newcomer, pool: db.Pool
) -> None:
    """In onboarding, an "about" with an invite link, a phone, a @handle, a wallet or a request
    for money is refused in one message (why, and the question again, with Skip); nothing is
    stored, and a clean one is taken."""
    person.reach(Step.ABOUT)
    for text, reason in SCAM_ABOUTS[person.language]:
        person.user.send_text(text)
        (refused,) = person.expect(about_refusal(person, reason))
        assert refused.button_texts == [person.t("buttons.skip")]
    row = profile_row(pool, person.id)
    assert row is not None and row["about"] is None
    person.user.send_text("I like long walks, 180 cm, born in 1990")
    person.expect(person.question(Step.INTERESTS))
    row = profile_row(pool, person.id)
    assert row is not None and row["about"] == "I like long walks, 180 cm, born in 1990"


@in_every_language
def test_editing_about_refuses_contacts_with_the_reason(person: Newcomer, pool: db.Pool) -> None:
    """/profile → About: a @handle is refused with the reason and the question; the old
    "about" stays until a clean one is sent."""
    person.onboard()
    before = profile_row(pool, person.id)
    person.press("buttons.edit_about")
    person.expect(person.with_question("profile.ask_new_value", Step.ABOUT))
    text, reason = SCAM_ABOUTS[person.language][0]
    person.user.send_text(text)
    person.expect(about_refusal(person, reason))
    row = profile_row(pool, person.id)
    assert before is not None and row is not None and row["about"] == before["about"]


@in_every_language
def test_interests_step(person: Newcomer) -> None:
    """Interests are chosen with buttons: typed text and media are pointed at them."""
    person.reach(Step.INTERESTS)
    person.user.send_text("music")
    person.expect_refusal("errors.expected_choice", Step.INTERESTS)
    refuse_all(person, Step.INTERESTS, "errors.expected_choice", NOT_TEXT)
    person.answer(Step.INTERESTS)


@in_every_language
def test_photo_step(person: Newcomer, pool: db.Pool) -> None:
    """Only an image is a photo: text, stickers and other media, a PDF, a file that only
    claims to be an image and an image over 10 MB are refused, each with its reason."""
    person.reach(Step.PHOTOS)
    person.user.send_text("here is my photo")
    person.expect_refusal("errors.expected_photo", Step.PHOTOS)
    not_a_photo = {
        kind: send for kind, send in NOT_TEXT.items() if kind not in ("photo", "document")
    }
    refuse_all(person, Step.PHOTOS, "errors.expected_photo", not_a_photo)
    person.user.send_document(PDF, "me.pdf", "application/pdf")
    person.expect_refusal("errors.photo_not_image", Step.PHOTOS)
    person.user.send_document(PDF, "me.jpg", "image/jpeg")
    person.expect_refusal("errors.photo_not_image", Step.PHOTOS)
    person.user.send_document(big_jpeg(LIMIT_MB + 0.5), "huge.jpg", "image/jpeg")
    person.expect_refusal("errors.photo_too_large", Step.PHOTOS, limit_mb=LIMIT_MB)
    person.user.send_photo(big_jpeg(LIMIT_MB + 0.5))
    person.expect_refusal("errors.photo_too_large", Step.PHOTOS, limit_mb=LIMIT_MB)
    row = profile_row(pool, person.id)
    assert row is not None and row["onboarding_step"] == "photos"
    person.finish()


def test_the_same_photo_twice_is_stored_once(sandbox: SandboxClient, pool: db.Pool) -> None:
    """Sending the very same picture again does not fill a second place."""
    anna = Newcomer.create(sandbox, "en")
    anna.reach(Step.PHOTOS)
    picture = image()
    anna.user.send_photo(picture)
    anna.expect(anna.t("onboarding.photo_saved", count=1, limit=MAX_PHOTOS))
    anna.user.send_photo(picture)
    [again] = anna.expect_refusal("errors.photo_duplicate", Step.PHOTOS)
    assert again.button_texts == [anna.t("buttons.done")]
    assert fetch(pool, "SELECT count(*) AS n FROM photos WHERE user_id = %s", anna.id) == {"n": 1}
    anna.press("buttons.done")
    [_, menu] = anna.take(2)
    assert menu.body == anna.done_menu()


@in_every_language
def test_stale_step_button_is_answered_quietly(person: Newcomer, pool: db.Pool) -> None:
    """Pressing a gender button again after moving on (on a copy of the question left above)
    changes nothing: the press is answered without a pop-up, and the first such press shows
    the current question again; a second one shows nothing more."""
    person.reach(Step.GENDER)
    person.user.send_text("woman")
    [copy] = person.expect_refusal("errors.expected_choice", Step.GENDER)
    [first] = [m for m in person.user.messages if m.body == person.question(Step.GENDER)]
    person.press("buttons.woman", message_id=copy.message_id)
    [seeking] = person.expect(person.question(Step.SEEKING))
    assert seeking.message_id == copy.message_id, "the pressed question becomes the next one"
    for _ in range(2):
        person.press("buttons.man", message_id=first.message_id)
        person.expect_quiet_answer()
    # Shown once: the next message after the two presses is the question, then its answer's.
    person.expect(person.question(Step.SEEKING))
    person.user.press(person.t("buttons.seek_men"))
    person.expect(person.question(Step.AGE_RANGE))
    row = profile_row(pool, person.id)
    assert row is not None and (row["gender"], row["seeking"]) == ("f", "m")


def test_onboarding_button_after_the_profile_is_finished_shows_it(
    sandbox: SandboxClient, pool: db.Pool
) -> None:
    """The last onboarding button pressed again once the profile is finished (late, or the
    same update handled again after its node died) is refused and the profile shown, as the
    first press showed it; nothing changes."""
    anna = Newcomer.create(sandbox, "en")
    gender = anna.reach(Step.GENDER)
    for step in (
        Step.GENDER,
        Step.SEEKING,
        Step.AGE_RANGE,
        Step.LOCATION,
        Step.ABOUT,
        Step.INTERESTS,
    ):
        anna.answer(step)
    card, _ = anna.finish()
    anna.user.press_forged(gender.message_id, gender.callback_data(anna.t("buttons.man")))
    anna.expect_quiet_answer()
    anna.expect(card.body, anna.t("profile.menu"))
    row = profile_row(pool, anna.id)
    assert row is not None and (row["gender"], row["onboarding_step"]) == ("f", None)


FORGED = ["garbage", "st:gender:m", "st:gender:m~AAAAAAAA", "~", "", "dl:yes~" + "x" * 8, "é" * 30]


def test_forged_button_data_is_refused(sandbox: SandboxClient, pool: db.Pool) -> None:
    """Made-up callback data is refused like an old button, and the question comes again."""

    def forge(data: str) -> None:
        anna = Newcomer.create(sandbox, "en")
        gender = anna.reach(Step.GENDER)
        anna.user.press_forged(gender.message_id, data)
        anna.expect_alert(anna.t("common.outdated_button"))
        anna.expect(anna.question(Step.GENDER))
        row = profile_row(pool, anna.id)
        assert row is not None and (row["gender"], row["onboarding_step"]) == (None, "gender")
        anna.answer(Step.GENDER)

    side_by_side(*(functools.partial(forge, data) for data in FORGED))


def test_button_on_a_message_that_does_not_exist(sandbox: SandboxClient) -> None:
    """Made-up data on a message id the chat never had is refused like an old button (the
    bot gets an inaccessible message there); the user's own genuine data still works."""
    anna = Newcomer.create(sandbox, "ru")
    gender = anna.reach(Step.GENDER)
    anna.user.press_forged(gender.message_id + 1000, "st:gender:m")
    anna.expect_alert(anna.t("common.outdated_button"))
    anna.expect(anna.question(Step.GENDER))
    anna.user.press_forged(gender.message_id + 1000, gender.callback_data(anna.t("buttons.man")))
    anna.expect(anna.question(Step.SEEKING))


def test_stale_onboarding_button_during_an_edit(sandbox: SandboxClient, pool: db.Pool) -> None:
    """An onboarding button pressed while editing is refused and the edit question repeated."""
    anna = Newcomer.create(sandbox, "en")
    gender = anna.reach(Step.GENDER)
    for step in (
        Step.GENDER,
        Step.SEEKING,
        Step.AGE_RANGE,
        Step.LOCATION,
        Step.ABOUT,
        Step.INTERESTS,
    ):
        anna.answer(step)
    anna.finish()
    anna.press("buttons.edit_age")
    anna.expect(anna.with_question("profile.ask_new_value", Step.AGE))
    anna.user.press_forged(gender.message_id, gender.callback_data(anna.t("buttons.man")))
    anna.expect_quiet_answer()
    anna.expect(anna.question(Step.AGE))
    anna.user.send_text("28")
    anna.expect(anna.t("common.saved"))
    row = profile_row(pool, anna.id)
    assert row is not None and (row["gender"], row["age"]) == ("f", 28)


def test_button_signed_for_another_user_is_refused(sandbox: SandboxClient, pool: db.Pool) -> None:
    """Data copied from another user's buttons does nothing for the one who sends it."""
    anna, boris = Newcomer.create(sandbox, "en"), Newcomer.create(sandbox, "ru", name="Борис")
    gender = anna.reach(Step.GENDER)
    boris_gender = boris.reach(Step.GENDER)
    anna.user.press_forged(gender.message_id, boris_gender.callback_data(boris.t("buttons.man")))
    anna.expect_alert(anna.t("common.outdated_button"))
    anna.expect(anna.question(Step.GENDER))
    row = profile_row(pool, anna.id)
    assert row is not None and row["gender"] is None
    boris.answer(Step.GENDER)
    row = profile_row(pool, boris.id)
    assert row is not None and row["gender"] == "f"


def test_deleting_with_another_users_button_is_refused(
    sandbox: SandboxClient, pool: db.Pool
) -> None:
    """The most harmful button, "yes, delete my account", only works for its owner."""
    anna, boris = Newcomer.create(sandbox, "en"), Newcomer.create(sandbox, "en", name="Boris")
    side_by_side(anna.onboard, boris.onboard)
    boris.press("buttons.delete_account")
    [confirm] = boris.expect(boris.t("profile.delete_confirm"))
    [menu] = [message for message in anna.user.messages if message.body == anna.done_menu()]
    anna.user.press_forged(menu.message_id, confirm.callback_data(boris.t("buttons.delete_yes")))
    anna.expect_alert(anna.t("common.outdated_button"))
    anna.expect_silence(0.5)
    assert profile_row(pool, anna.id) is not None
    assert profile_row(pool, boris.id) is not None
    boris.press("buttons.delete_no")
    boris.expect(boris.t("profile.delete_kept"))


@in_every_language
def test_bad_input_while_editing_keeps_the_old_value(person: Newcomer, pool: db.Pool) -> None:
    """In an edit, a wrong answer is explained and the edit question asked again."""
    person.onboard()
    person.press("buttons.edit_age")
    person.expect(person.with_question("profile.ask_new_value", Step.AGE))
    refuse_all(person, Step.AGE, "errors.expected_text", {"sticker": NOT_TEXT["sticker"]})
    person.user.send_text("17")
    person.expect_refusal("errors.age_too_young", Step.AGE, low=MIN_AGE)
    person.user.send_text("/cancel")
    person.expect(person.t("common.edit_cancelled"))
    row = profile_row(pool, person.id)
    assert row is not None and row["age"] == person.age
