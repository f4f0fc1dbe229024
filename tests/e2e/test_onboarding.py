"""Onboarding end to end: people build their profile in Russian or English, switch language
on the way, leave with /cancel and come back with /start; the bot's commands and /help."""

from __future__ import annotations

import functools

import httpx
import pytest

from actors.session import COMMANDS, help_text
from config.i18n import LANGUAGES, t
from domain.interests import INTERESTS, MAX_INTERESTS
from domain.onboarding import ONBOARDING_ORDER, Step
from domain.validation import MAX_PHOTOS
from sandbox.client import SandboxClient
from storage import db
from tests.e2e.story import (
    Newcomer,
    in_every_language,
    private_point,
    profile_row,
    side_by_side,
    stored_location,
)
from tests.support.images import image
from tests.support.profiles import unique_city
from tests.support.stack import NodeThread

pytestmark = pytest.mark.usefixtures("steady_node")


def test_full_onboarding_in_russian(sandbox: SandboxClient, pool: db.Pool) -> None:
    """A user whose Telegram speaks Russian is asked everything in Russian and gets a card."""
    olga = Newcomer.create(sandbox, "ru", name="Ольга")
    olga.start()
    olga.user.send_text("Ольга")
    olga.expect(olga.question(Step.AGE))
    olga.user.send_text("31")
    olga.age = 31
    [gender] = olga.expect(olga.question(Step.GENDER))
    assert gender.button_texts == [olga.t("buttons.man"), olga.t("buttons.woman")]
    olga.press("buttons.woman")
    [seeking] = olga.expect(olga.question(Step.SEEKING))
    assert seeking.button_texts == [
        olga.t("buttons.seek_men"),
        olga.t("buttons.seek_women"),
        olga.t("buttons.seek_anyone"),
    ]
    olga.press("buttons.seek_anyone")
    [ages] = olga.expect(olga.question(Step.AGE_RANGE))
    assert ages.button_texts == [olga.t("buttons.keep_range", low=26, high=36)]
    olga.user.send_text("28 - 40")
    [where] = olga.expect(olga.question(Step.LOCATION))
    assert where.button_texts == [olga.t("buttons.share_location")]
    olga.user.send_text("  санкт-петербург ")
    [about] = olga.expect(olga.question(Step.ABOUT))
    # Its Skip key takes the place of the location's: no message just to remove that one.
    assert about.reply_keyboard == [[{"text": olga.t("buttons.skip")}]]
    olga.user.send_text("Люблю театр и длинные прогулки.")
    [interests] = olga.expect(olga.question(Step.INTERESTS))
    olga.toggle(interests, "theatre")
    olga.toggle(interests, "books")
    olga.press("buttons.done")
    olga.expect(olga.question(Step.PHOTOS))
    olga.user.send_photo(image())
    [saved] = olga.expect(olga.t("onboarding.photo_saved", count=1, limit=MAX_PHOTOS))
    assert saved.button_texts == [olga.t("buttons.done")]
    olga.press("buttons.done")
    card, menu = olga.expect(
        "Ольга, 31, санкт-петербург — Люблю театр и длинные прогулки.\n\n"
        + olga.t(
            "profile.interests",
            interests=", ".join([olga.t("interests.theatre"), olga.t("interests.books")]),
        ),
        olga.done_menu(),
    )
    assert card.photo
    assert olga.t("buttons.edit_name") in menu.button_texts

    row = profile_row(pool, olga.id)
    assert row is not None
    assert (
        row["onboarding_step"],
        row["language"],
        row["name"],
        row["age"],
        row["gender"],
        row["seeking"],
        row["age_min"],
        row["age_max"],
        row["city"],
        row["interests"],
    ) == (None, "ru", "Ольга", 31, "f", "any", 28, 40, "санкт-петербург", ["theatre", "books"])
    assert row["completed_at"] is not None


def test_anyone_else_is_onboarded_in_english(sandbox: SandboxClient, pool: db.Pool) -> None:
    """Without a Russian language_code the bot speaks English; three photos end the step."""
    side_by_side(
        *(
            functools.partial(onboarded_in_english, sandbox, pool, code)
            for code in ("en", "de", None)
        )
    )


