"""Scam and spam checks in chat (issue 16, point 4): before both agreed to exchange contacts, a
relayed message with a contact, a link, a wallet or a request for money reaches the recipient
with a warning and a one-tap report; after the exchange it goes over plainly; the same opener
sent to many people is told to the moderators."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from redis import Redis

from config.i18n import LANGUAGES, t
from domain.content_checks import CHAT_WARNING_KEY, OPENER_RECIPIENTS
from presentation.cards import REPORT_COMMENT_MAX
from sandbox.client import SandboxClient
from tests.e2e.pairs import pair_in
from tests.e2e.people import People, Person
from tests.e2e.test_safety import case_message
from tests.support.images import photo_like
from tests.support.profiles import unique_city
from tests.support.services import Services

pytestmark = pytest.mark.usefixtures("steady_node")

SCAM_MESSAGES = {
    "en": "Let's move to my channel t.me/hot_dates_club, faster there",
    "ru": "Напиши мне лучше в телеграм @sweet_katya_99",
}
CLEAN_MESSAGES = {"en": "How was your weekend?", "ru": "Как прошли выходные?"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_suspicious_message_comes_with_a_warning_and_a_one_tap_report(
    people: People, language: str
) -> None:
    """Bob sends a handle or an invite link: Alice gets it, then the warning with a report
    button; one tap files a spam report about Bob. A clean message has no warning, and once
    both agreed to exchange contacts the same text has none either."""
    alice, bob = pair_in(people, language)
    alice.user.mark_read()
    scam = SCAM_MESSAGES[language]
    bob.user.send_text(scam)
    relayed, warning = alice.user.wait_for_messages(2)
    assert relayed.body == t(language, "chat.relayed_text", name="Bob", text=scam)
    assert warning.body == t(language, CHAT_WARNING_KEY)
    report = t(language, "chat.button_report_scam")
    assert warning.button_texts == [report]

    clean = CLEAN_MESSAGES[language]
    bob.user.send_text(clean)
    assert alice.user.wait_for_message().body == t(
        language, "chat.relayed_text", name="Bob", text=clean
    )

    alice.user.press(report, message_id=warning.message_id)
    assert alice.user.wait_for_message().body == t(
        language, "safety.ask_comment", limit=REPORT_COMMENT_MAX
    )
    assert (
        people.value(
            "SELECT reason FROM reports WHERE reporter_id = %s AND reported_id = %s",
            alice.id,
            bob.id,
        )
        == "spam"
    )
    # Not for a moderator to review here: /reports in later tests shows the oldest case.
    people.sql("DELETE FROM reports WHERE reporter_id = %s", alice.id)

    people.sql(
        """INSERT INTO contact_consents (match_id, user_id)
           SELECT id, u FROM matches, unnest(ARRAY[user_low, user_high]) AS u
           WHERE user_low = least(%s, %s::bigint) AND user_high = greatest(%s, %s::bigint)""",
        alice.id,
        bob.id,
        alice.id,
        bob.id,
    )
    alice.user.mark_read()
    bob.user.send_text(scam)
    bob.user.send_text(clean)
    after = alice.user.wait_for_messages(2)
    assert [m.body for m in after] == [
        t(language, "chat.relayed_text", name="Bob", text=scam),
        t(language, "chat.relayed_text", name="Bob", text=clean),
    ]


def test_the_same_opener_to_many_people_is_told_to_the_moderators(
    people: People, services: Services, admin: Person
) -> None:
    """Max writes nearly the same first message to five matches (only the name changes): the
    moderator is told once, with the text and Max's id; four were not enough."""
    city = unique_city()
    sender = people.join("Max", gender="m", seeking="f", city=city)
    redis = Redis.from_url(services.redis_url)
    admin.user.mark_read()
    names = ["Anna", "Kate", "Olga", "Lena", "Mia"]
    for count, name in enumerate(names, 1):
        recipient = people.join(name, gender="f", seeking="m", city=city)
        people.sql(
            "INSERT INTO matches (user_low, user_high) VALUES (least(%s, %s::bigint), "
            "greatest(%s, %s::bigint))",
            sender.id,
            recipient.id,
            sender.id,
            recipient.id,
        )
        # Straight into the chat (as 💬 Write does): the opener is what is under test.
        redis.set(
            f"{services.redis_namespace}:conv:{sender.id}", json.dumps({"chat": recipient.id})
        )
        opener = f"Hi {name}, you have a lovely smile, want to grab a coffee this weekend?"
        sender.user.send_text(opener)
        got = recipient.user.wait_for_message()
        assert got.body.endswith(opener), got.describe()
        if count == OPENER_RECIPIENTS - 1:
            assert not [m for m in admin.user.new_messages() if "Max" in m.body]
    flag = admin.user.wait_for_message()
    assert flag.body == t(
        "en",
        "safety.repeated_opener",
        name="Max",
        user_id=sender.id,
        count=OPENER_RECIPIENTS,
        text=opener,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_image_sent_as_a_file_reaches_the_match_without_its_metadata(
    people: People, sandbox: SandboxClient, language: str
) -> None:
    """Bob sends a JPEG with GPS in its EXIF as a file: Alice gets it as a photo whose bytes
    carry no EXIF; a file that is no image is still copied as it is."""
    alice, bob = pair_in(people, language)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825).update({1: "N", 2: (55.0, 45.0, 20.9), 3: "E", 4: (37.0, 37.0, 3.0)})
    out = io.BytesIO()
    photo_like(7, (320, 240)).save(out, format="JPEG", exif=exif)
    assert b"PhoneMaker" in out.getvalue()
    alice.user.mark_read()
    bob.user.send_document(out.getvalue(), "IMG_0042.jpg", "image/jpeg")
    got = alice.user.wait_for_message()
    assert got.kind == "photo" and got.caption == t(language, "chat.from", name="Bob")
    kept = sandbox.download(got.photo[-1])
    assert b"PhoneMaker" not in kept
    with Image.open(io.BytesIO(kept)) as image:
        assert not image.getexif()

    bob.user.send_document(b"%PDF-1.4 notes", "notes.pdf", "application/pdf")
    assert alice.user.wait_for_message().kind == "document"


