"""One message per action (issue 12): which replies an edit of the pressed message can show,
and which pressed messages can be edited as text at all."""

from __future__ import annotations

from typing import Any

from bot_api import replies
from bot_api.incoming import Kind, parse_update
from domain.onboarding import Step
from presentation import screens
from presentation.callbacks import CallbackSigner

KEYBOARD = [[replies.button("Men", "st:seeking:m~x")]]


def callback_on(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "update_id": 1,
        "callback_query": {
            "id": "q1",
            "from": {"id": 5, "first_name": "Anna"},
            "data": "st:gender:f~x",
            "message": {"message_id": 9, "chat": {"id": 5, "type": "private"}, **message},
        },
    }


class TestAsEdit:
    def test_a_text_question_becomes_an_edit_of_the_pressed_message(self) -> None:
        """A question with an inline keyboard is shown by editing the pressed message."""
        edit = replies.as_edit(replies.message(5, "Who would you like to meet?", KEYBOARD), 9)
        assert edit == replies.Reply(
            "editMessageText",
            {
                "chat_id": 5,
                "message_id": 9,
                "text": "Who would you like to meet?",
                "reply_markup": {"inline_keyboard": KEYBOARD},
            },
        )

    def test_a_question_without_buttons_takes_the_old_buttons_away(self) -> None:
        """An edit into a typed question leaves no buttons of the answered one."""
        edit = replies.as_edit(replies.message(5, "How old are you?"), 9)
        assert edit is not None and edit.params["reply_markup"] == {"inline_keyboard": []}

    def test_a_reply_keyboard_or_a_photo_cannot_be_edited_in(self) -> None:
        """A reply keyboard (the location question) and media are sent instead."""
        location = replies.message_with_reply_keyboard(5, "Where?", [[{"text": "📍"}]])
        assert replies.as_edit(location, 9) is None
        assert replies.as_edit(replies.photo(5, "file", "Anna, 27"), 9) is None


class TestAsMediaEdit:
    def test_a_card_becomes_an_edit_of_the_pressed_card(self) -> None:
        """The next card (a photo) is shown by editing the pressed card's photo, caption and
        buttons."""
        card = replies.photo(5, "file-2", "Boris, 30", KEYBOARD)
        edit = replies.as_media_edit(card, 9)
        assert edit == replies.Reply(
            "editMessageMedia",
            {
                "chat_id": 5,
                "message_id": 9,
                "media": {"type": "photo", "media": "file-2", "caption": "Boris, 30"},
                "reply_markup": {"inline_keyboard": KEYBOARD},
            },
        )

    def test_a_card_without_media_cannot_be_edited_in(self) -> None:
        """A card with no photo is a text: the pressed photo cannot become it."""
        assert replies.as_media_edit(replies.message(5, "Boris, 30", KEYBOARD), 9) is None


class TestButtonOn:
    def test_a_button_on_a_text_message(self) -> None:
        """A press on a question says the message has a text to edit."""
        incoming = parse_update(callback_on({"text": "Who are you?"}))
        assert incoming is not None and incoming.button_on is Kind.TEXT

    def test_buttons_on_voice_video_notes_and_stickers_are_not_text(self) -> None:
        """A voice message, a video note or a sticker has no text an edit could change."""
        for kind in ("voice", "video_note", "sticker"):
            incoming = parse_update(callback_on({kind: {"file_id": "f", "file_unique_id": "u"}}))
            assert incoming is not None and incoming.button_on is Kind(kind), kind

    def test_an_inaccessible_message_is_not_text(self) -> None:
        """A message Telegram no longer shows the bot (date 0, no content) is not edited."""
        incoming = parse_update(callback_on({"date": 0}))
        assert incoming is not None and incoming.button_on is Kind.OTHER


class TestAboutQuestion:
    def test_in_onboarding_skip_is_a_reply_key(self) -> None:
        """After the location's reply keyboard, the about question's Skip takes its place."""
        buttons = screens.Buttons(CallbackSigner(b"secret"), 5, "en")
        asked = screens.ask_step(Step.ABOUT, 5, buttons, 27, onboarding=True)
        assert asked.params["reply_markup"]["keyboard"] == [[{"text": "Skip"}]]
        edited = screens.ask_step(Step.ABOUT, 5, buttons, 27)
        assert "inline_keyboard" in edited.params["reply_markup"]
