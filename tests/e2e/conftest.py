"""End-to-end fixtures: the Bot API sandbox, a real node talking to it, virtual users."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

from sandbox.client import SandboxClient, VirtualUser
from sandbox.server import SandboxServer
from storage import db
from tests.e2e.people import People
from tests.e2e.story import no_trouble
from tests.nodes import NodeThread
from tests.services import TEST_BOT_TOKEN, Services


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(tokens=[TEST_BOT_TOKEN]).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxClient]:
    client = SandboxClient(sandbox_server.url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def node_environ(services: Services, sandbox_server: SandboxServer) -> dict[str, str]:
    return services.environ(TELEGRAM_API_URL=sandbox_server.url, ADMIN_IDS="777000001")


@pytest.fixture(scope="session")
def node(node_environ: dict[str, str]) -> Iterator[NodeThread]:
    with NodeThread(node_environ) as running:
        yield running


@pytest.fixture(scope="session")
def people(sandbox: SandboxClient, sandbox_server: SandboxServer, pool: db.Pool) -> People:
    """Onboarded people made in one call each (tests/e2e/people.py)."""
    return People(sandbox, sandbox_server, pool, jpeg(colour=(90, 140, 200)))


@pytest.fixture
def steady_node(node: NodeThread) -> Iterator[NodeThread]:
    """The session's node, which must count no error (and make no refused Bot API call)
    while the test runs: bad input gets polite answers, never a crash."""
    with no_trouble(node):
        yield node


def jpeg(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 80, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def onboard(
    user: VirtualUser,
    *,
    name: str = "Anna",
    age: str = "27",
    gender: str = "woman",
    seeking: str = "men",
    city: str = "Moscow",
    photos: int = 1,
) -> None:
    """Drive a user through the whole onboarding with valid answers (English labels)."""
    labels = {
        "woman": "I'm a woman",
        "man": "I'm a man",
        "men": "Men",
        "women": "Women",
        "anyone": "Anyone",
    }
    user.send_text("/start")
    user.wait_until(lambda chat: "What's your name?" in chat.transcript(), what="name question")
    user.mark_read()
    user.send_text(name)
    user.wait_for_message()
    user.send_text(age)
    user.wait_for_message()
    user.press(labels[gender])
    user.wait_for_message()
    user.press(labels[seeking])
    user.wait_for_message()
    user.press_inline(
        next(
            text
            for text in user.last_message().button_texts  # type: ignore[union-attr]
            if text.startswith("Keep")
        )
    )
    user.wait_for_message()
    user.send_text(city)
    user.wait_for_messages(2)
    user.press("Skip")
    user.wait_for_message()
    user.press("Done ✅")
    user.wait_for_message()
    for index in range(photos):
        user.send_photo(jpeg(colour=(40 * index, 90, 90)))
        if index < 2:
            user.wait_for_message()
    if photos < 3:
        user.press("Done ✅")
    # The card and its menu follow "ready"; reading on before the menu came would race them.
    user.wait_until(
        lambda chat: (
            "Your profile is ready" in chat.transcript()
            and chat.last_bot_message is not None
            and chat.last_bot_message.body.startswith("Edit your profile")
        ),
        what="done",
    )
    user.mark_read()
