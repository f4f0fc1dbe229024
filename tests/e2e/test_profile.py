"""The own profile end to end: editing every field with the card showing the change, photos
(add, delete, make main, an image sent as a file), pause and resume, and deleting the account
with its rows and stored photos."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image

from config.i18n import LANGUAGES, t
from domain.onboarding import Step
from domain.validation import MAX_PHOTOS, default_age_range
from sandbox.client import ChatMessage, SandboxClient
from storage import db
from storage.photos import PhotoStore
from tests.e2e.people import People, Person
from tests.e2e.story import Newcomer, fetch, private_point, profile_row, stored_location
from tests.support.images import image, photo_like_jpeg
from tests.support.profiles import unique_city

pytestmark = pytest.mark.usefixtures("steady_node")


def caption(
    person: Newcomer,
    name: str,
    age: int,
    place: str,
    about: str | None = None,
    interests: tuple[str, ...] = (),
) -> str:
    head = person.t("profile.card", name=name, age=age, place=place)
    text = f"{head} — {about}" if about else head
    if interests:
        labels = ", ".join(person.t(f"interests.{name}") for name in interests)
        text += "\n\n" + person.t("profile.interests", interests=labels)
    return text


def member(
    sandbox: SandboxClient,
    language: str = "en",
    photos: int = 1,
    name: str = "Anna",
    people: People | None = None,
) -> tuple[Newcomer, str]:
    """A user who finished onboarding (in a city of their own), and that city. With
    ``people``, the finished profile is written directly (one registered photo, no object in
    S3): the stories that only edit fields save the onboarding, which at Telegram's pace of
    a message a second per chat takes about ten seconds."""
    city = unique_city()
    if people is not None:
        assert photos == 1
        joined = people.join(name, age=27, city=city, language=language)
        person = Newcomer(joined.user, language)
        person.open_profile()  # the menu the stories press on
        return person, city
    person = Newcomer.create(sandbox, language, name=name)
    person.onboard(city=city, photos=photos)
    return person, city


def edit(person: Newcomer, field: str, step: Step) -> ChatMessage:
    """Press the field's edit button on the latest menu; the question that follows."""
    person.press(f"buttons.edit_{field}")
    [question] = person.expect(person.with_question("profile.ask_new_value", step))
    return question


def saved_card(person: Newcomer, text: str, photos: int = 1) -> list[ChatMessage]:
    """The bot says the change is saved, then shows the card with ``text`` and the menu."""
    person.expect(person.t("common.saved"))
    messages = person.take(photos + 1)
    assert [messages[0].body, messages[-1].body] == [text, person.t("profile.menu")], (
        person.user.transcript()
    )
    return messages


@pytest.mark.parametrize("language", LANGUAGES)
def test_profile_shows_the_card_and_the_menu(
    sandbox: SandboxClient, people: People, language: str
) -> None:
    """/profile shows the own card as others see it, then a menu to edit every part."""
    anna, city = member(sandbox, language, people=people)
    card, menu = anna.open_profile()
    assert card.body == caption(anna, "Anna", 27, city)
    assert card.photo
    assert menu.buttons == [
        [anna.t("buttons.edit_name"), anna.t("buttons.edit_age"), anna.t("buttons.edit_gender")],
        [
            anna.t("buttons.edit_seeking"),
            anna.t("buttons.edit_age_range"),
            anna.t("buttons.edit_location"),
        ],
        [
            anna.t("buttons.edit_about"),
            anna.t("buttons.edit_interests"),
            anna.t("buttons.edit_photos"),
        ],
        [anna.t("media.button_edit_video")],
        [anna.t("buttons.pause"), anna.t("buttons.delete_account")],
    ]


