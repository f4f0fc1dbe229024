"""End-to-end fixtures: the Bot API sandbox, a real node talking to it, virtual users."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from storage import db
from tests.e2e.people import People, Person
from tests.e2e.story import no_trouble
from tests.support.images import jpeg
from tests.support.services import Services
from tests.support.stack import NodeThread, running_sandbox


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


@pytest.fixture(scope="session")
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxClient]:
    client = SandboxClient(sandbox_server.url)
    yield client
    client.close()


ADMIN_ID = 777000001  # the session node's only ADMIN_IDS entry


@pytest.fixture(scope="session")
def node_environ(services: Services, sandbox_server: SandboxServer) -> dict[str, str]:
    return services.environ(TELEGRAM_API_URL=sandbox_server.url, ADMIN_IDS=str(ADMIN_ID))


@pytest.fixture(scope="session")
def node(node_environ: dict[str, str]) -> Iterator[NodeThread]:
    with NodeThread(node_environ) as running:
        yield running


@pytest.fixture(scope="session")
def people(sandbox: SandboxClient, sandbox_server: SandboxServer, pool: db.Pool) -> People:
    """Onboarded people made in one call each (tests/e2e/people.py)."""
    return People(sandbox, sandbox_server, pool, jpeg(colour=(90, 140, 200)))


@pytest.fixture(scope="session")
def admin(people: People) -> Person:
    """The moderator: a finished profile whose Telegram id is in ADMIN_IDS (one per session:
    a Telegram id is made once)."""
    return people.join("Moderator", gender="m", seeking="f", user_id=ADMIN_ID)


@pytest.fixture
def steady_node(node: NodeThread) -> Iterator[NodeThread]:
    """The session's node, which must count no error (and make no refused Bot API call)
    while the test runs: bad input gets polite answers, never a crash."""
    with no_trouble(node):
        yield node
