"""Sending, media, edits and Telegram's validation errors, seen through PTB and the chat."""

from __future__ import annotations

import pytest
from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest

from sandbox.client import SandboxClient, VirtualUser
from tests.sandbox.live import LiveBot
from tests.support.images import jpeg

KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Мужчина", callback_data="gender:m")],
        [InlineKeyboardButton("Женщина", callback_data="gender:f")],
    ]
)


class TestText:
    def test_message_object_is_telegram_shaped(self, tg: LiveBot, alice: VirtualUser) -> None:
        """A sent message comes back with increasing ids, the bot as sender, the private chat."""
        first = tg.run(tg.bot.send_message(alice.id, "one"))
        second = tg.run(tg.bot.send_message(alice.id, "two"))
        assert second.message_id > first.message_id
        assert first.from_user is not None and first.from_user.is_bot
        assert first.chat.id == alice.id and first.chat.type == "private"
        assert first.chat.first_name == "Alice"

    def test_html_becomes_entities(self, tg: LiveBot, alice: VirtualUser) -> None:
        """parse_mode=HTML is parsed: the chat shows plain text, PTB gets entities."""
        sent = tg.run(
            tg.bot.send_message(
                alice.id, "Привет, <b>Алиса</b> 💜 &lt;3", parse_mode=ParseMode.HTML
            )
        )
        assert sent.text == "Привет, Алиса 💜 <3"
        assert sent.parse_entity(sent.entities[0]) == "Алиса"
        assert alice.wait_for_message().text == "Привет, Алиса 💜 <3"

    def test_unescaped_html_is_refused(self, tg: LiveBot, alice: VirtualUser) -> None:
        """A user's name with "<" pasted into HTML fails like on Telegram."""
        with pytest.raises(BadRequest, match="Can't parse entities"):
            tg.run(tg.bot.send_message(alice.id, "Hi <Bob>", parse_mode=ParseMode.HTML))
        with pytest.raises(BadRequest, match="Can't parse entities"):
            tg.run(tg.bot.send_message(alice.id, "Age: 25.", parse_mode=ParseMode.MARKDOWN_V2))

    def test_text_limits(self, tg: LiveBot, alice: VirtualUser) -> None:
        """Empty text and text over 4096 characters are refused; exactly 4096 passes."""
        with pytest.raises(BadRequest, match="Message text is empty"):
            tg.run(tg.bot.send_message(alice.id, "   "))
        with pytest.raises(BadRequest, match="Message is too long"):
            tg.run(tg.bot.send_message(alice.id, "я" * 4097))
        tg.run(tg.bot.send_message(alice.id, "я" * 4096))

    def test_unknown_chat(self, tg: LiveBot) -> None:
        """A chat id no virtual user has answers "chat not found"."""
        with pytest.raises(BadRequest, match="Chat not found"):
            tg.run(tg.bot.send_message(424242, "hello?"))

    def test_callback_data_over_64_bytes(self, tg: LiveBot, alice: VirtualUser) -> None:
        """callback_data longer than 64 bytes (UTF-8) is BUTTON_DATA_INVALID."""
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="ж" * 33)]])
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            tg.run(tg.bot.send_message(alice.id, "pick", reply_markup=markup))

    def test_reply_keyboards_and_force_reply(self, tg: LiveBot, alice: VirtualUser) -> None:
        """Reply keyboards, their removal and ForceReply are recorded in the chat."""
        keyboard = ReplyKeyboardMarkup(
            [[KeyboardButton("📍 Где я", request_location=True)], ["Пропустить"]],
            one_time_keyboard=True,
        )
        tg.run(tg.bot.send_message(alice.id, "Где ты?", reply_markup=keyboard))
        assert alice.wait_for_message().buttons == [["📍 Где я"], ["Пропустить"]]
        assert alice.chat.reply_keyboard_markup is not None
        tg.run(tg.bot.send_message(alice.id, "ok", reply_markup=ReplyKeyboardRemove()))
        assert alice.chat.reply_keyboard_markup is None
        tg.run(tg.bot.send_message(alice.id, "Имя?", reply_markup=ForceReply()))
        assert alice.wait_for_messages(2)[-1].reply_markup == {"force_reply": True}

    def test_reply_to_a_message(self, tg: LiveBot, alice: VirtualUser) -> None:
        """reply_to_message_id links the reply; a missing target is refused."""
        sent = alice.send_text("вопрос")
        assert sent.message_id is not None
        reply = tg.run(tg.bot.send_message(alice.id, "ответ", reply_to_message_id=sent.message_id))
        assert reply.reply_to_message is not None
        assert reply.reply_to_message.text == "вопрос"
        with pytest.raises(BadRequest, match="Message to be replied not found"):
            tg.run(tg.bot.send_message(alice.id, "x", reply_to_message_id=9999))