def onboarded_in_english(sandbox: SandboxClient, pool: db.Pool, language_code: str | None) -> None:
    mark = Newcomer.create(sandbox, "en", name="Mark", language_code=language_code)
    mark.age = 45
    mark.reach(Step.LOCATION)
    mark.user.press_reply(mark.t("buttons.share_location"), latitude=52.52, longitude=13.405)
    [about] = mark.expect(mark.question(Step.ABOUT))
    assert about.button_texts == [mark.t("buttons.skip")], "the location button stays"
    mark.answer(Step.ABOUT)
    mark.answer(Step.INTERESTS)
    messages = mark.finish(photos=MAX_PHOTOS)
    album, menu = messages[:MAX_PHOTOS], messages[-1]
    assert album[0].caption == "Mark, 45, " + mark.t("profile.location_shared")
    assert len({message.media_group_id for message in album}) == 1
    assert menu.body == mark.done_menu()

    row = profile_row(pool, mark.id)
    assert row is not None
    assert (row["language"], row["city"]) == ("en", None)
    assert stored_location(row) == private_point(mark.id, 52.52, 13.405)


def test_language_switches_in_the_middle(sandbox: SandboxClient, pool: db.Pool) -> None:
    """/language during onboarding re-asks the current step in the new language, and back."""
    anna = Newcomer.create(sandbox, "en")
    anna.reach(Step.AGE)
    anna.user.send_text("/language")
    [choice] = anna.expect(anna.t("language.choose"))
    assert choice.button_texts == [t("en", "buttons.lang_ru"), t("en", "buttons.lang_en")]
    anna.press("buttons.lang_ru")
    anna.language = "ru"
    [again] = anna.expect(f"{anna.t('language.set')}\n\n{anna.question(Step.AGE)}")
    assert again.message_id == choice.message_id, "the choice becomes the question"
    anna.answer(Step.AGE)
    anna.answer(Step.GENDER)
    anna.answer(Step.SEEKING)
    where = anna.answer(Step.AGE_RANGE)
    assert where.button_texts == [t("ru", "buttons.share_location")]

    anna.user.send_text("/language")
    anna.expect(anna.t("language.choose"))
    anna.press("buttons.lang_en")
    anna.language = "en"
    # The location question's reply keyboard cannot be put on by an edit: a new message.
    [again] = anna.expect(f"{anna.t('language.set')}\n\n{anna.question(Step.LOCATION)}")
    assert again.button_texts == [t("en", "buttons.share_location")]
    anna.answer(Step.LOCATION)
    anna.answer(Step.ABOUT)
    anna.answer(Step.INTERESTS)
    card = anna.finish()
    assert card[-1].body == anna.done_menu()
    row = profile_row(pool, anna.id)
    assert row is not None and row["language"] == "en"


def test_cancel_leaves_onboarding_and_start_resumes(sandbox: SandboxClient, pool: db.Pool) -> None:
    """After /cancel the bot takes no answer until /start resumes at the same step."""
    anna = Newcomer.create(sandbox, "en")
    anna.reach(Step.AGE)
    anna.user.send_text("/cancel")
    [cancelled] = anna.expect(anna.t("onboarding.cancelled"))
    assert (cancelled.reply_markup or {}).get("remove_keyboard")

    anna.user.send_text("27")
    anna.expect(anna.t("onboarding.cancelled"))
    row = profile_row(pool, anna.id)
    assert row is not None and (row["onboarding_step"], row["age"]) == ("age", None)

    anna.user.send_text("/start")
    anna.expect(f"{anna.t('onboarding.resume')}\n\n{anna.question(Step.AGE)}")
    anna.answer(Step.AGE)
    anna.answer(Step.GENDER)
    row = profile_row(pool, anna.id)
    assert row is not None and (row["onboarding_step"], row["age"], row["gender"]) == (
        "seeking",
        27,
        "f",
    )


