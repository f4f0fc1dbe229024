"""Conversation state transitions, callback signing and update parsing, as pure code."""

from __future__ import annotations

import pytest

from bot_api.incoming import Kind, parse_update, user_of
from domain.onboarding import (
    ONBOARDING_ORDER,
    Conversation,
    Event,
    Flow,
    Step,
    TransitionError,
    resume_step,
    transition,
)
from presentation.callbacks import CALLBACK_DATA_MAX_BYTES, CallbackSigner


class TestOnboardingTransitions:
    def test_accepted_values_walk_every_step_in_order(self) -> None:
        """Each accepted value moves onboarding to the next step; photos end it at three."""
        conversation = Conversation.onboarding()
        visited = [conversation.step]
        for _ in range(20):
            if conversation.flow is Flow.IDLE:
                break
            if conversation.step is Step.INTERESTS:
                conversation = transition(conversation, Event.DONE)
            else:
                conversation = transition(conversation, Event.ACCEPTED, photos_owned=3)
            visited.append(conversation.step)
        assert visited[:-1] == list(ONBOARDING_ORDER)
        assert conversation == Conversation.idle()

    def test_photos_stay_until_limit_or_done(self) -> None:
        """One or two photos keep onboarding on the photo step; Done then finishes it."""
        photos = Conversation.onboarding(Step.PHOTOS)
        assert transition(photos, Event.ACCEPTED, photos_owned=1) == photos
        assert transition(photos, Event.ACCEPTED, photos_owned=2) == photos
        assert transition(photos, Event.DONE, photos_owned=2) == Conversation.idle()

    def test_done_without_a_photo_is_refused(self) -> None:
        """A profile cannot be finished without at least one photo."""
        with pytest.raises(TransitionError):
            transition(Conversation.onboarding(Step.PHOTOS), Event.DONE, photos_owned=0)

    @pytest.mark.parametrize(
        "step", [Step.NAME, Step.AGE, Step.GENDER, Step.SEEKING, Step.LOCATION]
    )
    def test_required_steps_cannot_be_skipped(self, step: Step) -> None:
        """Done/Skip does not apply to the steps a profile needs."""
        with pytest.raises(TransitionError):
            transition(Conversation.onboarding(step), Event.DONE)

    def test_skippable_steps(self) -> None:
        """About, interests and the age range may be skipped to the next step."""
        assert transition(Conversation.onboarding(Step.ABOUT), Event.DONE) == (
            Conversation.onboarding(Step.INTERESTS)
        )
        assert transition(Conversation.onboarding(Step.AGE_RANGE), Event.DONE) == (
            Conversation.onboarding(Step.LOCATION)
        )

    def test_interest_toggles_stay_on_the_step(self) -> None:
        """Toggling an interest keeps the conversation where it is, in both flows."""
        for conversation in (
            Conversation.onboarding(Step.INTERESTS),
            Conversation.editing(Step.INTERESTS),
        ):
            assert transition(conversation, Event.ACCEPTED) == conversation

    def test_editing_ends_after_one_value(self) -> None:
        """An edit, including adding one photo, returns to idle after the value is stored."""
        assert transition(Conversation.editing(Step.AGE), Event.ACCEPTED) == Conversation.idle()
        assert (
            transition(Conversation.editing(Step.PHOTOS), Event.ACCEPTED, photos_owned=2)
            == Conversation.idle()
        )

    def test_cancel_goes_idle_and_idle_has_no_events(self) -> None:
        """Cancel leaves any flow; events while idle are a programming error."""
        assert transition(Conversation.onboarding(Step.AGE), Event.CANCEL) == Conversation.idle()
        with pytest.raises(TransitionError):
            transition(Conversation.idle(), Event.ACCEPTED)

    def test_resume_step(self) -> None:
        """A stored step resumes; none means done; garbage restarts from the first step."""
        assert resume_step("about") is Step.ABOUT
        assert resume_step(None) is None
        assert resume_step("nonsense") is ONBOARDING_ORDER[0]


class TestCallbackSigning:
    signer = CallbackSigner(b"secret")

    def test_round_trip(self) -> None:
        """Data signed for a user verifies for that user and yields its parts."""
        data = self.signer.sign(42, "st", "gender", "m")
        assert self.signer.verify(42, data) == ["st", "gender", "m"]

    def test_other_user_and_tampering_are_refused(self) -> None:
        """Data from another user's chat, altered data and garbage all fail."""
        data = self.signer.sign(42, "dl", "yes")
        assert self.signer.verify(43, data) is None
        assert self.signer.verify(42, data.replace("yes", "no")) is None
        assert self.signer.verify(42, "dl:yes") is None
        assert self.signer.verify(42, "") is None

    def test_fits_telegram_limit(self) -> None:
        """The longest payload we sign (a photo id) stays within 64 bytes."""
        data = self.signer.sign(2**40, "pm", "f" * 32)
        assert len(data.encode()) <= CALLBACK_DATA_MAX_BYTES
        with pytest.raises(ValueError, match="64 bytes"):
            self.signer.sign(1, "x" * 60)