class TestButtons:
    def test_press_gives_ptb_a_callback_query(self, tg: LiveBot, alice: VirtualUser) -> None:
        """The user presses a button by its label; PTB gets a CallbackQuery with its data."""
        menu = tg.run(tg.bot.send_message(alice.id, "Кто ты?", reply_markup=KEYBOARD))
        pressed = alice.press("Женщина")
        query = tg.next_update().callback_query
        assert query is not None
        assert query.id == pressed.callback_query_id
        assert query.data == "gender:f"
        assert query.message is not None and query.message.message_id == menu.message_id
        assert query.from_user.id == alice.id
        tg.run(query.answer("Записала", show_alert=True))
        answer = alice.wait_for_answer()
        assert (answer.text, answer.show_alert) == ("Записала", True)

    def test_answering_twice_or_unknown_is_too_old(self, tg: LiveBot, alice: VirtualUser) -> None:
        """A second answer to one query, or an unknown id, is "query is too old"."""
        tg.run(tg.bot.send_message(alice.id, "?", reply_markup=KEYBOARD))
        alice.press("Мужчина")
        query = tg.next_update().callback_query
        assert query is not None
        tg.run(query.answer())
        with pytest.raises(BadRequest, match="Query is too old"):
            tg.run(query.answer())
        with pytest.raises(BadRequest, match="Query is too old"):
            tg.run(tg.bot.answer_callback_query("123"))

    def test_forged_callback_reaches_the_bot(self, tg: LiveBot, alice: VirtualUser) -> None:
        """A forged callback carries any data, even on a message that does not exist."""
        alice.press_forged(777, "like:999999")
        query = tg.next_update().callback_query
        assert query is not None
        assert query.data == "like:999999"
        assert query.message is not None and not query.message.is_accessible

    def test_press_unknown_button_explains(self, tg: LiveBot, alice: VirtualUser) -> None:
        """Pressing a label nobody shows fails with the labels that are there."""
        tg.run(tg.bot.send_message(alice.id, "Кто ты?", reply_markup=KEYBOARD))
        with pytest.raises(AssertionError, match=r"no button \"Кот\".*Мужчина.*Женщина"):
            alice.press("Кот")

    def test_reply_keyboard_location_button(self, tg: LiveBot, alice: VirtualUser) -> None:
        """A request_location button sends the location the test gives."""
        keyboard = ReplyKeyboardMarkup([[KeyboardButton("Где я", request_location=True)]])
        tg.run(tg.bot.send_message(alice.id, "Где ты?", reply_markup=keyboard))
        alice.press_reply("Где я", latitude=55.75, longitude=37.61)
        message = tg.next_update().message
        assert message is not None and message.location is not None
        assert (message.location.latitude, message.location.longitude) == (55.75, 37.61)


