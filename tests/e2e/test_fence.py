"""The per-user fence (storage.fence), end to end: an update whose effects committed but whose
replies never reached the reply journal — its node died between the two, or Redis lost the
journal — is not handled again when it comes back: its effects stay single and the replies it
was given at the time are the ones sent, not replies rendered anew from the changed state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from config.i18n import t
from sandbox.client import SandboxClient, VirtualUser
from storage import db, state
from tests.e2e.people import People, Person, browse
from tests.e2e.test_discovery import couple
from tests.support.services import Services
from tests.support.stack import NodeThread
from tests.support.waiting import eventually


@pytest.fixture
def redis_client(services: Services) -> Iterator[redis.Redis]:
    client = state.connect(services.redis_url)
    yield client
    client.close()


def journal_key(services: Services, update_id: int) -> str:
    return state.Keys(services.redis_namespace)("done", update_id)


def as_left(client: redis.Redis, key: str, left: str) -> None:
    """The journal entry of a finished update as the window leaves it: "claimed" — its node
    died after the commit, before recording the replies (only its claim is there); "lost" —
    Redis restarted empty (no entry at all)."""
    eventually(lambda: client.hget(key, "s") == b"1", what="the update complete")
    client.delete(key)
    if left == "claimed":
        client.hset(key, "p", "node-that-died")


def started(sandbox: SandboxClient, name: str) -> VirtualUser:
    user = sandbox.create_user(name, language_code="en")
    user.send_text("/start")
    user.wait_until(lambda chat: t("en", "onboarding.ask_name") in chat.transcript(), what="name")
    user.mark_read()
    return user


@pytest.mark.parametrize("left", ["claimed", "lost"])
def test_an_onboarding_answer_given_again_gets_the_reply_it_got(
    node: NodeThread,
    sandbox: SandboxClient,
    services: Services,
    pool: db.Pool,
    redis_client: redis.Redis,
    left: str,
) -> None:
    """Her name, handled and committed, comes back with no journal record: she is asked her
    age as she was then — the name is not read again as the answer to the age question
    (before the fence: "please send your age as a number"-like refusal) — and the name is
    saved once."""
    user = started(sandbox, "Fenna")
    sent = user.send_text("Fenna")
    first = user.wait_for_message()
    assert t("en", "onboarding.ask_age") in first.body
    assert sent.update_id is not None
    as_left(redis_client, journal_key(services, sent.update_id), left)
    user.mark_read()
    sandbox.redeliver(sent.update_id)
    again = user.wait_for_message()
    assert again.body == first.body, user.chat.transcript()
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT u.onboarding_step, p.name FROM users u JOIN profiles p ON p.user_id = u.id"
            " WHERE u.id = %s",
            (user.id,),
        ).fetchone()
    assert row is not None and row["name"] == "Fenna" and row["onboarding_step"] == "age"
    user.send_text("29")  # she goes on from where she is
    assert t("en", "onboarding.ask_age") not in user.wait_for_message().body


def fenced_repeats(node: NodeThread) -> float:
    metrics = node.node.metrics
    return float(metrics.fenced_repeats.labels(metrics.node_id)._value.get())


def test_a_like_given_again_does_nothing_again(
    people: People, node: NodeThread, services: Services, redis_client: redis.Redis
) -> None:
    """His ❤️, committed with its like notice to her, comes back with no journal record: it
    is found fenced (nothing handled again), one like, and her notice once."""
    she, he = couple(people, "Wilma", "Walter")
    card = browse(he.user)
    assert card is not None
    he.user.mark_read()
    sent = he.user.press("❤️", message_id=card.message_id)
    assert he.user.wait_for_answer().text == t("en", "browse.liked")
    she.user.wait_until(lambda chat: notices(she) == 1, what="her like notice")
    assert sent.update_id is not None
    key = journal_key(services, sent.update_id)
    as_left(redis_client, key, "claimed")
    repeats = fenced_repeats(node)
    people.sandbox.redeliver(sent.update_id)
    eventually(lambda: redis_client.hget(key, "s") == b"1", what="the repeat finished")
    assert fenced_repeats(node) == repeats + 1
    liked = people.value(
        "SELECT count(*) FROM interactions WHERE actor_id = %s AND target_id = %s"
        " AND kind = 'like'",
        he.id,
        she.id,
    )
    assert liked == 1
    she.user.send_text("/help")  # handled after any notice still on its way to her
    she.user.wait_for_message()
    assert notices(she) == 1, she.user.chat.transcript()


def notices(person: Person) -> int:
    text = t("en", "notices.one_like")
    return sum(text in m.body for m in person.user.refresh().bot_messages)
