"""The moves and expectations that the onboarding and profile stories repeat.

A Newcomer is a virtual user together with the language the bot should speak to them. Its
``expect`` waits for the bot's next messages and compares them with catalog texts exactly, so
a story reads as "the user does this, the bot answers that" and fails with the transcript.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from config.i18n import LANGUAGES, t
from domain.geo import haversine_km
from domain.location_privacy import private_location
from domain.onboarding import ONBOARDING_ORDER, Step
from domain.validation import MAX_PHOTOS
from sandbox.client import (
    CallbackAnswer,
    Chat,
    ChatMessage,
    SandboxClient,
    SandboxError,
    VirtualUser,
)
from storage import db
from tests.support.images import image
from tests.support.onboarding import Answers
from tests.support.profiles import unique_city
from tests.support.services import SAFETY_SECRET
from tests.support.stack import NodeThread


def trouble(node: NodeThread) -> dict[str, float]:
    """What a node has counted as going wrong: caught errors, and Bot API calls refused with
    400 (a reply the bot built wrong). Both must stay unchanged while a story runs."""
    counts = {"errors": 0.0, "refused_calls": 0.0}
    for metric in node.node.metrics.registry.collect():
        for sample in metric.samples:
            if sample.name == "bot_errors_total":
                counts["errors"] += sample.value
            elif (
                sample.name == "bot_api_calls_total"
                and sample.labels.get("outcome") == "bad_request"
            ):
                counts["refused_calls"] += sample.value
    return counts


@contextmanager
def no_trouble(node: NodeThread) -> Iterator[None]:
    before = trouble(node)
    yield
    assert trouble(node) == before, "the node counted errors while the story ran"


class Newcomer:
    """A virtual user and the language the bot speaks with them."""

    def __init__(self, user: VirtualUser, language: str) -> None:
        self.user = user
        self.language = language
        self.age = 27
        self.gender, self.seeking = "woman", "men"  # the catalog's button keys
        self._seen = 0  # the last bot message taken
        # What each message taken said: one edited since into something else (a question a
        # button press turned into the next one) is new again.
        self._bodies: dict[int, str] = {}

    @classmethod
    def create(
        cls,
        sandbox: SandboxClient,
        language: str = "en",
        name: str = "Anna",
        language_code: str | None = "",
    ) -> Newcomer:
        """A fresh user; language_code defaults to the language itself."""
        code = language if language_code == "" else language_code
        return cls(sandbox.create_user(first_name=name, language_code=code), language)

    @classmethod
    def several(
        cls, sandbox: SandboxClient, count: int, surname: str, step: Step
    ) -> list[Newcomer]:
        """count fresh users, "<surname> a", "<surname> b"…, speaking English and Russian in
        turn, each asked the question of ``step`` (every step before it answered)."""
        people = [
            cls.create(sandbox, ("en", "ru")[number % 2], name=f"{surname} {chr(97 + number)}")
            for number in range(count)
        ]
        for person in people:
            person.reach(step)
        return people

    @property
    def id(self) -> int:
        return self.user.id

    def t(self, key: str, **values: object) -> str:
        return t(self.language, key, **values)

    # -- what the bot says ------------------------------------------------------------------

    def _fresh(self, chat: Chat) -> list[ChatMessage]:
        """Bot messages after the last one taken, and taken ones edited since to say
        something else, passing over deleted ones."""
        return [
            message
            for message in chat.bot_messages
            if not message.deleted
            and (
                message.message_id > self._seen
                or self._bodies.get(message.message_id, message.body) != message.body
            )
        ]

    def _took(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        self._seen = max(self._seen, messages[-1].message_id)
        self._bodies.update((message.message_id, message.body) for message in messages)
        return messages

    def skip_history(self) -> None:
        """Take every bot message so far: later expectations start after them (a person who
        already talked to the bot starting again)."""
        messages = self.user.refresh().bot_messages
        self._seen = max((m.message_id for m in messages), default=0)
        self._bodies = {m.message_id: m.body for m in messages}

    def take(self, count: int) -> list[ChatMessage]:
        """The bot's next ``count`` messages, whatever they say."""
        return self._took(
            self.user.wait_until(
                lambda chat: self._fresh(chat)[:count] if len(self._fresh(chat)) >= count else None,
                what=f"{count} new bot message(s)",
            )
        )

    def expect(self, *texts: str) -> list[ChatMessage]:
        """The bot's next messages, one per text, each saying exactly that text."""
        wanted = list(texts)

        def arrived(chat: Chat) -> list[ChatMessage] | None:
            fresh = self._fresh(chat)[: len(wanted)]
            return fresh if [message.body for message in fresh] == wanted else None

        try:
            return self._took(self.user.wait_until(arrived, what="the expected replies"))
        except SandboxError as error:
            got = [message.body for message in self._fresh(self.user.chat)]
            raise AssertionError(f"expected {wanted!r}\n     got {got!r}\n{error}") from None

    def expect_silence(self, within: float) -> None:
        """The bot says nothing new for ``within`` seconds (only where silence is the point)."""
        deadline = time.monotonic() + within
        chat = self.user.chat
        while not self._fresh(chat) and time.monotonic() < deadline:
            chat = self.user.refresh(wait=max(0.0, deadline - time.monotonic()))
        assert not self._fresh(chat), self.user.transcript()

    def expect_alert(self, text: str) -> CallbackAnswer:
        """The bot answers the last button press with a pop-up saying exactly text."""
        answer = self.user.wait_for_answer()
        assert (answer.text, answer.show_alert) == (text, True), self.user.transcript()
        return answer

    def expect_refusal(self, key: str, step: Step, **values: object) -> list[ChatMessage]:
        """The catalog's message for a refused value and the step's question again, as one
        message."""
        return self.expect(self.refusal(key, step, **values))

    def refusal(self, key: str, step: Step, **values: object) -> str:
        """What one refused answer gets: why, and the question again, in one message."""
        return self.with_question(key, step, **values)

    def with_question(self, key: str, step: Step, **values: object) -> str:
        """A catalog text and the step's question after it: one message."""
        return f"{self.t(key, **values)}\n\n{self.question(step)}"

    def expect_quiet_answer(self) -> CallbackAnswer:
        """The bot answers the last button press without a word or a pop-up."""
        answer = self.user.wait_for_answer()
        assert (answer.text, answer.show_alert) in ((None, False), (None, None)), (
            self.user.transcript()
        )
        return answer

    @property
    def answers(self) -> Answers:
        """The valid answers, questions and labels in this newcomer's language."""
        return Answers(
            self.language,
            name=self.user.first_name,
            age=self.age,
            gender=self.gender,
            seeking=self.seeking,
        )

    def question(self, step: Step) -> str:
        """The text of the step's question (the same in onboarding and editing)."""
        return self.answers.question(step)

    def keep_range_label(self) -> str:
        return self.answers.keep_range_label

    def interest_label(self, name: str, chosen: bool = False) -> str:
        return self.answers.interest_label(name, chosen)

    # -- acting ---------------------------------------------------------------------------

    def toggle(self, question: ChatMessage, name: str, *, on: bool = True) -> None:
        """Tick (or untick) an interest on the question; wait until its keyboard shows it."""
        self.user.press(self.interest_label(name, chosen=not on), message_id=question.message_id)
        shown = self.interest_label(name, chosen=on)

        def updated(chat: Chat) -> bool:
            return shown in chat.message(question.message_id).button_texts

        self.user.wait_until(updated, what=f"the button {shown!r}")

    def press(self, key: str, *, message_id: int | None = None, **values: object) -> None:
        """Press the button labelled with a catalog text."""
        self.user.press(self.t(key, **values), message_id=message_id)

    def start(self) -> ChatMessage:
        """/start as a new user: the welcome and the first question, one message."""
        self.user.send_text("/start")
        [question] = self.expect(self.welcome)
        return question

    @property
    def welcome(self) -> str:
        return f"{self.t('onboarding.welcome')}\n\n{self.question(Step.NAME)}"

    def done_menu(self, *, paused: bool = False) -> str:
        """The menu under the finished card, headed by "your profile is ready"."""
        menu = self.t("profile.menu")
        if paused:
            menu = f"{self.t('profile.paused_note')}\n\n{menu}"
        return f"{self.t('onboarding.done')}\n\n{menu}"

    def answer(self, step: Step, *, city: str | None = None) -> ChatMessage:
        """Answer one step with a valid value; the next question (a button press edits its
        question into it, a typed answer gets it as a new message)."""
        self.send_answer(step, city=city)
        following = ONBOARDING_ORDER[ONBOARDING_ORDER.index(step) + 1]
        [question] = self.expect(self.question(following))
        return question

    def send_answer(self, step: Step, *, city: str | None = None) -> None:
        """Answer one step with a valid value, not waiting for the bot."""
        if step is Step.PHOTOS:
            raise ValueError("finish() answers the photo step")
        act = replace(self.answers, city=city or unique_city()).action(step)
        if act.kind == "text":
            self.user.send_text(act.text)
        elif act.keyboard == "reply":
            self.user.press_reply(act.text)
        else:
            self.user.press(act.text)

    def reach(self, step: Step, *, city: str | None = None) -> ChatMessage:
        """Start onboarding and answer every step before ``step``; its question."""
        question = self.start()
        for earlier in ONBOARDING_ORDER[: ONBOARDING_ORDER.index(step)]:
            question = self.answer(earlier, city=city)
        return question

    def send_photos(self, count: int) -> None:
        """At the photo step: send photos one by one, each acknowledged."""
        for number in range(1, count + 1):
            self.user.send_photo(image())
            if number < MAX_PHOTOS:
                self.expect(self.answers.photo_saved(number))

    def finish(self, photos: int = 1) -> list[ChatMessage]:
        """At the photo step: send photos and finish; the card and the menu that follow
        (the menu says the profile is ready)."""
        self.send_photos(photos)
        if photos < MAX_PHOTOS:
            self.press("buttons.done")
        messages = self.take(max(photos, 1) + 1)
        assert messages[-1].body == self.done_menu(), self.user.transcript()
        return messages

    def onboard(self, *, city: str | None = None, photos: int = 1) -> list[ChatMessage]:
        """The whole onboarding with valid answers; the card's messages and the menu."""
        self.reach(Step.PHOTOS, city=city)
        return self.finish(photos)

    def open_profile(self, photos: int = 1, *, paused: bool = False) -> list[ChatMessage]:
        """/profile: the card (one message per photo, an album for several) and the menu."""
        self.user.send_text("/profile")
        messages = self.take(max(photos, 1) + 1)
        menu = self.t("profile.menu")
        if paused:
            menu = f"{self.t('profile.paused_note')}\n\n{menu}"
        assert messages[-1].body == menu, self.user.transcript()
        return messages


