"""Dead letters are for people: kept with their error and counted, listed, replayed and
purged by a command, and gone with the account of the user they belong to (as are the
user's reply-journal entries)."""

from __future__ import annotations

import subprocess
import sys

import redis
from kombu import Connection, Producer

from domain.onboarding import ONBOARDING_ORDER, Step
from messaging import topology
from messaging.deadletters import DeadLetters
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from storage import state
from tests.e2e.story import Newcomer
from tests.support.services import Services
from tests.support.stack import NodeThread
from tests.support.waiting import eventually

SHARDS = 16


def poison(amqp_url: str, user_id: int, update_id: int) -> None:
    """An update the node cannot read, in the user's shard: a fault of the work itself."""
    with Connection(amqp_url) as conn:
        Producer(conn.channel()).publish(
            b"\xff not json",
            exchange=topology.UPDATES_EXCHANGE,
            routing_key=str(topology.shard_of(user_id, SHARDS)),
            headers={"user_id": user_id, "update_id": update_id},
            delivery_mode=2,
        )


def command(services: Services, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app.deadletters", *args],
        env=services.environ(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def dead_letter_count(node: NodeThread) -> float:
    return sum(
        sample.value
        for metric in node.node.metrics.registry.collect()
        for sample in metric.samples
        if sample.name == "bot_dead_letters_total"
    )


def test_dead_letters_are_listed_replayed_purged_and_deleted_with_the_account(
    own_services: Services, own_server: SandboxServer, own_sandbox: SandboxClient
) -> None:
    amqp = own_services.amqp_url
    letters = DeadLetters(amqp, SHARDS)
    with NodeThread(
        own_services.environ(TELEGRAM_API_URL=own_server.url, NODE_ID="dead-letters")
    ) as node:
        anna = Newcomer.create(own_sandbox, "en", name="Anna")
        bob = Newcomer.create(own_sandbox, "ru", name="Bob")
        anna.start()
        bob.start()
        poison(amqp, anna.id, 900_001)
        poison(amqp, bob.id, 900_002)
        eventually(lambda: len(letters.list()) == 2, timeout=15, what="two dead letters")
        assert dead_letter_count(node) == 2
        [kept] = letters.list(anna.id)
        assert kept.key == "900001" and "undecodable" in kept.error, kept

        listed = command(own_services, "list")
        assert listed.count("undecodable") == 2 and f"user={anna.id}" in listed, listed
        assert "1 dead letters given back" in command(own_services, "replay", "--user", str(bob.id))
        # Still unreadable: back in the dead letters, counted again.
        eventually(lambda: dead_letter_count(node) == 3, timeout=15, what="the replay handled")
        assert len(letters.list()) == 2
        assert "1 dead letters dropped" in command(own_services, "purge", "--user", str(bob.id))
        assert [letter.user_id for letter in letters.list()] == [anna.id]

        # Deleting her account drops her dead letters and what the journal kept of her: a
        # complete entry names nobody (no chat, no replies), one in progress is in her chat's
        # index, and the deletion leaves neither.
        journal = redis.Redis.from_url(own_services.redis_url)
        keys = state.Keys(own_services.redis_namespace)
        index = keys("journal-of", anna.id)

        def entries() -> list[bytes]:
            return list(journal.scan_iter(match=keys("done", "*"), count=1000))

        def naming_her() -> list[bytes]:
            return [key for key in entries() if journal.hget(key, "c") == str(anna.id).encode()]

        before = len(entries())
        for step in ONBOARDING_ORDER[: ONBOARDING_ORDER.index(Step.PHOTOS)]:
            anna.answer(step)
        anna.finish()
        *_, menu = anna.open_profile()
        assert len(entries()) > before + 5  # her answers were journaled
        anna.press("buttons.delete_account", message_id=menu.message_id)
        anna.expect(anna.t("profile.delete_confirm"))
        anna.press("buttons.delete_yes")
        anna.expect(anna.t("profile.deleted"))
        eventually(lambda: letters.list(anna.id) == [], timeout=15, what="her dead letters gone")
        eventually(
            lambda: naming_her() == [] and not journal.exists(index),
            timeout=15,
            what="no journal entry or index naming her",
        )
        journal.close()
