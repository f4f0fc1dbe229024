"""Impatient people: they answer and press without waiting for the bot, 100 ms apart, with
Telegram's pacing of one message a second per chat (the sandbox's flood control, on in every
test). They type answers ahead, send three wrong answers and then the right one within 300 ms,
and press buttons on earlier copies of the question on their screen. Each finishes onboarding,
gets exactly one reply per message, and is never told that a button is old.

The 100 ms between two actions is the person's pace, the thing under test, not a wait for the
bot: every wait for the bot is on a condition (a question shown)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import pytest

from config.i18n import LANGUAGES
from domain.onboarding import Step
from domain.validation import MAX_AGE, MIN_AGE
from sandbox.client import Chat, ChatMessage, SandboxClient
from storage import db
from tests.e2e.story import Newcomer, profile_row, side_by_side
from tests.support.images import image
from tests.support.profiles import unique_city

pytestmark = pytest.mark.usefixtures("steady_node")

PACE_SECONDS = 0.1  # between two actions of an impatient person
PEOPLE_PER_LANGUAGE = 2
WAIT_SECONDS = 30.0  # a question behind a queue of replies paced at one a second


class Impatient:
    """A newcomer who acts every 100 ms, waiting only until a button they need is shown."""

    def __init__(self, newcomer: Newcomer) -> None:
        self.newcomer = newcomer
        self.user = newcomer.user
        self._last = 0.0
        self.sent = 0  # messages (not presses) sent
        self.pressed: list[str] = []  # callback query ids

    def _pace(self) -> None:
        wait = self._last + PACE_SECONDS - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # the person's pace (see the module's docstring)
        self._last = time.monotonic()

    def text(self, text: str) -> None:
        self._pace()
        self.user.send_text(text)
        self.sent += 1

    def photo(self) -> None:
        self._pace()
        self.user.send_photo(image())
        self.sent += 1

    def press(self, label: str, message: ChatMessage) -> None:
        self._pace()
        sent = self.user.press(label, message_id=message.message_id)
        assert sent.callback_query_id is not None
        self.pressed.append(sent.callback_query_id)

    def copies(self, text: str) -> Callable[[Chat], list[ChatMessage] | None]:
        """The bot's messages showing ``text`` (at their end: a refusal's copy too)."""

        def shown(chat: Chat) -> list[ChatMessage] | None:
            found = [m for m in chat.visible_bot_messages if m.body.endswith(text)]
            return found or None

        return shown

    def first_copy(self, step: Step) -> ChatMessage:
        """The earliest message showing the step's question, once there is one."""
        return self.user.wait_until(
            self.copies(self.newcomer.question(step)),
            WAIT_SECONDS,
            what=f"the {step.value} question",
        )[0]


def onboard_impatiently(person: Impatient) -> None:
    anna = person.newcomer
    t = anna.t
    # Typed ahead: the name and, within 300 ms, three wrong ages and the right one.
    person.text("/start")
    person.text(anna.user.first_name)
    for wrong in ("abc", str(MIN_AGE - 1), str(MAX_AGE + 1)):
        person.text(wrong)
    person.text(str(anna.age))
    # Three wrong answers to a button question, then the right button on its first copy.
    gender = person.first_copy(Step.GENDER)
    for wrong in ("woman", "me", "?"):
        person.text(wrong)
    person.press(t("buttons.woman"), gender)

    # The pressed copy becomes the next question; a press on a copy of the answered one
    # (further down) is answered quietly, and shows the current question once.
    def turned(chat: Chat) -> ChatMessage | None:
        pressed = chat.message(gender.message_id)
        return pressed if pressed.body == anna.question(Step.SEEKING) else None

    seeking = person.user.wait_until(turned, WAIT_SECONDS, what="the seeking question")
    last_gender = person.copies(anna.question(Step.GENDER))(person.user.chat)
    assert last_gender is not None
    person.press(t("buttons.woman"), last_gender[-1])
    person.press(t("buttons.seek_men"), seeking)
    # Typed ahead again: three wrong ranges, the right one, the city and Skip.
    person.first_copy(Step.AGE_RANGE)
    for wrong in ("abc", "17-30", "40-30"):
        person.text(wrong)
    person.text("25-35")
    person.text(unique_city())
    person.text(t("buttons.skip"))
    interests = person.first_copy(Step.INTERESTS)
    person.press(anna.interest_label("music"), interests)
    person.press(t("buttons.done"), interests)
    person.first_copy(Step.PHOTOS)
    person.photo()
    saved = person.user.wait_until(
        person.copies(anna.answers.photo_saved(1)), WAIT_SECONDS, what="the saved photo"
    )[0]
    person.press(t("buttons.done"), saved)
    person.user.wait_until(
        lambda chat: (
            chat.last_bot_message is not None and chat.last_bot_message.body == anna.done_menu()
        ),
        WAIT_SECONDS,
        what="the finished profile",
    )