@pytest.mark.parametrize("language", LANGUAGES)
def test_edit_name_age_and_about(
    sandbox: SandboxClient, people: People, pool: db.Pool, language: str
) -> None:
    """A new name, age and about each replace the old one on the card."""
    anna, city = member(sandbox, language, people=people)
    edit(anna, "name", Step.NAME)
    anna.user.send_text("Annette")
    saved_card(anna, caption(anna, "Annette", 27, city))
    edit(anna, "age", Step.AGE)
    anna.user.send_text("30")
    saved_card(anna, caption(anna, "Annette", 30, city))
    edit(anna, "about", Step.ABOUT)
    anna.user.send_text("Painter.")
    saved_card(anna, caption(anna, "Annette", 30, city, "Painter."))
    edit(anna, "about", Step.ABOUT)
    anna.user.send_text("Painter and baker.")
    saved_card(anna, caption(anna, "Annette", 30, city, "Painter and baker."))
    row = profile_row(pool, anna.id)
    assert row is not None
    assert (row["name"], row["age"], row["about"]) == ("Annette", 30, "Painter and baker.")


def test_skipping_about_while_editing_keeps_it(
    sandbox: SandboxClient, people: People, pool: db.Pool
) -> None:
    """Skip in an about edit leaves the text as it was."""
    anna, city = member(sandbox, people=people)
    edit(anna, "about", Step.ABOUT)
    anna.user.send_text("Painter.")
    saved_card(anna, caption(anna, "Anna", 27, city, "Painter."))
    edit(anna, "about", Step.ABOUT)
    anna.press("buttons.skip")
    saved_card(anna, caption(anna, "Anna", 27, city, "Painter."))


def test_edit_gender_and_seeking(sandbox: SandboxClient, people: People, pool: db.Pool) -> None:
    """Gender and whom to meet change with their buttons."""
    sam, city = member(sandbox, name="Sam", people=people)
    question = edit(sam, "gender", Step.GENDER)
    assert question.button_texts == [sam.t("buttons.man"), sam.t("buttons.woman")]
    sam.press("buttons.man")
    saved_card(sam, caption(sam, "Sam", 27, city))
    edit(sam, "seeking", Step.SEEKING)
    sam.press("buttons.seek_anyone")
    saved_card(sam, caption(sam, "Sam", 27, city))
    row = profile_row(pool, sam.id)
    assert row is not None and (row["gender"], row["seeking"]) == ("m", "any")


def test_edit_age_range(sandbox: SandboxClient, people: People, pool: db.Pool) -> None:
    """A typed range replaces the old one; the Keep button sets the suggested range."""
    anna, city = member(sandbox, people=people)
    edit(anna, "age_range", Step.AGE_RANGE)
    anna.user.send_text("35-45")
    saved_card(anna, caption(anna, "Anna", 27, city))
    row = profile_row(pool, anna.id)
    assert row is not None and (row["age_min"], row["age_max"]) == (35, 45)
    edit(anna, "age_range", Step.AGE_RANGE)
    anna.user.send_text("45-35")
    anna.expect_refusal("errors.range_order", Step.AGE_RANGE)
    anna.user.press(anna.keep_range_label())
    saved_card(anna, caption(anna, "Anna", 27, city))
    row = profile_row(pool, anna.id)
    assert row is not None and (row["age_min"], row["age_max"]) == default_age_range(27)


def test_edit_city_to_location_and_back(
    sandbox: SandboxClient, people: People, pool: db.Pool
) -> None:
    """A shared location replaces the city on the card, and a typed city the location."""
    anna, _ = member(sandbox, people=people)
    question = edit(anna, "location", Step.LOCATION)
    assert question.button_texts == [anna.t("buttons.share_location")]
    anna.user.press_reply(anna.t("buttons.share_location"), latitude=48.8566, longitude=2.3522)
    [saved] = anna.expect(anna.t("common.saved"))
    assert (saved.reply_markup or {}).get("remove_keyboard"), "the location button stays"
    card, _ = anna.take(2)
    assert card.body == caption(anna, "Anna", 27, anna.t("profile.location_shared"))
    row = profile_row(pool, anna.id)
    assert row is not None and row["city"] is None
    assert stored_location(row) == private_point(anna.id, 48.8566, 2.3522)

    edit(anna, "location", Step.LOCATION)
    anna.user.send_text("Paris")
    [saved] = anna.expect(anna.t("common.saved"))
    assert (saved.reply_markup or {}).get("remove_keyboard")
    card, _ = anna.take(2)
    assert card.body == caption(anna, "Anna", 27, "Paris")
    row = profile_row(pool, anna.id)
    assert row is not None and (row["city"], row["city_key"], row["latitude"]) == (
        "Paris",
        "paris",
        None,
    )