class TestMedia:
    def test_photo_upload_then_file_id_then_download(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser
    ) -> None:
        """An uploaded photo gets sizes; its file_id resends it; getFile downloads the bytes."""
        original = jpeg(1280, 960)
        first = tg.run(tg.bot.send_photo(alice.id, original, caption="Я"))
        assert len(first.photo) >= 2
        biggest = first.photo[-1]
        assert (biggest.width, biggest.height) == (1280, 960)
        assert first.photo[0].width < biggest.width
        again = tg.run(tg.bot.send_photo(alice.id, biggest.file_id))
        assert again.photo[-1].file_unique_id == biggest.file_unique_id
        file = tg.run(tg.bot.get_file(biggest.file_id))
        assert bytes(tg.run(file.download_as_bytearray())) == original
        assert sandbox.download(biggest.file_id) == original
        seen = alice.wait_for_messages(2)
        assert seen[0].caption == "Я" and seen[0].photo[-1] == biggest.file_id

    def test_user_photo_and_document_reach_the_bot(
        self, sandbox: SandboxClient, tg: LiveBot, alice: VirtualUser
    ) -> None:
        """User photos arrive as PhotoSizes (real dimensions), documents with name and type."""
        alice.send_photo(jpeg(600, 800))
        photo = tg.next_update().message
        assert photo is not None
        assert (photo.photo[-1].width, photo.photo[-1].height) == (600, 800)
        tg.run(tg.bot.send_photo(alice.id, photo.photo[-1].file_id))
        pdf = b"%PDF-1.4 fake resume"
        alice.send_document(pdf, "cv.pdf", "application/pdf")
        document = tg.next_update().message
        assert document is not None and document.document is not None
        assert (document.document.file_name, document.document.mime_type) == (
            "cv.pdf",
            "application/pdf",
        )
        file = tg.run(tg.bot.get_file(document.document.file_id))
        assert bytes(tg.run(file.download_as_bytearray())) == pdf
        with pytest.raises(BadRequest, match="Type of file mismatch"):
            tg.run(tg.bot.send_photo(alice.id, document.document.file_id))
        with pytest.raises(BadRequest, match="Wrong file identifier"):
            tg.run(tg.bot.send_photo(alice.id, "AgACAgIAAxkBAAIBogus"))

    def test_other_user_media_kinds(self, tg: LiveBot, alice: VirtualUser) -> None:
        """Stickers, voice, video notes, contacts and locations parse in PTB."""
        alice.send_sticker(emoji="❤️")
        alice.send_voice(duration=3)
        alice.send_video_note(duration=2)
        alice.send_contact("+79990000000")
        alice.send_location(59.93, 30.31)
        messages = [u.message for u in tg.updates()]
        assert all(m is not None for m in messages)
        sticker, voice, note, contact, location = messages
        assert sticker is not None and sticker.sticker is not None
        assert sticker.sticker.emoji == "❤️"
        assert voice is not None and voice.voice is not None
        assert note is not None and note.video_note is not None
        assert contact is not None and contact.contact is not None
        assert contact.contact.user_id == alice.id
        assert location is not None and location.location is not None
        tg.run(tg.bot.send_sticker(alice.id, sticker.sticker.file_id))
        tg.run(tg.bot.send_voice(alice.id, voice.voice.file_id))
        tg.run(tg.bot.send_video_note(alice.id, note.video_note.file_id))
        assert [m.kind for m in alice.wait_for_messages(3)] == ["sticker", "voice", "video_note"]

    def test_media_group(self, tg: LiveBot, alice: VirtualUser) -> None:
        """sendMediaGroup takes uploads (attach://) and file_ids; 2–10 items."""
        first = tg.run(tg.bot.send_photo(alice.id, jpeg(400, 400)))
        album = tg.run(
            tg.bot.send_media_group(
                alice.id,
                [
                    InputMediaPhoto(jpeg(500, 300, (1, 2, 3)), caption="раз"),
                    InputMediaPhoto(jpeg(300, 500, (3, 2, 1))),
                    InputMediaPhoto(first.photo[-1].file_id),
                ],
            )
        )
        assert len(album) == 3
        assert len({m.media_group_id for m in album}) == 1
        assert album[0].caption == "раз"
        seen = alice.wait_for_messages(4)[1:]
        assert [m.method for m in seen] == ["sendMediaGroup"] * 3
        with pytest.raises(BadRequest, match="2-10 items"):
            tg.run(tg.bot.send_media_group(alice.id, [InputMediaPhoto(first.photo[-1].file_id)]))
        docs = tg.run(
            tg.bot.send_media_group(
                alice.id,
                [
                    InputMediaDocument(b"a", filename="a.txt"),
                    InputMediaDocument(b"b", filename="b.txt"),
                ],
            )
        )
        assert [d.document.file_name for d in docs if d.document] == ["a.txt", "b.txt"]

    def test_caption_limit(self, tg: LiveBot, alice: VirtualUser) -> None:
        """Captions over 1024 characters are refused."""
        with pytest.raises(BadRequest, match="Message caption is too long"):
            tg.run(tg.bot.send_photo(alice.id, jpeg(50, 50), caption="x" * 1025))

    def test_copy_message_between_chats(
        self, tg: LiveBot, alice: VirtualUser, bob: VirtualUser
    ) -> None:
        """copyMessage relays a user's photo to another chat without its sender."""
        sent = alice.send_photo(jpeg(300, 300), caption="это я")
        assert sent.message_id is not None
        copied = tg.run(tg.bot.copy_message(bob.id, alice.id, sent.message_id))
        relayed = bob.wait_for_message()
        assert relayed.message_id == copied.message_id
        assert relayed.caption == "это я" and relayed.photo
        assert relayed.raw["from"]["is_bot"] is True
        with pytest.raises(BadRequest, match="Message to copy not found"):
            tg.run(tg.bot.copy_message(bob.id, alice.id, 9999))


