"""A first person signs up through the bot, end to end."""

from __future__ import annotations

from sandbox.client import SandboxClient
from tests.support.onboarding import Answers, onboard
from tests.support.stack import NodeThread


def test_full_onboarding_in_english(node: NodeThread, sandbox: SandboxClient) -> None:
    """A new English-speaking user answers every step and sees their finished card."""
    user = sandbox.create_user(first_name="Anna", language_code="en")
    onboard(user)
    user.send_text("/profile")
    card = user.wait_for_messages(2)
    assert card[0].photo, card[0].describe()
    assert card[0].body.startswith("Anna, 27, Moscow")


def test_full_onboarding_in_russian(node: NodeThread, sandbox: SandboxClient) -> None:
    """The same walk, driven by the Russian catalog's texts, finishes a Russian user's card."""
    user = sandbox.create_user(first_name="Anna", language_code="ru")
    onboard(user, Answers(language="ru"))
    user.send_text("/profile")
    card = user.wait_for_messages(2)
    assert card[0].photo, card[0].describe()
    assert card[0].body.startswith("Anna, 27, Moscow")