def _message(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "message_id": 5,
        "date": 0,
        "from": {"id": 7, "is_bot": False, "first_name": "Ann", "language_code": "ru"},
        "chat": {"id": 7, "type": "private"},
    }
    base.update(fields)
    return {"update_id": 100, "message": base}


class TestIncoming:
    def test_command_with_bot_name_and_argument(self) -> None:
        """'/start@bot ref' is the start command with 'ref' as its text."""
        incoming = parse_update(_message(text="/Start@dating_bot ref"))
        assert incoming is not None
        assert (incoming.kind, incoming.command, incoming.text) == (Kind.COMMAND, "start", "ref")

    def test_largest_photo_size_is_taken(self) -> None:
        """A photo message yields its largest size's file id."""
        sizes = [
            {
                "file_id": "small",
                "file_unique_id": "s",
                "width": 90,
                "height": 90,
                "file_size": 100,
            },
            {
                "file_id": "big",
                "file_unique_id": "b",
                "width": 800,
                "height": 800,
                "file_size": 9000,
            },
        ]
        incoming = parse_update(_message(photo=sizes, caption="me"))
        assert incoming is not None
        assert (incoming.kind, incoming.file_id, incoming.file_size, incoming.text) == (
            Kind.PHOTO,
            "big",
            9000,
            "me",
        )

    @pytest.mark.parametrize(
        ("fields", "kind"),
        [
            ({"sticker": {"file_id": "x", "file_unique_id": "y"}}, Kind.STICKER),
            ({"voice": {"file_id": "x", "file_unique_id": "y"}}, Kind.VOICE),
            ({"video_note": {"file_id": "x", "file_unique_id": "y"}}, Kind.VIDEO_NOTE),
            ({"location": {"latitude": 1.5, "longitude": 2.5}}, Kind.LOCATION),
            ({"contact": {"phone_number": "1", "first_name": "A"}}, Kind.CONTACT),
            ({"dice": {"emoji": "🎲", "value": 3}}, Kind.OTHER),
            ({"text": "hello"}, Kind.TEXT),
        ],
    )
    def test_kinds(self, fields: dict[str, object], kind: Kind) -> None:
        """Every kind of message is named, unknown ones as OTHER."""
        incoming = parse_update(_message(**fields))
        assert incoming is not None and incoming.kind is kind

    def test_anything_from_a_group_is_a_group_update(self) -> None:
        """Only private chats are conversations with the bot: a message, a button press or the
        bot being added in a group is Kind.GROUP (the bot leaves); being removed is nothing."""
        group = {"id": -5, "type": "supergroup", "title": "G"}
        message = parse_update(_message(text="hi", chat=group))
        assert message is not None and (message.kind, message.chat_id) == (Kind.GROUP, -5)
        press = parse_update(
            {
                "update_id": 2,
                "callback_query": {
                    "id": "q",
                    "from": {"id": 9, "first_name": "B"},
                    "data": "x~y",
                    "chat_instance": "c",
                    "message": {"message_id": 3, "chat": group, "date": 0},
                },
            }
        )
        assert press is not None and (press.kind, press.chat_id) == (Kind.GROUP, -5)

        def member(status: str) -> dict[str, object]:
            change = {"chat": group, "from": {"id": 9}, "new_chat_member": {"status": status}}
            return {"update_id": 3, "my_chat_member": change}

        added = parse_update(member("member"))
        assert added is not None and added.kind is Kind.GROUP
        assert parse_update(member("left")) is None
        assert parse_update(member("kicked")) is None

    def test_callback_and_blocking(self) -> None:
        """Button presses and 'kicked' chat member updates are recognised."""
        callback = parse_update(
            {
                "update_id": 1,
                "callback_query": {
                    "id": "q",
                    "from": {"id": 9, "first_name": "B"},
                    "data": "x~y",
                    "chat_instance": "c",
                    "message": {"message_id": 3, "chat": {"id": 9, "type": "private"}, "date": 0},
                },
            }
        )
        assert callback is not None and callback.kind is Kind.CALLBACK
        assert (callback.callback_data, callback.message_id) == ("x~y", 3)
        blocked = parse_update(
            {
                "update_id": 2,
                "my_chat_member": {
                    "from": {"id": 9, "first_name": "B"},
                    "chat": {"id": 9, "type": "private"},
                    "date": 0,
                    "old_chat_member": {"status": "member"},
                    "new_chat_member": {"status": "kicked"},
                },
            }
        )
        assert blocked is not None and blocked.kind is Kind.BOT_BLOCKED
        assert user_of({"update_id": 3, "callback_query": {"from": {"id": 11}}}) == 11