def test_edit_interests(sandbox: SandboxClient, people: People, pool: db.Pool) -> None:
    """Interests tick and untick on the question; Done puts them on the card."""
    anna, city = member(sandbox, people=people)
    question = edit(anna, "interests", Step.INTERESTS)
    for name in ("yoga", "hiking", "music"):
        anna.toggle(question, name)
    anna.toggle(question, "hiking", on=False)
    anna.press("buttons.done")
    saved_card(anna, caption(anna, "Anna", 27, city, interests=("yoga", "music")))

    question = edit(anna, "interests", Step.INTERESTS)
    assert anna.interest_label("yoga", chosen=True) in question.button_texts
    assert len([label for label in question.button_texts if label.startswith("✅")]) == 2
    row = profile_row(pool, anna.id)
    assert row is not None and row["interests"] == ["yoga", "music"]


def test_cancel_during_an_edit(sandbox: SandboxClient, people: People, pool: db.Pool) -> None:
    """/cancel in an edit keeps the old value; the next message is no longer taken as one."""
    anna, city = member(sandbox, people=people)
    edit(anna, "location", Step.LOCATION)
    anna.user.send_text("/cancel")
    [cancelled] = anna.expect(anna.t("common.edit_cancelled"))
    assert (cancelled.reply_markup or {}).get("remove_keyboard")
    anna.user.send_text("Berlin")
    anna.expect(anna.t("common.idle_hint"))
    anna.user.send_text("/cancel")
    anna.expect(anna.t("common.nothing_to_cancel"))
    card, _ = anna.open_profile()
    assert card.body == caption(anna, "Anna", 27, city)
    row = profile_row(pool, anna.id)
    assert row is not None and row["city"] == city


def photo_manager(person: Newcomer, count: int) -> list[ChatMessage]:
    """The photo screen: its title, one message per photo, and the add/back menu."""
    messages = person.take(count + 2)
    assert messages[0].body == person.t("profile.photos_title", count=count, limit=MAX_PHOTOS)
    assert [message.body for message in messages[1:-1]] == [
        person.t("profile.photo_caption_main", position=1),
        *(person.t("profile.photo_caption", position=n) for n in range(2, count + 1)),
    ]
    assert messages[-1].body == person.t("profile.menu")
    return messages


def rows(pool: db.Pool, query: str, *params: object) -> list[dict[str, object]]:
    with pool.connection() as conn:
        return [dict(row) for row in conn.execute(query, params).fetchall()]


def rows_of(pool: db.Pool, user_id: int) -> list[tuple[str, str]]:
    return [
        (str(row["telegram_file_id"]), str(row["object_key"]))
        for row in rows(
            pool,
            "SELECT telegram_file_id, object_key FROM photos WHERE user_id = %s ORDER BY position",
            user_id,
        )
    ]


def largest(message: ChatMessage) -> str:
    return message.photo[-1]