def test_a_report_from_chat_can_attach_the_last_messages_for_the_moderator(
    people: People, admin: Person
) -> None:
    """Alice reports Bob from the warning under his message and attaches their chat: the
    moderator's case shows Bob's last texts to her; once dismissed they are deleted."""
    alice, bob = pair_in(people, "en")
    alice.user.mark_read()
    bob.user.send_text("You are so pretty")
    bob.user.send_text("Send me 50 usd for a ticket to come to you")
    *_, warning = alice.user.wait_for_messages(3)
    alice.user.press(t("en", "chat.button_report_scam"), message_id=warning.message_id)
    question = alice.user.wait_for_message()
    attach = t("en", "safety.button_attach")
    assert attach in question.button_texts
    alice.user.press(attach, message_id=question.message_id)
    assert alice.user.wait_for_message().body == t("en", "safety.attached", count=2)
    alice.user.press(t("en", "safety.button_no_comment"), message_id=question.message_id)
    assert alice.user.wait_for_message().body == t("en", "safety.reported")

    last = max((m.message_id for m in admin.user.refresh().bot_messages), default=0)
    admin.user.send_text("/reports")
    case = case_message(admin, bob, after=last)
    assert (
        "    💬 You are so pretty\n    💬 Send me 50 usd for a ticket to come to you" in case.body
    )
    attached = "SELECT count(*) FROM report_messages m JOIN reports r ON r.id = m.report_id " + (
        "WHERE r.reported_id = %s"
    )
    assert people.value(attached, bob.id) == 2
    admin.user.press("✅ Dismiss", message_id=case.message_id)
    admin.user.wait_until(
        lambda chat: any(f"about {bob.id} dismissed" in m.body for m in chat.bot_messages),
        what="the dismissal",
    )
    assert people.value(attached, bob.id) == 0
