"""Conversation state of profile building and editing, as pure transitions.

A user is either building their profile (onboarding, one step at a time, durable in
PostgreSQL so it resumes after any restart), editing one field of a finished profile, or idle.
The session actor asks these functions where a conversation goes next and performs the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

from domain.validation import MAX_PHOTOS


class Step(StrEnum):
    NAME = "name"
    AGE = "age"
    GENDER = "gender"
    SEEKING = "seeking"
    AGE_RANGE = "age_range"
    LOCATION = "location"
    ABOUT = "about"
    INTERESTS = "interests"
    PHOTOS = "photos"


ONBOARDING_ORDER: tuple[Step, ...] = tuple(Step)
# Steps answered with buttons only: typed text there is a mistake to point out.
CHOICE_STEPS = frozenset({Step.GENDER, Step.SEEKING, Step.INTERESTS})
# Steps that a Skip/Done button may end without a new typed value.
SKIPPABLE_STEPS = frozenset({Step.ABOUT, Step.INTERESTS, Step.AGE_RANGE})


class Flow(Enum):
    IDLE = "idle"
    ONBOARDING = "onboarding"
    EDIT = "edit"


class Event(Enum):
    ACCEPTED = "accepted"  # a valid value for the step was stored
    DONE = "done"  # the Done / Skip / Keep button
    CANCEL = "cancel"  # /cancel


@dataclass(frozen=True)
class Conversation:
    flow: Flow
    step: Step | None = None

    @staticmethod
    def idle() -> Conversation:
        return Conversation(Flow.IDLE)

    @staticmethod
    def onboarding(step: Step = ONBOARDING_ORDER[0]) -> Conversation:
        return Conversation(Flow.ONBOARDING, step)

    @staticmethod
    def editing(step: Step) -> Conversation:
        return Conversation(Flow.EDIT, step)


class TransitionError(ValueError):
    """The event does not apply to the conversation in its current state."""


def next_onboarding_step(step: Step) -> Step | None:
    index = ONBOARDING_ORDER.index(step)
    return ONBOARDING_ORDER[index + 1] if index + 1 < len(ONBOARDING_ORDER) else None


def _stays_on_step(conversation: Conversation, photos_owned: int) -> bool:
    """Interests toggle one at a time and stay until Done; so do onboarding photos, which
    arrive one by one until the limit, while an edit adds one photo and is over."""
    if conversation.step is Step.INTERESTS:
        return True
    return (
        conversation.flow is Flow.ONBOARDING
        and conversation.step is Step.PHOTOS
        and photos_owned < MAX_PHOTOS
    )


def transition(conversation: Conversation, event: Event, photos_owned: int = 0) -> Conversation:
    """Where a conversation goes after an event; photos_owned counts photos after the event."""
    if conversation.flow is Flow.IDLE or conversation.step is None:
        raise TransitionError(f"{event.value} while idle")
    step = conversation.step
    if event is Event.CANCEL:
        # Onboarding keeps its step in the database, so leaving it is just going idle.
        return Conversation.idle()
    if event is Event.DONE:
        if step is Step.PHOTOS and photos_owned == 0:
            raise TransitionError("a profile needs at least one photo")
        if step not in SKIPPABLE_STEPS and step is not Step.PHOTOS:
            raise TransitionError(f"{step.value} cannot be skipped")
    elif _stays_on_step(conversation, photos_owned):
        return conversation
    if conversation.flow is Flow.EDIT:
        return Conversation.idle()
    following = next_onboarding_step(step)
    return Conversation.onboarding(following) if following else Conversation.idle()


def resume_step(stored_step: str | None) -> Step | None:
    """The onboarding step stored for a user, or None when onboarding is over or unknown."""
    try:
        return Step(stored_step) if stored_step else None
    except ValueError:
        return ONBOARDING_ORDER[0]
