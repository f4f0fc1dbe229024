"""The stack a test runs against: a database pool with the schema applied, the Bot API
sandbox, and a real node inside the test process, on its own thread and event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from app.node import Node
from config.settings import load_settings
from sandbox.flood import FloodConfig
from sandbox.server import SandboxServer
from storage import db
from tests.support.faultproxy import FaultProxy, proxied, proxy_for
from tests.support.services import TEST_BOT_TOKEN, Services

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0
# Each service a node can be cut off from: the setting naming it, and its default port.
_DEFAULT_PORTS = {"DATABASE_URL": 5432, "REDIS_URL": 6379, "S3_ENDPOINT": 80}


@contextmanager
def schema_pool(database_url: str, name: str, max_size: int = 4) -> Iterator[db.Pool]:
    """A pool on the database, with schema.sql applied."""
    made = db.create_pool(database_url, max_size=max_size, name=name)
    db.apply_schema(made)
    try:
        yield made
    finally:
        made.close()


def telegram_flood() -> FloodConfig:
    """The flood control every test's sandbox runs with: Telegram's figures (30 messages a
    second for the bot, 1 a second in a chat after a burst of 3), so that no test passes only
    because the sandbox lets everything through."""
    return FloodConfig(enabled=True)


def telegram_sandbox(token: str = TEST_BOT_TOKEN) -> SandboxServer:
    """A Bot API sandbox for a test (not started), knowing the bot's token, flood control on."""
    return SandboxServer(tokens=[token], flood=telegram_flood())


@contextmanager
def running_sandbox(token: str = TEST_BOT_TOKEN) -> Iterator[SandboxServer]:
    """The Bot API sandbox on a free port, knowing the bot's token, flood control on."""
    server = telegram_sandbox(token).start()
    try:
        yield server
    finally:
        server.stop()


class NodeThread:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.node = Node(load_settings(environ))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="test-node", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(self.node.run())
        except BaseException as error:
            self._error = error
            self.node.started.set()

    def start(self) -> NodeThread:
        self._thread.start()
        if not self.node.started.wait(START_TIMEOUT_SECONDS):
            raise TimeoutError("node did not start")
        if self._error is not None:
            raise RuntimeError("node failed to start") from self._error
        return self

    def stop(self) -> None:
        self.node.request_stop()
        self._thread.join(STOP_TIMEOUT_SECONDS)
        if self._thread.is_alive():
            raise TimeoutError("node did not stop")
        if self._error is not None:
            raise RuntimeError("node failed") from self._error

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.node.metrics_port}"

    def __enter__(self) -> NodeThread:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


@contextmanager
def node_behind_proxy(
    services: Services, server: SandboxServer, setting: str, node_id: str, **settings: str
) -> Iterator[tuple[FaultProxy, db.Pool]]:
    """A node whose connection to one service (``setting``: DATABASE_URL, REDIS_URL or
    S3_ENDPOINT) runs through a fault proxy, and a pool of the test's own on the database."""
    url = {
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "S3_ENDPOINT": services.s3_endpoint,
    }[setting]
    with (
        proxy_for(url, _DEFAULT_PORTS[setting]) as proxy,
        schema_pool(services.database_url, node_id) as pool,
        NodeThread(
            services.environ(
                TELEGRAM_API_URL=server.url,
                NODE_ID=node_id,
                **{setting: proxied(url, proxy)},
                **settings,
            )
        ),
    ):
        yield proxy, pool