def expected_messages(anna: Newcomer) -> list[str]:
    """What the chat shows at the end, message by message, before the card and its menu: one
    reply per message sent, the pressed copies turned into the next questions, and one
    reminder of the current question."""
    gender_refusal = anna.refusal("errors.expected_choice", Step.GENDER)
    return [
        anna.welcome,
        anna.question(Step.AGE),
        anna.refusal("errors.age_not_number", Step.AGE),
        anna.refusal("errors.age_too_young", Step.AGE, low=MIN_AGE),
        anna.refusal("errors.age_too_old", Step.AGE, low=MIN_AGE, high=MAX_AGE),
        anna.question(Step.AGE_RANGE),  # the gender question, pressed, then its next
        gender_refusal,
        gender_refusal,
        gender_refusal,
        anna.question(Step.SEEKING),  # the reminder, after a press on the last copy
        anna.refusal("errors.range_format", Step.AGE_RANGE, low=22, high=32),
        anna.refusal("errors.range_bounds", Step.AGE_RANGE, low=MIN_AGE, high=MAX_AGE),
        anna.refusal("errors.range_order", Step.AGE_RANGE),
        anna.question(Step.LOCATION),
        anna.question(Step.ABOUT),
        anna.question(Step.PHOTOS),  # the interests question, Done pressed
        anna.answers.photo_saved(1),
    ]


def check(person: Impatient, pool: db.Pool) -> None:
    anna = person.newcomer
    chat = person.user.chat
    transcript = chat.transcript()
    bodies = [m.body for m in chat.visible_bot_messages]
    # The card and its menu close it; everything before is one reply per message sent.
    assert bodies[:-2] == expected_messages(anna), transcript
    assert bodies[-1] == anna.done_menu(), transcript
    # One message per message sent; the presses add the reminder, the card and its menu.
    assert len(bodies) == person.sent + 3, transcript
    answers = [chat.callbacks[query] for query in person.pressed]
    assert all(a.answered and not a.show_alert and a.text is None for a in answers), transcript
    outdated = anna.t("common.outdated_button")
    assert all(a.text != outdated for a in chat.callback_answers), transcript
    row = profile_row(pool, anna.id)
    assert row is not None, transcript
    assert (row["onboarding_step"], row["gender"], row["seeking"], row["age"]) == (
        None,
        "f",
        "m",
        anna.age,
    ), transcript
    assert (row["age_min"], row["age_max"], row["about"], row["interests"]) == (
        25,
        35,
        None,
        ["music"],
    ), transcript


@pytest.mark.parametrize("language", LANGUAGES)
def test_impatient_people_finish_onboarding(
    sandbox: SandboxClient, pool: db.Pool, language: str
) -> None:
    """A few people at once, each acting every 100 ms without waiting for the bot: each ends
    with a finished profile, one reply per message and no "old button"."""
    people = [
        Impatient(Newcomer.create(sandbox, language, name=name))
        for name in ("Anna", "Maria")[:PEOPLE_PER_LANGUAGE]
    ]
    side_by_side(*(functools.partial(onboard_impatiently, person) for person in people))
    for person in people:
        check(person, pool)
