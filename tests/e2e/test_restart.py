"""A node restart in the middle of a conversation: the user carries on where they stopped.

These tests stop and start nodes, so they run against services and a sandbox of their own
(the session's node keeps serving the other tests undisturbed), with a node per test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.onboarding import Step
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from storage import db
from tests.e2e.story import Newcomer, profile_row, trouble
from tests.support.images import image
from tests.support.profiles import unique_city
from tests.support.services import Services, fresh_services
from tests.support.stack import NodeThread, telegram_sandbox


@pytest.fixture(scope="module")
def own_services() -> Iterator[Services]:
    with fresh_services() as made:
        yield made


@pytest.fixture(scope="module")
def own_server() -> Iterator[SandboxServer]:
    server = telegram_sandbox().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def own_sandbox(own_server: SandboxServer) -> Iterator[SandboxClient]:
    client = SandboxClient(own_server.url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def own_pool(own_services: Services) -> Iterator[db.Pool]:
    made = db.create_pool(own_services.database_url, max_size=2, name="restart-tests")
    db.apply_schema(made)
    yield made
    made.close()


@pytest.fixture
def environ(own_services: Services, own_server: SandboxServer) -> dict[str, str]:
    return own_services.environ(TELEGRAM_API_URL=own_server.url, NODE_ID="restart-test")


class Restartable:
    """A node that a test can restart with the same settings, checked for errors each life."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.environ = environ
        self.thread = NodeThread(environ).start()
        self.running = True

    def restart(self) -> None:
        self.stop()
        self.start()

    def start(self) -> None:
        self.thread = NodeThread(self.environ).start()
        self.running = True

    def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        counted = trouble(self.thread)
        self.thread.stop()
        assert counted == {"errors": 0.0, "refused_calls": 0.0}, counted


@pytest.fixture
def node(environ: dict[str, str]) -> Iterator[Restartable]:
    """A node of this test only (function scope), stopped (and checked) at the end."""
    running = Restartable(environ)
    yield running
    running.stop()


def test_onboarding_resumes_after_a_restart(
    node: Restartable, own_sandbox: SandboxClient, own_pool: db.Pool
) -> None:
    """A user half-way through onboarding answers while the node restarts; the new node takes
    the answer for the step they were on and onboarding goes on to the end."""
    anna = Newcomer.create(own_sandbox, "ru")
    anna.reach(Step.SEEKING)

    node.stop()
    anna.send_answer(Step.SEEKING)
    node.start()
    anna.expect(anna.question(Step.AGE_RANGE))
    anna.answer(Step.AGE_RANGE)
    row = profile_row(own_pool, anna.id)
    assert row is not None and (row["seeking"], row["onboarding_step"]) == ("m", "location")

    node.restart()
    anna.user.send_text("/start")
    anna.expect(anna.with_question("onboarding.resume", Step.LOCATION))
    city = unique_city()
    anna.answer(Step.LOCATION, city=city)
    anna.answer(Step.ABOUT)
    anna.answer(Step.INTERESTS)

    node.restart()
    anna.user.send_photo(image())
    anna.expect(anna.t("onboarding.photo_saved", count=1, limit=3))
    anna.press("buttons.done")
    anna.expect(f"Anna, 27, {city}", anna.done_menu())


def test_an_edit_survives_a_restart(
    node: Restartable, own_sandbox: SandboxClient, own_pool: db.Pool
) -> None:
    """A user who pressed Edit before the restart has their next message taken as the new
    value by the new node."""
    anna = Newcomer.create(own_sandbox, "en")
    city = unique_city()
    anna.onboard(city=city)
    anna.press("buttons.edit_name")
    anna.expect(anna.with_question("profile.ask_new_value", Step.NAME))

    node.restart()
    anna.user.send_text("Annette")
    anna.expect(anna.t("common.saved"), f"Annette, 27, {city}", anna.t("profile.menu"))
    row = profile_row(own_pool, anna.id)
    assert row is not None and row["name"] == "Annette"


def test_a_cancelled_onboarding_stays_cancelled_after_a_restart(
    node: Restartable, own_sandbox: SandboxClient, own_pool: db.Pool
) -> None:
    """/cancel before a restart still holds after it, until /start resumes."""
    anna = Newcomer.create(own_sandbox, "en")
    anna.reach(Step.NAME)
    anna.user.send_text("/cancel")
    anna.expect(anna.t("onboarding.cancelled"))

    node.restart()
    anna.user.send_text("Anna")
    anna.expect(anna.t("onboarding.cancelled"))
    anna.user.send_text("/start")
    anna.expect(anna.with_question("onboarding.resume", Step.NAME))
    anna.answer(Step.NAME)
    row = profile_row(own_pool, anna.id)
    assert row is not None and (row["name"], row["onboarding_step"]) == ("Anna", "age")
