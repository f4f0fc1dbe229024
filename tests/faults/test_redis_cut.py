"""Redis cut off for 10 s while people onboard: each action waits and is applied once, the
person is told once that it takes longer, and nobody is asked to type it again."""

from __future__ import annotations

import time

from domain.onboarding import ONBOARDING_ORDER, Step
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from storage import db
from tests.e2e.story import Newcomer, profile_row
from tests.support.services import Services
from tests.support.stack import node_behind_proxy

OUTAGE_SECONDS = 10  # the fault's length, not a wait for an outcome
PEOPLE = 6


def test_redis_cut_during_onboarding_loses_nothing(
    own_services: Services, own_server: SandboxServer, own_sandbox: SandboxClient
) -> None:
    with node_behind_proxy(own_services, own_server, "REDIS_URL", "redis-cut") as (proxy, pool):
        people = Newcomer.several(own_sandbox, PEOPLE, "Cut", Step.AGE)
        proxy.cut()
        cut_at = time.monotonic()
        for person in people:
            person.send_answer(Step.AGE)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
        proxy.heal()
        following = ONBOARDING_ORDER[ONBOARDING_ORDER.index(Step.AGE) + 1]
        for person in people:
            person.expect(person.t("common.taking_longer"), person.question(following))
            # Asked once (before the press below turns that message into the next question).
            bodies = [message.body for message in person.user.chat.bot_messages]
            assert bodies.count(person.question(following)) == 1, person.user.transcript()
            # The next step works as usual, and the age was saved once, as typed.
            person.answer(following)
            check_saved(pool, person)
        for person in people:
            bodies = [message.body for message in person.user.chat.bot_messages]
            assert person.t("common.internal_error") not in bodies, person.user.transcript()
            assert bodies.count(person.t("common.taking_longer")) == 1


def check_saved(pool: db.Pool, person: Newcomer) -> None:
    row = profile_row(pool, person.id)
    assert row is not None and row["age"] == person.age, row
