"""Telegram answering 500 for a while: the replies wait, then go out once each, in order, and
no update is acknowledged before its replies went (the outbox used to give up after ~6 s
and acknowledge the update anyway)."""

from __future__ import annotations

import time

from actors.outbox import LIMITED_METHODS
from actors.session import COMMANDS, help_text
from domain.onboarding import ONBOARDING_ORDER, Step
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from tests.e2e.story import Newcomer
from tests.support.images import image
from tests.support.services import Services
from tests.support.stack import NodeThread

OUTAGE_SECONDS = 15  # the fault's length, not a wait for an outcome
PEOPLE = 4


def test_replies_go_out_once_in_order_after_telegram_500s(
    own_services: Services, own_server: SandboxServer, own_sandbox: SandboxClient
) -> None:
    with NodeThread(
        own_services.environ(TELEGRAM_API_URL=own_server.url, NODE_ID="telegram-outage")
    ):
        people = [
            Newcomer.create(own_sandbox, ("en", "ru")[number % 2], name="Out " + "abcd"[number])
            for number in range(PEOPLE)
        ]
        for person in people:
            person.reach(Step.NAME)
        # Sends fail, updates still come in: every answer is handled, its replies wait.
        own_sandbox.outage(OUTAGE_SECONDS, methods=LIMITED_METHODS)
        began = time.monotonic()
        for person in people:
            person.send_answer(Step.NAME)
            person.user.send_text("/help")
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - began)))
        age = ONBOARDING_ORDER[ONBOARDING_ORDER.index(Step.NAME) + 1]
        for person in people:
            # The question, then the help: the order the person typed in.
            person.expect(person.question(age), help_text(COMMANDS, person.language))
            person.answer(age)
        for person in people:
            bodies = [message.body for message in person.user.chat.bot_messages]
            assert bodies.count(person.question(age)) == 1, person.user.transcript()


def test_a_photo_sent_while_telegram_fails_is_saved_once_it_answers(
    own_services: Services, own_server: SandboxServer, own_sandbox: SandboxClient
) -> None:
    """A photo whose download meets Telegram's 500s waits for Telegram, and is saved then;
    the person is never asked to send it again (they were, as if the photo were bad)."""
    with NodeThread(
        own_services.environ(TELEGRAM_API_URL=own_server.url, NODE_ID="telegram-photo")
    ):
        anna = Newcomer.create(own_sandbox, "en", name="Anna")
        anna.reach(Step.PHOTOS)
        own_sandbox.outage(OUTAGE_SECONDS / 3, methods=["getFile"])
        anna.user.send_photo(image())
        anna.user.wait_until(
            lambda chat: anna.answers.photo_saved(1) in [m.body for m in chat.bot_messages],
            timeout=60,
            what="her photo saved once Telegram answers",
        )
        bodies = [message.body for message in anna.user.chat.bot_messages]
        assert anna.t("errors.photo_download_failed") not in bodies, anna.user.transcript()
