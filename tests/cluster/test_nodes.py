"""Real nodes in this process, sharing fresh services and a sandbox: redelivery, a 429 seen by
every node, the intake moving between nodes, and the webhook route."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

from app.node import Node
from sandbox.client import SandboxClient, VirtualUser
from sandbox.server import SandboxServer
from storage import state
from tests.support.profiles import complete_profile
from tests.support.services import Services, free_port, fresh_services
from tests.support.stack import NodeThread, telegram_flood, telegram_sandbox
from tests.support.waiting import eventually

SHARDS = 16


@pytest.fixture(scope="module")
def cluster_services() -> Iterator[Services]:
    """Services of this module's own: its nodes must not join the e2e tests' node."""
    with fresh_services() as made:
        yield made


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[SandboxServer]:
    with telegram_sandbox() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxClient]:
    client = SandboxClient(sandbox_server.url)
    yield client
    client.set_flood(**telegram_flood().as_dict())  # back to Telegram's figures
    client.reset_flood()
    client.close()


@pytest.fixture
def nodes(
    cluster_services: Services, sandbox_server: SandboxServer
) -> Iterator[Callable[..., NodeThread]]:
    """Start nodes of one cluster (named node-1, node-2 ...); all stopped at the end."""
    running: list[NodeThread] = []

    def start(**overrides: str) -> NodeThread:
        environ = cluster_services.environ(
            TELEGRAM_API_URL=sandbox_server.url,
            NODE_ID=f"node-{len(running) + 1}",
            SHARDS=str(SHARDS),
            **overrides,
        )
        running.append(NodeThread(environ).start())
        return running[-1]

    yield start
    for thread in reversed(running):
        if thread.node.started.is_set() and thread._thread.is_alive():
            thread.stop()


@pytest.fixture
def redis_client(cluster_services: Services) -> Iterator[redis.Redis]:
    client = state.connect(cluster_services.redis_url)
    yield client
    client.close()


def settled(nodes: list[Node]) -> bool:
    owned = [node.coordinator.owned for node in nodes]
    every = sorted(shard for shards in owned for shard in shards)
    return every == list(range(SHARDS)) and max(map(len, owned)) - min(map(len, owned)) <= 1


def user_on(sandbox: SandboxClient, node: Node, name: str) -> VirtualUser:
    """A new user whose shard the node owns."""
    while True:
        user = sandbox.create_user(name, language_code="en")
        if user.id % SHARDS in node.coordinator.owned:
            return user


def start_chat(user: VirtualUser) -> None:
    user.send_text("/start")
    user.wait_until(lambda chat: "What's your name?" in chat.transcript(), what="name question")
    user.mark_read()


class TestRedelivery:
    def test_an_update_given_twice_is_answered_once(
        self, nodes: Callable[..., NodeThread], sandbox: SandboxClient
    ) -> None:
        """Telegram handing the same update out again changes nothing and sends nothing."""
        nodes()
        user = sandbox.create_user("Dora", language_code="en")
        sent = user.send_text("/start")
        user.wait_until(lambda chat: "What's your name?" in chat.transcript(), what="question")
        before = len(user.refresh().bot_messages)
        assert sent.update_id is not None
        sandbox.redeliver(sent.update_id)
        user.send_text("Dora")  # handled after the repeat: the user's updates keep their order
        user.wait_until(lambda chat: "How old are you?" in chat.transcript(), what="age")
        after = user.refresh().bot_messages
        assert len(after) == before + 1, user.chat.transcript()

    def test_replies_a_dead_node_left_unsent_go_out_once(
        self,
        nodes: Callable[..., NodeThread],
        sandbox: SandboxClient,
        cluster_services: Services,
        redis_client: redis.Redis,
    ) -> None:
        """An update whose effects were committed but whose replies were not all sent gets
        just the missing replies when it comes back, and nothing the time after."""
        nodes()
        user = sandbox.create_user("Emil", language_code="en")
        sent = user.send_text("/help")
        user.wait_for_message()
        assert sent.update_id is not None
        key = state.Keys(cluster_services.redis_namespace)("done", sent.update_id)
        eventually(lambda: redis_client.hget(key, "s") == b"1", what="the update complete")
        # As a node leaves it that recorded two replies and died after Telegram took one.
        replies = [
            ["sendMessage", {"chat_id": user.id, "text": "already sent"}],
            ["sendMessage", {"chat_id": user.id, "text": "left unsent"}],
        ]
        redis_client.hdel(key, "s")
        # An entry in progress names its chat; a complete one no longer does (it names nobody).
        redis_client.hset(key, mapping={"r": json.dumps(replies), "n": 1, "c": user.id})
        user.mark_read()
        sandbox.redeliver(sent.update_id)
        assert user.wait_for_message().body == "left unsent"
        sandbox.redeliver(sent.update_id)
        user.send_text("/help")
        follow_up = user.wait_for_message()
        assert "left unsent" not in follow_up.body
        assert user.refresh().transcript().count("left unsent") == 1


class TestSharedLimits:
    def test_a_429_is_honoured_by_every_node(
        self,
        nodes: Callable[..., NodeThread],
        sandbox: SandboxClient,
        cluster_services: Services,
        redis_client: redis.Redis,
    ) -> None:
        """One node is told to retry after 2 s; the other nodes' sends wait too, and no
        call reaches Telegram before the 2 s are over."""
        running = [nodes().node, nodes().node, nodes().node]
        eventually(lambda: settled(running), what="three nodes sharing the shards")
        users = [user_on(sandbox, node, f"User{n}") for n, node in enumerate(running)]
        for user in users:
            start_chat(user)
        sandbox.set_flood(
            enabled=True, global_rate=1000, global_burst=1000, chat_rate=100, chat_burst=100
        )
        sandbox.reset_flood()
        sandbox.force_429(count=1, retry_after=2)
        users[0].send_text("/help")
        eventually(lambda: sandbox.stats().forced_429 == 1, what="the forced 429")
        pause = state.Keys(cluster_services.redis_namespace)("send", "pause")
        eventually(lambda: redis_client.exists(pause), what="the cluster-wide pause")
        told = time.monotonic()
        users[1].send_text("/help")
        users[2].send_text("/help")
        for user in users:
            user.wait_for_message(timeout=10)
        waited = time.monotonic() - told
        stats = sandbox.stats()
        assert waited >= 1.5, waited
        assert stats.early_retry_429 == 0 and stats.total_429 == 1


class TestEvents:
    def test_every_node_hears_that_a_profile_changed(
        self, nodes: Callable[..., NodeThread], sandbox: SandboxClient
    ) -> None:
        """A finished profile edited on one node is announced to both nodes over the topic
        exchange."""
        first, second = nodes().node, nodes().node
        eventually(lambda: settled([first, second]), what="two nodes settling")
        user = user_on(sandbox, first, "Hana")
        complete_profile(
            first.pool, gender="f", seeking="m", city="Eventville", user_id=user.id, name="Hana"
        )
        user.send_text("/profile")
        user.wait_until(
            lambda chat: (
                "✏️ Name" in chat.last_bot_message.button_texts if chat.last_bot_message else False
            ),
            what="the profile's buttons",
        )
        user.press("✏️ Name")
        user.wait_for_message()
        user.send_text("Hanna")
        user.wait_for_message()

        def heard(node: Node) -> float:
            return float(
                node.metrics.events.labels(
                    node.metrics.node_id, "profiles.changed", "received"
                )._value.get()
            )

        eventually(
            lambda: heard(first) >= 1 and heard(second) >= 1,
            what="both nodes hearing of the change",
        )


class TestIntake:
    def test_the_intake_moves_on_when_its_holder_stops(
        self, nodes: Callable[..., NodeThread], sandbox: SandboxClient
    ) -> None:
        """Of two nodes one long-polls; when it stops the other takes over within 10 s and
        handed-over users are answered."""
        first, second = nodes(), nodes()
        eventually(lambda: settled([first.node, second.node]), what="two nodes settling")
        holder, other = (
            (first, second) if first.node.intake and first.node.intake.leader else (second, first)
        )
        assert holder.node.intake is not None and holder.node.intake.leader
        assert other.node.intake is not None and not other.node.intake.leader
        stopped = time.monotonic()
        holder.stop()
        eventually(
            lambda: other.node.intake is not None and other.node.intake.leader,
            what="the other node taking the intake",
            timeout=10,
        )
        assert time.monotonic() - stopped < 10
        eventually(
            lambda: other.node.coordinator.owned == frozenset(range(SHARDS)),
            what="the other node taking every shard",
            timeout=5,
        )
        user = sandbox.create_user("Fay", language_code="en")
        start_chat(user)
        assert sandbox.stats().conflicts_409 == 0


class TestWebhook:
    def test_updates_arrive_by_webhook_and_a_wrong_secret_is_refused(
        self, cluster_services: Services
    ) -> None:
        """Telegram's POSTs reach the node and get answered; a POST without the right secret
        gets 401 and is not handled."""
        port = free_port()
        url = f"http://127.0.0.1:{port}/telegram/hook"
        with telegram_sandbox() as server, SandboxClient(server.url) as sandbox:
            environ = cluster_services.environ(
                TELEGRAM_API_URL=server.url,
                BOT_MODE="webhook",
                WEBHOOK_URL=url,
                WEBHOOK_SECRET="s3cret-token_1-of-at-least-32-characters",
                WEBHOOK_PORT=str(port),
                NODE_ID="hooked",
                REDIS_NAMESPACE=cluster_services.redis_namespace + "-hook",
            )
            with NodeThread(environ):
                assert sandbox.stats().webhook_url == url
                # Another sandbox counts user ids from the start again: pick one of its own.
                user = sandbox.create_user("Gil", language_code="en", user_id=8_100_000_001)
                start_chat(user)
                forged = {
                    "update_id": 999999,
                    "message": {
                        "message_id": 1,
                        "date": 0,
                        "chat": {"id": user.id, "type": "private"},
                        "from": {"id": user.id, "is_bot": False, "first_name": "Gil"},
                        "text": "/help",
                    },
                }
                for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                    refused = httpx.post(url, json=forged, headers=headers)
                    assert refused.status_code == 401
                user.send_text("Gil")
                assert "How old are you?" in user.wait_for_message().body
                assert "/help" not in user.refresh().transcript()
