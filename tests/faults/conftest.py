"""Fixtures of the fault tests: services, a sandbox and nodes of their own (a fault must not
reach the session's node), and a fault proxy in front of whichever service a test breaks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from tests.support.services import Services, fresh_services
from tests.support.stack import running_sandbox


@pytest.fixture(scope="module")
def own_services() -> Iterator[Services]:
    with fresh_services() as made:
        yield made


@pytest.fixture(scope="module")
def own_server() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


@pytest.fixture(scope="module")
def own_sandbox(own_server: SandboxServer) -> Iterator[SandboxClient]:
    client = SandboxClient(own_server.url)
    yield client
    client.close()