def test_photos_add_make_main_and_delete(
    sandbox: SandboxClient, pool: db.Pool, photo_store: PhotoStore
) -> None:
    """Photos are added up to three, any can become the main one (the card's photo changes),
    and one is deleted together with its stored object."""
    anna, city = member(sandbox)
    anna.press("buttons.edit_photos")
    screen = photo_manager(anna, 1)
    assert screen[1].button_texts == [anna.t("buttons.photo_delete")]
    assert screen[-1].button_texts == [
        anna.t("buttons.photo_add"),
        anna.t("buttons.back_to_profile"),
    ]
    anna.press("buttons.photo_add")
    anna.expect(anna.t("profile.send_new_photo"))
    anna.user.send_photo(image())
    card = saved_card(anna, caption(anna, "Anna", 27, city), photos=2)
    assert len({message.media_group_id for message in card[:2]}) == 1

    anna.press("buttons.edit_photos")
    screen = photo_manager(anna, 2)
    first, second = largest(screen[1]), largest(screen[2])
    assert screen[2].button_texts == [
        anna.t("buttons.photo_make_main"),
        anna.t("buttons.photo_delete"),
    ]
    anna.press("buttons.photo_make_main", message_id=screen[2].message_id)
    anna.expect(anna.t("profile.photo_made_main"))
    screen = photo_manager(anna, 2)
    assert [largest(screen[1]), largest(screen[2])] == [second, first]
    card = anna.open_profile(photos=2)
    assert [largest(card[0]), largest(card[1])] == [second, first]
    assert card[0].caption == caption(anna, "Anna", 27, city)

    keys = [key for _, key in rows_of(pool, anna.id)]
    assert all(photo_store.exists(key) for key in keys)
    anna.press("buttons.edit_photos")
    screen = photo_manager(anna, 2)
    anna.press("buttons.photo_delete", message_id=screen[1].message_id)
    anna.expect(anna.t("profile.photo_deleted"))
    screen = photo_manager(anna, 1)
    [(file_id, kept_key)] = rows_of(pool, anna.id)
    assert file_id in card[1].photo
    deleted_key = next(key for key in keys if key != kept_key)
    assert not photo_store.exists(deleted_key)
    assert photo_store.exists(kept_key)
    assert (
        fetch(pool, "SELECT 1 AS x FROM orphaned_objects WHERE object_key = %s", deleted_key)
        is None
    )
    anna.press("buttons.back_to_profile")
    card = anna.take(2)
    assert (card[0].body, largest(card[0])) == (caption(anna, "Anna", 27, city), first)


def test_the_only_photo_cannot_be_deleted(sandbox: SandboxClient, pool: db.Pool) -> None:
    """Deleting the last photo is refused with a pop-up; the photo stays."""
    anna, _ = member(sandbox)
    anna.press("buttons.edit_photos")
    screen = photo_manager(anna, 1)
    anna.press("buttons.photo_delete", message_id=screen[1].message_id)
    anna.expect_alert(anna.t("errors.photo_last"))
    anna.expect_silence(0.3)
    assert len(rows_of(pool, anna.id)) == 1


def test_an_image_sent_as_a_file_is_accepted(
    sandbox: SandboxClient, pool: db.Pool, photo_store: PhotoStore
) -> None:
    """A PNG sent as a document (uncompressed) is taken as a photo, stored as a JPEG
    re-encoded from its pixels."""
    anna, city = member(sandbox)
    anna.press("buttons.edit_photos")
    photo_manager(anna, 1)
    anna.press("buttons.photo_add")
    anna.expect(anna.t("profile.send_new_photo"))
    anna.user.send_document(image(kind="PNG"), "me.png", "image/png")
    saved_card(anna, caption(anna, "Anna", 27, city), photos=2)
    stored = rows(
        pool,
        "SELECT content_type, object_key FROM photos WHERE user_id = %s ORDER BY position",
        anna.id,
    )
    # Re-encoded from its pixels: a JPEG without metadata, whatever was sent.
    assert [row["content_type"] for row in stored] == ["image/jpeg", "image/jpeg"]
    for row in stored:
        with Image.open(io.BytesIO(photo_store.get(str(row["object_key"])))) as kept:
            assert not kept.getexif() and not kept.info.get("icc_profile"), kept.info