def test_cancel_then_a_button_of_the_current_step_resumes(sandbox: SandboxClient) -> None:
    """A cancelled user who presses the current step's button carries on from there."""
    anna = Newcomer.create(sandbox, "en")
    anna.reach(Step.GENDER)
    anna.user.send_text("/cancel")
    anna.expect(anna.t("onboarding.cancelled"))
    anna.answer(Step.GENDER)
    anna.answer(Step.SEEKING)
    anna.user.send_text("25-30")
    anna.expect(anna.question(Step.LOCATION))


@in_every_language
def test_start_resumes_a_half_finished_profile(person: Newcomer) -> None:
    """/start in the middle of onboarding says welcome back and asks the same step again."""
    anna = person
    anna.reach(Step.LOCATION)
    anna.user.send_text("/start")
    [where] = anna.expect(f"{anna.t('onboarding.resume')}\n\n{anna.question(Step.LOCATION)}")
    assert where.button_texts == [anna.t("buttons.share_location")]
    anna.answer(Step.LOCATION)
    anna.user.send_text("/start")
    anna.expect(f"{anna.t('onboarding.resume')}\n\n{anna.question(Step.ABOUT)}")
    anna.answer(Step.ABOUT)
    anna.answer(Step.INTERESTS)
    anna.finish()


def test_commands_in_the_middle_of_onboarding(sandbox: SandboxClient) -> None:
    """/profile asks to finish first, /help answers, an unknown command is named as such,
    and each time the onboarding question stays open."""
    anna = Newcomer.create(sandbox, "en")
    anna.reach(Step.SEEKING)
    anna.user.send_text("/profile")
    anna.expect(f"{anna.t('common.finish_profile_first')}\n\n{anna.question(Step.SEEKING)}")
    anna.user.send_text("/help")
    anna.expect(help_text(COMMANDS, anna.language))
    anna.user.send_text("/fly")
    anna.expect(anna.t("common.unknown_command"))
    anna.answer(Step.SEEKING)


def test_interests_toggle_on_and_off_up_to_the_limit(sandbox: SandboxClient, pool: db.Pool) -> None:
    """Interests tick and untick on the same message; the eleventh is refused politely."""
    anna = Newcomer.create(sandbox, "en")
    question = anna.reach(Step.INTERESTS)
    names = list(INTERESTS[: MAX_INTERESTS + 1])
    for name in names[:MAX_INTERESTS]:
        anna.toggle(question, name)
    anna.user.press(anna.interest_label(names[MAX_INTERESTS]), message_id=question.message_id)
    anna.expect_alert(anna.t("errors.interests_limit", limit=MAX_INTERESTS))
    anna.toggle(question, "music", on=False)
    anna.press("buttons.done")
    anna.expect(anna.question(Step.PHOTOS))
    row = profile_row(pool, anna.id)
    assert row is not None and row["interests"] == names[1:MAX_INTERESTS]


def test_an_interest_pressed_twice_stays_as_pressed_once(
    sandbox: SandboxClient, pool: db.Pool
) -> None:
    """The same tick arriving twice — an impatient double press on the old keyboard, or the
    update given out again after its node died — ticks once; the same untick twice unticks.
    (A toggle undid the first press, and the cluster test's driver then waited forever.)"""

    def tick_twice(language: str) -> None:
        anna = Newcomer.create(sandbox, language)
        question = anna.reach(Step.INTERESTS)
        tick = question.callback_data(anna.interest_label("music"))
        for _ in range(2):
            anna.user.press_forged(question.message_id, tick)
        anna.press("buttons.done")
        anna.expect(anna.question(Step.PHOTOS))
        row = profile_row(pool, anna.id)
        assert row is not None and row["interests"] == ["music"], language

    side_by_side(
        *(functools.partial(tick_twice, language) for language in LANGUAGES),
        functools.partial(untick_twice, sandbox, pool),
    )


def untick_twice(sandbox: SandboxClient, pool: db.Pool) -> None:
    bob = Newcomer.create(sandbox, "en")
    question = bob.reach(Step.INTERESTS)
    bob.toggle(question, "music")
    untick = bob.user.chat.message(question.message_id).callback_data(
        bob.interest_label("music", chosen=True)
    )
    for _ in range(2):
        bob.user.press_forged(question.message_id, untick)
    bob.press("buttons.done")
    bob.expect(bob.question(Step.PHOTOS))
    row = profile_row(pool, bob.id)
    assert row is not None and row["interests"] == [], row


