"""PostgreSQL restarting under a node: every connection of its pool dies at once (the proxy
resets them all and refuses new ones for a while). The pool hands out only live
connections afterwards, and what people did meanwhile is applied once, without an apology."""

from __future__ import annotations

import time
from collections.abc import Callable

from domain.onboarding import ONBOARDING_ORDER, Step
from sandbox.client import Chat, SandboxClient
from sandbox.server import SandboxServer
from tests.e2e.story import Newcomer, profile_row
from tests.support.services import Services
from tests.support.stack import node_behind_proxy

DOWN_SECONDS = 6  # the fault's length, not a wait for an outcome
PEOPLE = 4


def test_the_pool_recovers_from_a_restart(
    own_services: Services, own_server: SandboxServer, own_sandbox: SandboxClient
) -> None:
    with node_behind_proxy(own_services, own_server, "DATABASE_URL", "pg-restart") as (proxy, pool):
        people = Newcomer.several(own_sandbox, PEOPLE, "Pg", Step.AGE)
        # A quick restart: every pooled connection is dead, the server is back at once.
        proxy.cut()
        proxy.heal()
        age_next = ONBOARDING_ORDER[ONBOARDING_ORDER.index(Step.AGE) + 1]
        for person in people:
            person.answer(Step.AGE)
        # A restart that takes a while: answers given meanwhile wait for the server.
        proxy.cut()
        down_at = time.monotonic()
        for person in people:
            person.send_answer(age_next)
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_at)))
        proxy.heal()
        after = ONBOARDING_ORDER[ONBOARDING_ORDER.index(age_next) + 1]
        for person in people:
            # The intake's lease lives in PostgreSQL too: the answers may have waited at
            # Telegram (no notice then) or in the node (a notice first).
            person.user.wait_until(asked(person.question(after)), what="the next question")
            row = profile_row(pool, person.id)
            assert row is not None and row["age"] == person.age and row["gender"], row
        for person in people:
            bodies = [message.body for message in person.user.chat.bot_messages]
            assert person.t("common.internal_error") not in bodies, person.user.transcript()
            assert bodies.count(person.question(after)) == 1, person.user.transcript()


def asked(question: str) -> Callable[[Chat], bool]:
    return lambda chat: question in [message.body for message in chat.bot_messages]