def test_photo_metadata_is_not_stored(
    sandbox: SandboxClient, pool: db.Pool, photo_store: PhotoStore
) -> None:
    """A JPEG with GPS in its EXIF, sent as a file, is stored without any of it."""
    anna, city = member(sandbox)
    anna.press("buttons.edit_photos")
    photo_manager(anna, 1)
    anna.press("buttons.photo_add")
    anna.expect(anna.t("profile.send_new_photo"))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (55.0, 45.0, 20.9), 3: "E", 4: (37.0, 37.0, 3.0)})
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 90, 40)).save(out, format="JPEG", exif=exif)
    assert b"PhoneMaker" in out.getvalue()
    anna.user.send_document(out.getvalue(), "me.jpg", "image/jpeg")
    saved_card(anna, caption(anna, "Anna", 27, city), photos=2)
    key = rows(pool, "SELECT object_key FROM photos WHERE user_id = %s AND position = 1", anna.id)
    kept = photo_store.get(str(key[0]["object_key"]))
    assert b"PhoneMaker" not in kept
    with Image.open(io.BytesIO(kept)) as image_kept:
        assert not image_kept.getexif()


def test_a_fourth_photo_is_refused(sandbox: SandboxClient, pool: db.Pool) -> None:
    """With three photos the add button is gone, and an old one says the limit."""
    anna, city = member(sandbox, photos=2)
    anna.press("buttons.edit_photos")
    old_screen = photo_manager(anna, 2)
    anna.press("buttons.photo_add")
    anna.expect(anna.t("profile.send_new_photo"))
    anna.user.send_photo(image())
    saved_card(anna, caption(anna, "Anna", 27, city), photos=3)
    anna.press("buttons.edit_photos")
    screen = photo_manager(anna, 3)
    assert screen[-1].button_texts == [anna.t("buttons.back_to_profile")]
    anna.press("buttons.photo_add", message_id=old_screen[-1].message_id)
    anna.expect(anna.t("errors.photo_limit", limit=MAX_PHOTOS))
    anna.user.send_photo(image())
    anna.expect(anna.t("common.idle_hint"))
    assert len(rows_of(pool, anna.id)) == MAX_PHOTOS


def test_a_wrong_file_while_adding_a_photo(sandbox: SandboxClient, pool: db.Pool) -> None:
    """Adding a photo refuses a PDF and text like onboarding does (why, and the request
    again, in one message), then takes a photo."""
    anna, city = member(sandbox)
    anna.press("buttons.edit_photos")
    photo_manager(anna, 1)
    anna.press("buttons.photo_add")
    anna.expect(anna.t("profile.send_new_photo"))
    anna.user.send_document(b"%PDF-1.4 not an image", "me.pdf", "application/pdf")
    again = anna.t("profile.send_new_photo")
    anna.expect(f"{anna.t('errors.photo_not_image')}\n\n{again}")
    anna.user.send_text("later")
    anna.expect(f"{anna.t('errors.expected_photo')}\n\n{again}")
    anna.user.send_photo(image())
    saved_card(anna, caption(anna, "Anna", 27, city), photos=2)


@pytest.mark.parametrize("language", LANGUAGES)
def test_pause_and_resume(
    sandbox: SandboxClient, people: People, pool: db.Pool, language: str
) -> None:
    """Pause hides the profile and flips the menu button to Resume, which shows it again."""
    anna, _ = member(sandbox, language, people=people)
    [_, menu] = anna.open_profile()
    anna.press("buttons.pause", message_id=menu.message_id)
    anna.expect(anna.t("profile.paused"))
    anna.user.wait_until(
        lambda chat: anna.t("buttons.resume") in chat.message(menu.message_id).button_texts,
        what="the Resume button",
    )
    row = profile_row(pool, anna.id)
    assert row is not None and row["is_paused"] is True
    [_, paused_menu] = anna.open_profile(paused=True)
    assert anna.t("buttons.resume") in paused_menu.button_texts

    anna.press("buttons.resume", message_id=menu.message_id)
    anna.expect(anna.t("profile.resumed"))
    anna.user.wait_until(
        lambda chat: anna.t("buttons.pause") in chat.message(menu.message_id).button_texts,
        what="the Pause button",
    )
    row = profile_row(pool, anna.id)
    assert row is not None and row["is_paused"] is False