class TestEdits:
    def test_edit_text_and_not_modified(self, tg: LiveBot, alice: VirtualUser) -> None:
        """An edit changes the text; the same content and markup again is "not modified"."""
        sent = tg.run(tg.bot.send_message(alice.id, "Кто ты?", reply_markup=KEYBOARD))
        edited = tg.run(
            tg.bot.edit_message_text("Кто ты? ✔", alice.id, sent.message_id, reply_markup=KEYBOARD)
        )
        assert isinstance(edited, Message) and edited.edit_date is not None
        with pytest.raises(BadRequest, match="Message is not modified"):
            tg.run(
                tg.bot.edit_message_text(
                    "Кто ты? ✔", alice.id, sent.message_id, reply_markup=KEYBOARD
                )
            )
        tg.run(tg.bot.edit_message_text("Кто ты? ✔", alice.id, sent.message_id))
        message = alice.message(sent.message_id)
        assert message.edited and message.text == "Кто ты? ✔"
        assert message.reply_markup is None  # an edit without reply_markup drops the keyboard

    def test_edit_markup_caption_media(self, tg: LiveBot, alice: VirtualUser) -> None:
        """Reply markup, caption and media edits apply to the right kind of message."""
        photo = tg.run(tg.bot.send_photo(alice.id, jpeg(200, 200), caption="до"))
        tg.run(tg.bot.edit_message_caption(alice.id, photo.message_id, caption="после"))
        tg.run(tg.bot.edit_message_reply_markup(alice.id, photo.message_id, reply_markup=KEYBOARD))
        with pytest.raises(BadRequest, match="Message is not modified"):
            tg.run(
                tg.bot.edit_message_reply_markup(alice.id, photo.message_id, reply_markup=KEYBOARD)
            )
        new = tg.run(
            tg.bot.edit_message_media(
                InputMediaPhoto(jpeg(640, 480, (9, 9, 9)), caption="новое"),
                alice.id,
                photo.message_id,
            )
        )
        assert isinstance(new, Message)
        assert new.photo[-1].width == 640 and new.caption == "новое"
        text = tg.run(tg.bot.send_message(alice.id, "текст"))
        with pytest.raises(BadRequest, match="There is no caption in the message to edit"):
            tg.run(tg.bot.edit_message_caption(alice.id, text.message_id, caption="x"))

    def test_edit_media_into_a_known_photo_with_buttons(
        self, tg: LiveBot, alice: VirtualUser
    ) -> None:
        """A card edited into the next one: another photo by its file_id, a new caption and
        new buttons, in the same message."""
        first = tg.run(tg.bot.send_photo(alice.id, jpeg(200, 200), caption="Anna, 27"))
        other = tg.run(tg.bot.send_photo(alice.id, jpeg(320, 240, (9, 90, 9)), caption="x"))
        file_id = other.photo[-1].file_id
        tg.run(
            tg.bot.edit_message_media(
                InputMediaPhoto(file_id, caption="Boris, 30"),
                alice.id,
                first.message_id,
                reply_markup=KEYBOARD,
            )
        )
        message = alice.message(first.message_id)
        assert message.edited and message.caption == "Boris, 30"
        assert message.photo and message.photo[-1] == file_id
        assert message.button_texts == [b.text for row in KEYBOARD.inline_keyboard for b in row]

    def test_edit_and_delete_unknown_messages(self, tg: LiveBot, alice: VirtualUser) -> None:
        """Unknown or deleted messages cannot be edited or deleted."""
        with pytest.raises(BadRequest, match="Message to edit not found"):
            tg.run(tg.bot.edit_message_text("x", alice.id, 9999))
        sent = tg.run(tg.bot.send_message(alice.id, "скоро исчезну"))
        assert tg.run(tg.bot.delete_message(alice.id, sent.message_id))
        assert alice.message(sent.message_id).deleted
        with pytest.raises(BadRequest, match="Message to delete not found"):
            tg.run(tg.bot.delete_message(alice.id, sent.message_id))
        with pytest.raises(BadRequest, match="Message to edit not found"):
            tg.run(tg.bot.edit_message_text("x", alice.id, sent.message_id))

    def test_user_message_cannot_be_edited_by_the_bot(
        self, tg: LiveBot, alice: VirtualUser
    ) -> None:
        """The bot may not edit what the user wrote; the user's own edit reaches the bot."""
        sent = alice.send_text("опечатка")
        assert sent.message_id is not None
        with pytest.raises(BadRequest, match="Message can't be edited"):
            tg.run(tg.bot.edit_message_text("x", alice.id, sent.message_id))
        tg.drain()
        alice.edit_text(sent.message_id, "исправлено")
        update = tg.next_update()
        assert update.edited_message is not None
        assert update.edited_message.text == "исправлено"
