"""The one onboarding driver: what a newcomer answers at each step, as the catalog texts of
their language (config/messages), so that the same walk works in English and in Russian.

* ``Answers``: a newcomer's answers, and the bot's questions and button labels in their
  language (the stories of tests/e2e ask it for exact texts);
* ``onboard``: drive a sandbox user through the whole onboarding, waiting for each answer;
* ``script``: the same walk as a list of actions (bench/onboarding.py sends it over the
  sandbox's control API);
* ``reply_to``: the action for whatever question the bot asks now (tests/cluster/harness.py,
  whose users must keep their footing when a question comes twice after a crash).
"""

from __future__ import annotations

from dataclasses import dataclass

from config.i18n import t
from domain.interests import MAX_INTERESTS
from domain.onboarding import ONBOARDING_ORDER, Step
from domain.validation import ABOUT_MAX, MAX_PHOTOS, default_age_range
from sandbox.client import ChatMessage, VirtualUser
from tests.support.images import image


@dataclass(frozen=True)
class Action:
    """One thing a user does: send a text, press a button (by its label) or send a photo."""

    kind: str  # "text", "press" or "photo"
    text: str = ""
    keyboard: str = "inline"  # a press: on an inline keyboard, or a "reply" keyboard's key

    @property
    def body(self) -> dict[str, str]:
        """The action's body for the sandbox's control API (POST /sandbox/users/{id}/{kind})."""
        if self.kind == "press":
            return {"text": self.text, "kind": self.keyboard}
        return {"text": self.text} if self.kind == "text" else {}


@dataclass(frozen=True)
class Answers:
    """A newcomer's valid answers; gender is "woman" or "man", seeking "men", "women" or
    "anyone" (the catalog's button keys)."""

    language: str = "en"
    name: str = "Anna"
    age: int = 27
    gender: str = "woman"
    seeking: str = "men"
    city: str = "Moscow"
    interest: str = "music"

    def t(self, key: str, **values: object) -> str:
        return t(self.language, key, **values)

    def question(self, step: Step) -> str:
        """The text of the step's question (the same in onboarding and editing)."""
        if step is Step.AGE_RANGE:
            low, high = default_age_range(self.age)
            return self.t("onboarding.ask_age_range", low=low, high=high)
        if step is Step.ABOUT:
            return self.t("onboarding.ask_about", limit=ABOUT_MAX)
        if step is Step.INTERESTS:
            return self.t("onboarding.ask_interests", limit=MAX_INTERESTS)
        if step is Step.PHOTOS:
            return self.t("onboarding.ask_photos", limit=MAX_PHOTOS)
        return self.t(f"onboarding.ask_{step.value}")

    def photo_saved(self, count: int) -> str:
        return self.t("onboarding.photo_saved", count=count, limit=MAX_PHOTOS)

    @property
    def gender_label(self) -> str:
        return self.t(f"buttons.{self.gender}")

    @property
    def seeking_label(self) -> str:
        return self.t(f"buttons.seek_{self.seeking}")

    @property
    def keep_range_label(self) -> str:
        low, high = default_age_range(self.age)
        return self.t("buttons.keep_range", low=low, high=high)

    @property
    def done_label(self) -> str:
        return self.t("buttons.done")

    def interest_label(self, name: str | None = None, chosen: bool = False) -> str:
        label = self.t(f"interests.{name or self.interest}")
        return f"✅ {label}" if chosen else label

    @property
    def profile_menu(self) -> str:
        """The menu under the finished card: the last message of onboarding."""
        return self.t("profile.menu")

    def action(self, step: Step) -> Action:
        """The valid answer to one step before the photos (interests: none chosen)."""
        answers = {
            Step.NAME: Action("text", self.name),
            Step.AGE: Action("text", str(self.age)),
            Step.GENDER: Action("press", self.gender_label),
            Step.SEEKING: Action("press", self.seeking_label),
            Step.AGE_RANGE: Action("press", self.keep_range_label),
            Step.LOCATION: Action("text", self.city),
            # In onboarding the about question's Skip is a reply key (the location's place).
            Step.ABOUT: Action("press", self.t("buttons.skip"), "reply"),
            Step.INTERESTS: Action("press", self.done_label),
        }
        return answers[step]


def script(answers: Answers) -> list[Action]:
    """The whole onboarding as actions: /start, each step's answer (one interest ticked),
    one photo, Done."""
    actions = [Action("text", "/start")]
    for step in ONBOARDING_ORDER[: ONBOARDING_ORDER.index(Step.PHOTOS)]:
        if step is Step.INTERESTS:
            actions.append(Action("press", answers.interest_label()))
        actions.append(answers.action(step))
    return [*actions, Action("photo"), Action("press", answers.done_label)]


def reply_to(answers: Answers, question: ChatMessage, done: set[str]) -> Action | None:
    """What a person answers to the question the bot shows now, as a person would: remembering
    what they did (a question shown twice, or an update handled again, cannot derail them:
    they tick one interest once and send one photo). None for a message that is no question."""
    body = question.body
    if answers.question(Step.INTERESTS) in body:
        if "interest" in done or answers.interest_label(chosen=True) in question.button_texts:
            return Action("press", answers.done_label)
        done.add("interest")
        return Action("press", answers.interest_label())
    if answers.question(Step.PHOTOS) in body:
        if "photo" in done:
            return Action("press", answers.done_label)
        done.add("photo")
        return Action("photo")
    if answers.photo_saved(1) in body:
        return Action("press", answers.done_label)
    for step in ONBOARDING_ORDER[: ONBOARDING_ORDER.index(Step.PHOTOS)]:
        if answers.question(step) in body:
            return answers.action(step)
    return None


def onboard(user: VirtualUser, answers: Answers | None = None, *, photos: int = 1) -> None:
    """Drive a user through the whole onboarding with valid answers, waiting for each of the
    bot's answers, until the finished card and its menu have come."""
    answers = answers or Answers()
    user.send_text("/start")
    asking(user, answers.question(Step.NAME))
    for step in ONBOARDING_ORDER[: ONBOARDING_ORDER.index(Step.PHOTOS)]:
        act = answers.action(step)
        if act.kind == "text":
            user.send_text(act.text)
        elif act.keyboard == "reply":
            user.press_reply(act.text)
        else:
            user.press(act.text)
        # The next question: a new message, or the pressed one edited into it.
        asking(user, answers.question(ONBOARDING_ORDER[ONBOARDING_ORDER.index(step) + 1]))
    for index in range(photos):
        user.send_photo(image(colour=(40 * index, 90, 90)))
        if index < MAX_PHOTOS - 1:
            user.wait_for_message()
    if photos < MAX_PHOTOS:
        user.press(answers.done_label)
    # The card, then its menu saying the profile is ready; reading on before the menu came
    # would race them.
    user.wait_until(
        lambda chat: (
            chat.last_bot_message is not None
            and chat.last_bot_message.body.startswith(answers.t("onboarding.done"))
            and answers.profile_menu in chat.last_bot_message.body
        ),
        what="done",
    )
    user.mark_read()


def asking(user: VirtualUser, question: str) -> None:
    """Wait until the bot's latest message ends with ``question`` (a message of its own, or
    one a press turned into it), then read on from there."""
    user.wait_until(
        lambda chat: (
            chat.last_bot_message is not None and chat.last_bot_message.body.endswith(question)
        ),
        what=f"the question {question!r}",
    )
    user.mark_read()