def side_by_side(*stories: Callable[[], object]) -> None:
    """Run independent stories (each with users of its own) at the same time, each on a
    thread, and fail with the first failure. Telegram paces every chat at about a message a
    second, and the sandbox does too: people in different chats do not slow each other, so
    stories told side by side take as long as the longest instead of all together."""
    errors: list[BaseException] = []

    def run(story: Callable[[], object]) -> None:
        try:
            story()
        except BaseException as error:  # handed to the test's thread below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(story,)) for story in stories]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def in_every_language(
    test: Callable[..., None],
) -> Callable[..., None]:
    """A test of one newcomer (its first parameter, ``person``) made a test of a newcomer per
    language, told side by side: the test takes ``sandbox`` instead of ``person``."""
    signature = inspect.signature(test)
    params = list(signature.parameters.values())
    assert params[0].name == "person", test
    rest = params[1:]

    @functools.wraps(test)
    def each(sandbox: SandboxClient, *args: object, **kwargs: object) -> None:
        side_by_side(
            *(
                functools.partial(test, Newcomer.create(sandbox, language), *args, **kwargs)
                for language in LANGUAGES
            )
        )

    sandbox_param = inspect.Parameter(
        "sandbox", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=SandboxClient
    )
    each.__signature__ = signature.replace(parameters=[sandbox_param, *rest])  # type: ignore[attr-defined]
    del each.__wrapped__  # pytest reads the fixtures from the signature above
    return each


def private_point(user_id: int, latitude: float, longitude: float) -> tuple[float, float]:
    """What the node stores of a location the user shared (the test node's secret), checked
    to be at least 600 m from where they were: never the point itself."""
    stored = private_location(latitude, longitude, user_id=user_id, secret=SAFETY_SECRET.encode())
    assert haversine_km(latitude, longitude, stored.latitude, stored.longitude) >= 0.6
    return stored.latitude, stored.longitude


def stored_location(row: dict[str, Any]) -> tuple[float, float]:
    return row["latitude"], row["longitude"]


def fetch(pool: db.Pool, query: str, *params: object) -> dict[str, Any] | None:
    """One row of a query (as a dict), or None."""
    with pool.connection() as conn:
        row = conn.execute(query, params).fetchone()
    return dict(row) if row else None


def profile_row(pool: db.Pool, user_id: int) -> dict[str, Any] | None:
    return fetch(
        pool,
        """SELECT u.onboarding_step, u.language, u.is_paused, p.*
                          FROM users u JOIN profiles p ON p.user_id = u.id WHERE u.id = %s""",
        user_id,
    )