def test_help_lists_every_command(sandbox: SandboxClient) -> None:
    """/help answers with the catalog's list, which names every registered command; as a
    first message it is answered before the welcome."""
    side_by_side(*(functools.partial(help_in, sandbox, language) for language in LANGUAGES))


def help_in(sandbox: SandboxClient, language: str) -> None:
    anna = Newcomer.create(sandbox, language)
    anna.user.send_text("/help")
    [shown, _] = anna.expect(help_text(COMMANDS, language), anna.welcome)
    for command in COMMANDS:
        assert (f"/{command.name} " in shown.body) is not command.admin, (language, command)
    anna.answer(Step.NAME)
    anna.user.send_text("/help")
    anna.expect(help_text(COMMANDS, language))


def test_language_as_the_first_message(sandbox: SandboxClient, pool: db.Pool) -> None:
    """/language as a first message offers the choice with the welcome; choosing Russian asks
    the first question again in Russian."""
    anna = Newcomer.create(sandbox, "en")
    anna.user.send_text("/language")
    anna.expect(anna.t("language.choose"), anna.welcome)
    anna.press("buttons.lang_ru")
    anna.language = "ru"
    anna.expect(f"{anna.t('language.set')}\n\n{anna.question(Step.NAME)}")
    anna.answer(Step.NAME)
    row = profile_row(pool, anna.id)
    assert row is not None and (row["language"], row["name"]) == ("ru", "Anna")


def test_an_image_sent_as_a_file_during_onboarding(sandbox: SandboxClient, pool: db.Pool) -> None:
    """A picture sent as a file counts as a photo and shows on the card as a photo."""
    anna = Newcomer.create(sandbox, "en")
    city = unique_city()
    anna.reach(Step.PHOTOS, city=city)
    anna.user.send_document(image(kind="PNG"), "me.png", "image/png")
    anna.expect(anna.t("onboarding.photo_saved", count=1, limit=MAX_PHOTOS))
    anna.press("buttons.done")
    card, _ = anna.expect(f"Anna, 27, {city}", anna.done_menu())
    assert card.method == "sendPhoto" and card.photo
    row = profile_row(pool, anna.id)
    assert row is not None and row["onboarding_step"] is None


def test_commands_are_registered_in_both_languages(
    node: NodeThread, sandbox: SandboxClient
) -> None:
    """At start the node called setMyCommands for English (the default) and for Russian."""
    [bot] = [bot for bot in sandbox.bots() if bot["token"] == node.node.settings.bot_token]
    registered = {
        entry["language_code"]: entry["commands"]
        for entry in bot["commands"]
        if entry["scope"] == {"type": "default"}
    }
    for language, code in (("en", ""), ("ru", "ru")):
        assert registered[code] == [
            {"command": command.name, "description": t(language, f"commands.{command.name}")}
            for command in COMMANDS
            if not command.admin
        ], language


def test_metrics_endpoint_counts_no_errors_for_bad_input(
    node: NodeThread, sandbox: SandboxClient
) -> None:
    """A user who gets every step wrong once is answered, and /metrics shows no new error."""

    def errors() -> float:
        text = httpx.get(f"{node.metrics_url}/metrics", timeout=5).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("bot_errors_total")
        )

    before = errors()
    anna = Newcomer.create(sandbox, "en")
    anna.start()
    for step in ONBOARDING_ORDER[:-1]:
        anna.user.send_sticker()
        key = {
            Step.GENDER: "errors.expected_choice",
            Step.SEEKING: "errors.expected_choice",
            Step.INTERESTS: "errors.expected_choice",
            Step.LOCATION: "errors.expected_location",
        }.get(step, "errors.expected_text")
        anna.expect_refusal(key, step)
        anna.answer(step, city=unique_city())
    anna.user.send_text("me.jpg")
    anna.expect_refusal("errors.expected_photo", Step.PHOTOS)
    anna.finish()
    assert errors() == before
