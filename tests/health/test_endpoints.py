"""/healthz, /readyz and /metrics of a running node: what they say when all is well, that the
counters move with traffic, and that readiness names a dependency that went away."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from devtools.demo import MotoS3
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from storage import db
from tests.e2e.people import People, browse
from tests.support.endpoints import get, readiness, samples, total
from tests.support.images import jpeg
from tests.support.profiles import unique_city
from tests.support.services import (
    Services,
    free_port,
    postgres_database,
    rabbitmq_vhost,
)
from tests.support.stack import NodeThread, telegram_sandbox
from tests.support.waiting import eventually

DEPENDENCIES = {"postgresql", "redis", "rabbitmq", "s3", "actors"}
ACTOR_KINDS = {"session", "profile", "matcher", "chat_relay"}


class TestHealthy:
    def test_healthz_says_alive(self, health_node: NodeThread) -> None:
        """/healthz answers 200 with the node's id while its loop runs."""
        response = get(f"{health_node.metrics_url}/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "alive", "node_id": health_node.node.settings.node_id}

    def test_readyz_checks_every_dependency(self, health_node: NodeThread) -> None:
        """/readyz answers 200 when every dependency and the actors are fine, naming each."""
        status, body = readiness(health_node)
        assert status == 200, body
        assert body["ready"] is True
        assert set(body["checks"]) >= DEPENDENCIES, body
        assert set(body["checks"].values()) == {"ok"}, body


class TestMetrics:
    def test_counters_move_with_traffic(
        self, health_node: NodeThread, sandbox_client: SandboxClient
    ) -> None:
        """An update handled moves the updates, Bot API calls and handler latency series."""
        url = health_node.metrics_url
        before = {
            name: total(url, name)
            for name in (
                "bot_updates_handled_total",
                "bot_api_calls_total",
                "bot_handler_seconds_count",
            )
        }
        user = sandbox_client.create_user("Metrics")
        user.send_text("/start")
        user.wait_until(lambda chat: "What's your name?" in chat.transcript(), what="question")
        eventually(
            lambda: total(url, "bot_handler_seconds_count") > before["bot_handler_seconds_count"],
            "the handler latency observed",
        )
        after = {name: total(url, name) for name in before}
        assert after["bot_updates_handled_total"] == before["bot_updates_handled_total"] + 1
        assert total(url, "bot_updates_handled_total", kind="command") >= 1
        # The reply: the welcome and the first question, one message.
        assert after["bot_api_calls_total"] >= before["bot_api_calls_total"] + 1
        assert total(url, "bot_api_calls_total", method="sendMessage", outcome="ok") >= 1
        assert after["bot_handler_seconds_count"] == before["bot_handler_seconds_count"] + 1
        assert total(url, "bot_handler_seconds_sum") > 0

    def test_every_series_is_labelled_with_the_node(self, health_node: NodeThread) -> None:
        """Each bot_* sample carries node_id, so the replicas' series never merge."""
        node_id = health_node.node.settings.node_id
        ours = [
            (name, labels)
            for name, labels, _ in samples(health_node.metrics_url)
            if name.startswith("bot_")
        ]
        assert ours
        assert all(labels.get("node_id") == node_id for _, labels in ours), ours

    def test_gauges_are_sampled(
        self, health_node: NodeThread, sandbox_client: SandboxClient
    ) -> None:
        """The mailbox gauge has a series per actor kind and bot_active_users counts a user who
        just wrote, a sample or two later."""
        url = health_node.metrics_url
        user = sandbox_client.create_user("Gauges")
        user.send_text("/start")
        user.wait_for_messages(1)
        eventually(lambda: total(url, "bot_active_users") >= 1, "an active user counted")
        kinds = {
            labels["actor"] for name, labels, _ in samples(url) if name == "bot_actor_mailbox_size"
        }
        assert kinds >= ACTOR_KINDS
        assert total(url, "bot_actor_mailbox_size") >= 0

    def test_a_match_is_counted(
        self,
        health_node: NodeThread,
        sandbox_client: SandboxClient,
        own_sandbox: SandboxServer,
        own_pool: db.Pool,
    ) -> None:
        """Two people liking each other move bot_matches_total by one."""
        url = health_node.metrics_url
        before = total(url, "bot_matches_total")
        people = People(sandbox_client, own_sandbox, own_pool, jpeg(colour=(10, 160, 90)))
        city = unique_city()
        anna = people.join("Anna", gender="f", seeking="m", city=city)
        boris = people.join("Boris", gender="m", seeking="f", city=city)
        card = browse(anna.user)
        assert card is not None
        anna.user.press("❤️", message_id=card.message_id)
        card = browse(boris.user)
        assert card is not None
        boris.user.press("❤️", message_id=card.message_id)
        boris.user.wait_until(lambda chat: "It's a match" in chat.transcript(), what="match")
        assert eventually(lambda: total(url, "bot_matches_total") == before + 1, "match counted")


# -- outages ------------------------------------------------------------------------------------


@dataclass
class Fragile:
    """A node whose Redis and S3 server belong to the test, which may stop them."""

    node: NodeThread
    redis: subprocess.Popen[bytes]
    s3: MotoS3
    s3_stopped: bool = False

    def stop_s3(self) -> None:
        self.s3.stop()
        self.s3_stopped = True

    def stop_redis(self) -> None:
        self.redis.terminate()
        self.redis.wait(10)


@contextmanager
def redis_server() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A redis-server of its own on a free port, and its URL."""
    command = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    process = subprocess.Popen(
        [command, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    try:
        eventually(lambda: _answers(client), "the test's redis-server answering")
        yield process, f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        if process.poll() is None:
            process.terminate()
        process.wait(10)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def fragile(own_services: Services) -> Iterator[Fragile]:
    """A node with a Redis and an S3 server of its own, and its own database, vhost and
    sandbox (so that nothing it breaks touches the other tests)."""
    s3 = MotoS3(free_port()).start()
    made: Fragile | None = None
    try:
        with (
            redis_server() as (redis_process, redis_url),
            postgres_database("dating_health") as database_url,
            rabbitmq_vhost("dating-health") as amqp_url,
            telegram_sandbox() as server,
        ):
            environ = own_services.environ(
                TELEGRAM_API_URL=server.url,
                REDIS_URL=redis_url,
                S3_ENDPOINT=s3.endpoint,
                DATABASE_URL=database_url,
                AMQP_URL=amqp_url,
            )
            with NodeThread(environ) as running:
                made = Fragile(running, redis_process, s3)
                yield made
    finally:
        if made is None or not made.s3_stopped:
            s3.stop()


class TestOutages:
    def test_readyz_names_a_dependency_that_went_away(self, fragile: Fragile) -> None:
        """With S3 and then Redis gone, /readyz answers 503 and names each failed check, the
        others still ok, while /healthz stays 200."""
        node = fragile.node
        assert readiness(node)[0] == 200
        fragile.stop_s3()
        status, body = eventually(lambda: _not_ready(node, "s3"), "s3 reported down")
        assert status == 503 and body["ready"] is False
        assert _failed(body) == {"s3"}
        fragile.stop_redis()
        status, body = eventually(lambda: _not_ready(node, "redis"), "redis reported down")
        assert status == 503
        assert _failed(body) == {"s3", "redis"}
        assert body["checks"]["redis"] in ("error: ConnectionError", "timeout")
        assert "127.0.0.1" not in str(body) and "localhost" not in str(body)
        assert get(f"{node.metrics_url}/healthz").status_code == 200


def _failed(body: dict[str, Any]) -> set[str]:
    return {name for name, result in body["checks"].items() if result != "ok"}


def _not_ready(node: NodeThread, check: str) -> tuple[int, dict[str, Any]] | None:
    status, body = readiness(node)
    return (status, body) if body["checks"].get(check) != "ok" else None