def test_delete_account_can_be_declined(
    sandbox: SandboxClient, people: People, pool: db.Pool
) -> None:
    """Saying no to the confirmation keeps everything."""
    anna, _ = member(sandbox, people=people)
    anna.press("buttons.delete_account")
    [confirm] = anna.expect(anna.t("profile.delete_confirm"))
    assert confirm.button_texts == [anna.t("buttons.delete_yes"), anna.t("buttons.delete_no")]
    anna.press("buttons.delete_no")
    anna.expect(anna.t("profile.delete_kept"))
    assert profile_row(pool, anna.id) is not None


@pytest.mark.parametrize("language", LANGUAGES)
def test_delete_account_removes_rows_and_photos(
    sandbox: SandboxClient, pool: db.Pool, photo_store: PhotoStore, language: str
) -> None:
    """After the confirmation the user's rows and stored photos are gone, old buttons find no
    profile, and /start begins again as a new user."""
    anna, _ = member(sandbox, language, photos=2)
    keys = [key for _, key in rows_of(pool, anna.id)]
    assert len(keys) == 2 and all(photo_store.exists(key) for key in keys)
    [_, _, menu] = anna.open_profile(photos=2)
    anna.press("buttons.delete_account", message_id=menu.message_id)
    anna.expect(anna.t("profile.delete_confirm"))
    anna.press("buttons.delete_yes")
    [deleted] = anna.expect(anna.t("profile.deleted"))
    assert (deleted.reply_markup or {}).get("remove_keyboard")

    for table, column in (
        ("users", "id"),
        ("profiles", "user_id"),
        ("photos", "user_id"),
        ("ratings", "user_id"),
    ):
        assert fetch(pool, f"SELECT 1 AS x FROM {table} WHERE {column} = %s", anna.id) is None
    assert not any(photo_store.exists(key) for key in keys)
    assert (
        fetch(pool, "SELECT 1 AS x FROM orphaned_objects WHERE object_key = ANY(%s)", keys) is None
    )

    anna.press("buttons.edit_name", message_id=menu.message_id)
    answer = anna.user.wait_for_answer()
    assert answer.text == anna.t("common.outdated_button")
    anna.expect(anna.t("profile.no_profile"))
    assert fetch(pool, "SELECT 1 AS x FROM users WHERE id = %s", anna.id) is None

    anna.start()
    row = profile_row(pool, anna.id)
    assert row is not None and (row["onboarding_step"], row["name"]) == ("name", None)


def test_the_same_photo_on_two_accounts_is_shown_to_the_moderators(
    sandbox: SandboxClient, admin: Person
) -> None:
    """Anna and then Bella add the same photo (a photo-like picture; flat test images have no
    hash): the moderator gets both profiles, the newer first with its id and /ban, then the
    two photos side by side in one album."""
    shared = photo_like_jpeg(uuid.uuid4().int % 1_000_000)
    anna, city = member(sandbox, name="Anna")
    bella, _ = member(sandbox, name="Bella")
    admin.user.mark_read()
    for person in (anna, bella):
        person.press("buttons.edit_photos")
        photo_manager(person, 1)
        person.press("buttons.photo_add")
        person.expect(person.t("profile.send_new_photo"))
        person.user.send_photo(shared)
        person.expect(person.t("common.saved"))
    head, *album = admin.user.wait_for_messages(3)
    assert head.body.startswith(t("en", "admin.same_photo_head", count=2)), head.describe()
    assert head.body.index(f"id {bella.id} — /ban {bella.id}") < head.body.index(f"id {anna.id}")
    assert caption(anna, "Anna", 27, city) in head.body
    assert len(album) == 2 and all(m.photo for m in album)
    assert album[0].media_group_id is not None
    assert album[0].media_group_id == album[1].media_group_id
