"""A node of several processes (NODE_PROCESSES=2): `python bot.py` as an operator runs it, with
real PostgreSQL, Redis, RabbitMQ, an S3 endpoint and the sandbox. Users are served whichever
process owns their shard; METRICS_PORT answers for both processes; a process killed with
SIGKILL is started again; SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sandbox.client import SandboxClient
from sandbox.flood import DEFAULT_CHAT_RATE, DEFAULT_GLOBAL_RATE
from tests.cluster.harness import Process, sandbox_process
from tests.support.services import TEST_BOT_TOKEN, Services, free_port, fresh_services
from tests.support.waiting import eventually

NODE_ID = "pair"
PROCESSES = {f"{NODE_ID}-1", f"{NODE_ID}-2"}


class Node:
    def __init__(self, process: Process, metrics_port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{metrics_port}"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=10)

    def children(self) -> list[int]:
        """Pids of the node processes the supervisor runs now."""
        found: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            found += [int(pid) for pid in (task / "children").read_text().split()]
        return found


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    with fresh_services() as made:
        yield made


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxClient]:
    """One for the module, as Telegram is: the nodes keep their getUpdates offset in Redis."""
    port = free_port()
    process = sandbox_process(
        port,
        TEST_BOT_TOKEN,
        tmp_path_factory.mktemp("sandbox") / "sandbox.log",
        global_rate=DEFAULT_GLOBAL_RATE,  # Telegram's figures, as every test's sandbox
        chat_rate=DEFAULT_CHAT_RATE,
    )
    with SandboxClient(f"http://127.0.0.1:{port}") as client:
        yield client
    process.terminate()


@contextmanager
def node_of(
    services: Services, sandbox: SandboxClient, logs: Path, **settings: str
) -> Iterator[Node]:
    """`python bot.py` with NODE_PROCESSES=2, killed with its processes at the end if a test
    left it running."""
    metrics_port = free_port()
    env = services.environ(
        TELEGRAM_API_URL=sandbox.url,
        NODE_PROCESSES="2",
        NODE_ID=NODE_ID,
        METRICS_PORT=str(metrics_port),
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        **settings,
    )
    process = Process([sys.executable, "bot.py"], env, "node processes started", logs / "node.log")
    started = Node(process, metrics_port)
    try:
        yield started
    finally:
        if process.alive:
            children = started.children()
            process.kill()
            for pid in children:
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def node(services: Services, sandbox: SandboxClient, tmp_path: Path) -> Iterator[Node]:
    with node_of(services, sandbox, tmp_path) as started:
        yield started


def welcomed(sandbox: SandboxClient, count: int) -> None:
    """count new users say /start and each gets the first onboarding question."""
    users = [
        sandbox.create_user(first_name=f"P{number}", language_code="en") for number in range(count)
    ]
    for user in users:
        user.send_text("/start")
    for user in users:
        eventually(
            # The welcome and the first question: one message.
            lambda: len(user.chat.bot_messages) >= 1,  # noqa: B023 - waited on at once
            what=f"the welcome to {user.id}",
            timeout=20,
        )


def handled_by(node: Node) -> dict[str, float]:
    """Updates handled per process, as the node's one /metrics reports them."""
    response = node.get("/metrics")
    assert response.status_code == 200
    handled: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "bot_updates_handled_total":
                node_id = sample.labels["node_id"]
                handled[node_id] = handled.get(node_id, 0.0) + sample.value
    return handled


def test_both_processes_serve_users_and_answer_on_one_port(
    node: Node, sandbox: SandboxClient
) -> None:
    """Two processes, each a cluster member with half the shards: 16 users are all welcomed,
    both processes handle some of them, and /metrics, /healthz and /readyz on METRICS_PORT
    speak for both (each metric family once, as the format requires)."""
    assert len(node.children()) == 2
    welcomed(sandbox, 16)

    def counted_by_both() -> dict[str, float]:
        found = handled_by(node)
        return found if set(found) == PROCESSES and sum(found.values()) >= 16 else {}

    handled = eventually(counted_by_both, what="updates counted by both processes")
    assert all(count > 0 for count in handled.values())

    text = node.get("/metrics").text
    type_lines = [line for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(type_lines) == len(set(type_lines))
    assert "bot_node_processes_running" in text

    health = node.get("/healthz")
    assert health.status_code == 200 and set(health.json()["processes"]) == PROCESSES
    ready = node.get("/readyz")
    assert ready.status_code == 200
    reports = ready.json()["processes"]
    assert set(reports) == PROCESSES and all(report["ready"] for report in reports.values())


def test_in_webhook_mode_the_processes_share_the_webhook_port(
    services: Services, sandbox: SandboxClient, tmp_path: Path
) -> None:
    """BOT_MODE=webhook: both processes listen on WEBHOOK_PORT (the kernel spreads the
    sandbox's POSTs over them), and every user is welcomed."""
    port = free_port()
    with node_of(
        services,
        sandbox,
        tmp_path,
        BOT_MODE="webhook",
        WEBHOOK_PORT=str(port),
        WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram",
        WEBHOOK_SECRET="processes-secret-of-at-least-32-characters",
        REDIS_NAMESPACE=f"{services.redis_namespace}-webhook",
    ) as node:
        assert len(node.children()) == 2
        welcomed(sandbox, 8)
        assert node.get("/readyz").status_code == 200


def test_a_killed_process_is_started_again(node: Node, sandbox: SandboxClient) -> None:
    """SIGKILL one process: the supervisor starts it again (counted), readiness comes back,
    and new users are served."""
    victim = node.children()[0]
    os.kill(victim, signal.SIGKILL)
    eventually(
        lambda: len(node.children()) == 2 and victim not in node.children(),
        what="a new process in place of the killed one",
        timeout=20,
    )
    eventually(lambda: node.get("/readyz").status_code == 200, what="ready again", timeout=30)
    restarts = [
        sample.value
        for family in text_string_to_metric_families(node.get("/metrics").text)
        for sample in family.samples
        if sample.name == "bot_node_process_restarts_total"
    ]
    assert restarts == [1.0]
    welcomed(sandbox, 4)


def test_sigterm_stops_every_process(node: Node) -> None:
    """SIGTERM to the supervisor stops both processes the way a node stops, then itself,
    with exit status 0."""
    children = node.children()
    assert node.process.terminate(timeout=45) < 45
    assert node.process.child.returncode == 0
    assert all(
        not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        for pid in children
    )
