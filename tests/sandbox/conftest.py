"""Fixtures: one sandbox server per session, a clean state and a real PTB Bot per test (the
helpers they hand out live in tests/sandbox/live.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.client import SandboxClient, VirtualUser
from sandbox.server import SandboxServer
from tests.sandbox.live import TOKEN, LiveBot, Receiver
from tests.support.stack import running_sandbox


@pytest.fixture(scope="session")
def server() -> Iterator[SandboxServer]:
    with running_sandbox(TOKEN) as running:
        yield running


@pytest.fixture
def sandbox(server: SandboxServer) -> Iterator[SandboxClient]:
    client = SandboxClient(server.url)
    client.reset()
    yield client
    client.close()


@pytest.fixture
def tg(
    server: SandboxServer, sandbox: SandboxClient, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveBot]:
    # PTB 22 warns on int time periods (retry_after, durations) unless opted into timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    live = LiveBot(server)
    yield live
    live.close()


@pytest.fixture
def alice(sandbox: SandboxClient, tg: LiveBot) -> VirtualUser:
    """Alice has started the bot; the bot has already taken her /start."""
    user = sandbox.create_user("Alice", username="alice", language_code="ru")
    user.send_text("/start")
    tg.drain()
    return user


@pytest.fixture
def bob(sandbox: SandboxClient, tg: LiveBot) -> VirtualUser:
    user = sandbox.create_user("Bob", language_code="en")
    user.send_text("/start")
    tg.drain()
    return user


@pytest.fixture
def receiver(sandbox: SandboxClient) -> Iterator[Receiver]:
    endpoint = Receiver()
    yield endpoint
    sandbox.reset()  # stops deliveries before the endpoint goes away
    endpoint.close()
