"""The questions: onboarding from the first message to the finished profile, and the answer
to one question asked again to edit the profile (the own-profile controller asks it)."""

from __future__ import annotations

from actors.session.context import Context
from actors.session.router import button, cancels, command
from actors.session.services import Services
from bot_api import replies
from bot_api.incoming import Kind
from config.i18n import LANGUAGES, t
from domain.interests import INTERESTS, MAX_INTERESTS
from domain.onboarding import (
    CHOICE_STEPS,
    Conversation,
    Event,
    Flow,
    Step,
    TransitionError,
    transition,
)
from domain.validation import (
    Invalid,
    choose_interest,
    default_age_range,
    validate_about,
    validate_age,
    validate_age_range,
    validate_city,
    validate_location,
    validate_name,
)
from presentation import screens
from presentation.buttons import Button
from storage.accounts import KEEP_STEP, Account

STEP_VALUES = frozenset(step.value for step in Step)
# Conversation-state flag: the user left onboarding with /cancel; input waits for /start.
ONBOARDING_CANCELLED = "onboarding_cancelled"
PHOTO_KINDS = frozenset({Kind.PHOTO, Kind.DOCUMENT})


class Onboarding:
    def __init__(self, services: Services) -> None:
        self._services = services

    def welcome(self, ctx: Context) -> None:
        """A new user's first answer: the welcome and the first question."""
        self._services.ask_current_step(
            ctx, Conversation.onboarding(), ctx.text("onboarding.welcome")
        )

    @command("start", rank=10)
    def start(self, ctx: Context) -> None:
        services = self._services
        conversation = services.conversation(ctx.account)
        if conversation.flow is Flow.ONBOARDING:
            services.ask_current_step(ctx, conversation, ctx.text("onboarding.resume"))
            return
        services.clear(ctx)
        services.show_own_profile(ctx)

    @cancels(rank=20)
    def cancel(self, ctx: Context) -> bool:
        if self._services.conversation(ctx.account).flow is not Flow.ONBOARDING:
            return False
        self._services.deps.conversations.set(ctx.user_id, {ONBOARDING_CANCELLED: True})
        ctx.send(replies.message_removing_keyboard(ctx.chat_id, ctx.text("onboarding.cancelled")))
        return True

    def answer(self, ctx: Context, conversation: Conversation) -> None:
        """A message while a question is open (onboarding or an edit)."""
        if conversation.flow is Flow.ONBOARDING and self._left_with_cancel(ctx):
            ctx.say("onboarding.cancelled")
            return
        step = conversation.step
        assert step is not None
        incoming = ctx.incoming
        try:
            if step in CHOICE_STEPS:
                raise Invalid("errors.expected_choice")
            if step is Step.PHOTOS:
                self._accept_photo(ctx, conversation)
                return
            if step is Step.LOCATION:
                values = self._location_values(ctx)
            elif incoming.kind is not Kind.TEXT:
                raise Invalid("errors.expected_text")
            elif step is Step.ABOUT and conversation.flow is Flow.ONBOARDING and _is_skip(ctx):
                self._advance(ctx, conversation, Event.DONE)
                return
            else:
                values = _text_values(step, incoming.text, ctx.account)
        except Invalid as invalid:
            # Why, and the question again, as one message: under a per-chat pacing a second
            # message would come a second later, when the person is answering the first.
            params = dict(invalid.params)
            if "reason" in params:  # a content check: the reason's own text
                params["reason"] = ctx.text(str(params["reason"]))
            self._services.ask_current_step(ctx, conversation, ctx.text(invalid.key, **params))
            return
        # After the location, the about question's reply keyboard (Skip) takes the place of
        # the location's: no message of its own is needed to remove it.
        self._advance(ctx, conversation, Event.ACCEPTED, values)

    def _location_values(self, ctx: Context) -> dict[str, object]:
        """A shared location becomes its private point (only that is stored), a typed city
        replaces any coordinates."""
        incoming = ctx.incoming
        if incoming.kind is Kind.LOCATION:
            latitude, longitude = validate_location(incoming.latitude, incoming.longitude)
            services = self._services
            stored = services.ask(
                services.profile(ctx.user_id).place(ctx.user_id, latitude, longitude)
            )
            return {
                "latitude": stored.latitude,
                "longitude": stored.longitude,
                "city": None,
                "city_key": None,
            }
        if incoming.kind is not Kind.TEXT:
            raise Invalid("errors.expected_location")
        city, key = validate_city(incoming.text)
        return {"city": city, "city_key": key, "latitude": None, "longitude": None}

    def _left_with_cancel(self, ctx: Context) -> bool:
        state = self._services.deps.conversations.get(ctx.user_id)
        ctx.state_empty = not state
        return bool(state.get(ONBOARDING_CANCELLED))

    def _accept_photo(self, ctx: Context, conversation: Conversation) -> None:
        incoming = ctx.incoming
        if incoming.kind not in PHOTO_KINDS:
            raise Invalid("errors.expected_photo")
        services = self._services
        ctx.account = services.ask(
            services.profile(ctx.user_id).add_photo(
                ctx.user_id,
                incoming.file_id,
                incoming.file_unique_id,
                incoming.mime_type,
                incoming.file_size,
                len(ctx.account.photos),
                ctx.chat_id if incoming.kind is Kind.DOCUMENT else None,
            )
        )
        owned = len(ctx.account.photos)
        services.count("photo_added")
        if (
            conversation.flow is Flow.ONBOARDING
            and transition(conversation, Event.ACCEPTED, owned) == conversation
        ):
            ctx.send(screens.photo_saved(ctx.chat_id, ctx.buttons, owned))
            return
        self._advance(ctx, conversation, Event.ACCEPTED)

    def _advance(
        self,
        ctx: Context,
        conversation: Conversation,
        event: Event,
        values: dict[str, object] | None = None,
    ) -> None:
        """Save the step's values, move the conversation on after an event and say what
        comes next. The values and the next onboarding step are one write, which hands back
        the account as it is now (ctx.account must be current when this is called)."""
        services = self._services
        following = transition(conversation, event, len(ctx.account.photos))
        moves_onboarding = conversation.flow is Flow.ONBOARDING and following != conversation
        if values or moves_onboarding:
            next_step = following.step.value if following.step else None
            ctx.account = services.ask(
                services.profile(ctx.user_id).save(
                    ctx.user_id, values or {}, next_step if moves_onboarding else KEEP_STEP
                )
            )
        if following == conversation:
            return
        if conversation.flow is Flow.EDIT:
            services.clear(ctx)
            # The location question showed a reply keyboard: saying "saved" takes it away.
            ctx.send(
                replies.message_removing_keyboard(ctx.chat_id, ctx.text("common.saved"))
                if conversation.step is Step.LOCATION
                else replies.message(ctx.chat_id, ctx.text("common.saved"))
            )
            services.show_own_profile(ctx)
            return
        if following.flow is Flow.ONBOARDING:
            # A press moves on by editing its question into the next one.
            services.ask_current_step(ctx, following, edit=bool(ctx.incoming.callback_id))
            return
        services.count("profile_completed")
        services.show_own_profile(ctx, ctx.text("onboarding.done"))

    @button(Button.STEP_CHOICE)
    def choose(self, ctx: Context, args: list[str]) -> None:
        services = self._services
        conversation = services.conversation(ctx.account)
        if len(args) != 2 or args[0] not in STEP_VALUES:
            services.outdated(ctx)  # not data any question of ours carries
            return
        if conversation.step is None or conversation.step.value != args[0]:
            self._late_press(ctx, conversation)
            return
        step, value = conversation.step, args[1]
        account = ctx.account
        event = Event.ACCEPTED
        values: dict[str, object] | None = None
        try:
            if step is Step.GENDER and value in ("m", "f"):
                values = {"gender": value}
            elif step is Step.SEEKING and value in ("m", "f", "any"):
                values = {"seeking": value}
            elif step is Step.AGE_RANGE and value == "keep":
                low, high = default_age_range(account.age or 25)
                values = {"age_min": low, "age_max": high}
            elif (step, value) in ((Step.ABOUT, "skip"), (Step.INTERESTS, "done")):
                event = Event.DONE
            elif step is Step.INTERESTS and (press := _interest_press(value)) is not None:
                self._choose_interest(ctx, INTERESTS[press[0]], press[1])
                return
            elif step is Step.PHOTOS and value == "done":
                if not account.photos:
                    raise Invalid("errors.expected_photo")
                event = Event.DONE
            else:
                services.outdated(ctx)
                return
        except Invalid as invalid:
            ctx.send(
                replies.answer_callback(
                    ctx.incoming.callback_id, ctx.text(invalid.key, **invalid.params), True
                )
            )
            return
        try:
            self._advance(ctx, conversation, event, values)
        except TransitionError:
            services.outdated(ctx)

    def _late_press(self, ctx: Context, conversation: Conversation) -> None:
        """A button of a question already answered (pressed late, or on a copy left above):
        answered quietly; the first such press shows where the user stands now: the current
        question, or the finished profile (also what the last answer showed, when it is
        handled again after its node died before replying)."""
        services = self._services
        if conversation.flow is Flow.IDLE and not ctx.account.is_complete:
            services.outdated(ctx)
            return
        where = "profile" if conversation.step is None else conversation.step.value
        if not services.late_press(ctx, f"{conversation.flow.value}:{where}"):
            return
        if conversation.step is None:
            services.show_own_profile(ctx)
        else:
            services.ask_current_step(ctx, conversation)

    def _choose_interest(self, ctx: Context, interest: str, on: bool) -> None:
        services = self._services
        chosen = choose_interest(ctx.account.interests, interest, on, INTERESTS, MAX_INTERESTS)
        ctx.account = services.ask(
            services.profile(ctx.user_id).save(ctx.user_id, {"interests": list(chosen)})
        )
        ctx.send(
            replies.answer_callback(ctx.incoming.callback_id),
            replies.edit_keyboard(
                ctx.chat_id,
                ctx.incoming.message_id,
                screens.interests_keyboard(ctx.buttons, chosen),
            ),
        )


def _is_skip(ctx: Context) -> bool:
    """The about question's Skip reply key (in either language: the label it was shown in)."""
    typed = ctx.incoming.text.strip()
    return any(typed == t(language, "buttons.skip") for language in LANGUAGES)


def _interest_press(value: str) -> tuple[int, bool] | None:
    """An interest button's data: its index and whether it ticks ("+") or unticks ("-")."""
    index, sign = value[:-1], value[-1:]
    if sign not in ("+", "-") or not index.isdigit() or int(index) >= len(INTERESTS):
        return None
    return int(index), sign == "+"


def _text_values(step: Step, text: str, account: Account) -> dict[str, object]:
    if step is Step.NAME:
        return {"name": validate_name(text)}
    if step is Step.AGE:
        return {"age": validate_age(text)}
    if step is Step.AGE_RANGE:
        low, high = validate_age_range(text, account.age or 25)
        return {"age_min": low, "age_max": high}
    return {"about": validate_about(text) or None}
