"""Throw-away real services for one test run: a PostgreSQL database, a Redis namespace, a
RabbitMQ vhost and an S3 endpoint (moto's server on loopback), each created fresh and removed
at the end, so that leftovers never poison the next run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

import psycopg
import redis

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_HOST_URL = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_HOST_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")
S3_ACCESS_KEY = "test-access-key"
S3_SECRET_KEY = "test-secret-key"
SAFETY_SECRET = "test-safety-secret-0123456789abcdef"
TEST_BOT_TOKEN = "123456789:TEST-token-for-the-local-sandbox-0001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_database(prefix: str = "dating_test") -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_HOST_URL}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_namespace(prefix: str = "dating-test") -> Iterator[str]:
    namespace = f"{prefix}-{uuid.uuid4().hex[:12]}"
    try:
        yield namespace
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def _rabbitmqctl(*args: str) -> None:
    command = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run([command, "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def rabbitmq_vhost(prefix: str = "dating-test") -> Iterator[str]:
    vhost = f"{prefix}-{uuid.uuid4().hex[:12]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    try:
        yield f"{AMQP_HOST_URL}/{quote(vhost, safe='')}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@contextmanager
def s3_endpoint(own_process: bool = False) -> Iterator[str]:
    """moto's S3 server on loopback: a thread of this process, or (own_process, for
    benchmarks) a process of its own, so that it does not share this one's CPU."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if own_process:
        child = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_port(port, child)
            yield url
        finally:
            child.terminate()
            child.wait(10)
        return
    # moto pulls in much of botocore; only runs that need an S3 endpoint pay for importing it.
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield url
    finally:
        server.stop()


def _wait_for_port(port: int, child: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if child.poll() is not None:
                raise RuntimeError(f"the S3 server exited with {child.returncode}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"no S3 server on port {port}") from None
            time.sleep(0.05)  # polling the port: there is no readiness signal to wait on


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str
    redis_namespace: str
    amqp_url: str
    s3_endpoint: str

    def environ(self, **overrides: str) -> dict[str, str]:
        """Settings for a node using these services (see config/settings.py)."""
        env = {
            "BOT_TOKEN": TEST_BOT_TOKEN,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "REDIS_NAMESPACE": self.redis_namespace,
            "AMQP_URL": self.amqp_url,
            "S3_ENDPOINT": self.s3_endpoint,
            "S3_ACCESS_KEY": S3_ACCESS_KEY,
            "S3_SECRET_KEY": S3_SECRET_KEY,
            "SAFETY_SECRET": SAFETY_SECRET,
            "S3_BUCKET": "dating-photos-test",
            "METRICS_PORT": "0",
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "json",
        }
        env.update(overrides)
        return env


@contextmanager
def fresh_services(
    extra: Mapping[str, str] | None = None, s3_in_own_process: bool = False
) -> Iterator[Services]:
    with (
        postgres_database() as database_url,
        redis_namespace() as namespace,
        rabbitmq_vhost() as amqp_url,
        s3_endpoint(s3_in_own_process) as s3,
    ):
        yield Services(database_url, REDIS_URL, namespace, amqp_url, s3)
