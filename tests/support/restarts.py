"""Restarting the machine's real PostgreSQL, Redis and RabbitMQ (the fault suite's, and only
inside a run that holds ``flock -x /tmp/services.lock``: every other test shares them).

    with postgres_stopped():      # down until the block ends, then started again
        ...
    redis_restarted(10)           # shut down (its data saved), 10 s later started again
    rabbitmq_restarted()          # stop_app / start_app: durable queues and messages survive

Each starts its service again in a ``finally`` and returns only once it answers, so that a
failing test leaves the machine as it found it. The start commands are the machine's own (the
ones that started these services before the session).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import kombu
import psycopg
import redis

from tests.support.services import AMQP_HOST_URL, POSTGRES_ADMIN_URL, REDIS_URL

ANSWER_TIMEOUT_SECONDS = 120.0
REDIS_DIR = Path("/var/lib/redis")
REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    str(REDIS_DIR),
    "--logfile",
    "/var/log/redis/ci.log",
]


def _run(*command: str, timeout: float = 120.0) -> None:
    subprocess.run(list(command), check=True, capture_output=True, timeout=timeout)


def _cluster_version() -> str:
    versions = sorted(os.listdir("/etc/postgresql"))
    return versions[-1]


def _pg_ctl(action: str) -> None:
    command = shutil.which("pg_ctlcluster") or "/usr/bin/pg_ctlcluster"
    extra = ["-m", "fast"] if action == "stop" else []
    _run(command, "--skip-systemctl-redirect", _cluster_version(), "main", action, *extra)


def _rabbitmqctl(*args: str) -> None:
    _run(shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl", *args)


def wait_until_answers(check: Callable[[], object], what: str) -> float:
    """Poll check() until it stops raising; the seconds that took."""
    began = time.monotonic()
    while True:
        try:
            check()
            return time.monotonic() - began
        except Exception as error:
            if time.monotonic() - began > ANSWER_TIMEOUT_SECONDS:
                raise TimeoutError(
                    f"{what} did not answer within {ANSWER_TIMEOUT_SECONDS} s"
                ) from error
        time.sleep(0.1)  # polling a port: a stopped server sends no signal when it is back


def postgres_answers() -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=2) as conn:
        conn.execute("SELECT 1")


def redis_answers() -> None:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def rabbitmq_answers() -> None:
    with kombu.Connection(AMQP_HOST_URL, connect_timeout=2) as connection:
        connection.ensure_connection(max_retries=1, timeout=2)


@contextmanager
def postgres_stopped() -> Iterator[None]:
    """PostgreSQL shut down (fast: every session ends) for the block, then started again."""
    try:
        _pg_ctl("stop")
        yield
    finally:
        with suppress(subprocess.CalledProcessError):  # already running: nothing to start
            _pg_ctl("start")
        wait_until_answers(postgres_answers, "PostgreSQL")


def redis_restarted(down_seconds: float = 0.0) -> float:
    """Redis shut down and, down_seconds later, started again, keeping its data as a Redis
    with persistence does (this machine's keeps nothing on disk: the dump is made for the
    restart and removed once loaded). The seconds it was down."""
    dumps = set(glob.glob(str(REDIS_DIR / "*.rdb")))
    began = time.monotonic()
    try:
        # The connection ends with the server: redis-cli reports that, not a failure.
        subprocess.run(
            ["redis-cli", "-u", REDIS_URL, "shutdown", "save"],
            check=False,
            capture_output=True,
            timeout=60,
        )
        time.sleep(down_seconds)  # the fault's length, not a wait for an outcome
    finally:
        with suppress(subprocess.CalledProcessError):
            if not _answers(redis_answers):
                _run(*REDIS_START)
        wait_until_answers(redis_answers, "Redis")
        for made in set(glob.glob(str(REDIS_DIR / "*.rdb"))) - dumps:
            Path(made).unlink()
    return time.monotonic() - began


def rabbitmq_restarted() -> float:
    """The broker's application stopped and started (every connection drops; durable queues
    and persistent messages stay). The seconds it was away."""
    began = time.monotonic()
    try:
        _rabbitmqctl("stop_app")
    finally:
        _rabbitmqctl("start_app")
        _rabbitmqctl("await_startup")
        wait_until_answers(rabbitmq_answers, "RabbitMQ")
    return time.monotonic() - began


def _answers(check: Callable[[], object]) -> bool:
    try:
        check()
    except Exception:
        return False
    return True


RABBITMQ_LOG = Path("/var/log/rabbitmq")


@contextmanager
def broker_consumer_timeout(milliseconds: int) -> Iterator[None]:
    """RabbitMQ's consumer_timeout (server-wide on 3.10; channels opened meanwhile take it)
    set for the block, and put back after."""
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    shown = subprocess.run(
        [ctl, "eval", "application:get_env(rabbit, consumer_timeout)."],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    found = re.search(r"\{ok,(\d+)\}", shown)
    before = found.group(1) if found else "1800000"
    _run(ctl, "eval", f"application:set_env(rabbit, consumer_timeout, {milliseconds}).")
    try:
        yield
    finally:
        _run(ctl, "eval", f"application:set_env(rabbit, consumer_timeout, {before}).")


def broker_log_size() -> int:
    """Where the broker's log ends now (to read what it says from here on)."""
    return sum(log.stat().st_size for log in sorted(RABBITMQ_LOG.glob("rabbit@*.log")))


def broker_timeouts_since(size: int) -> int:
    """How many consumers the broker cut off for a delivery unacknowledged past its consumer
    timeout since its log had ``size`` bytes (its lines do not name the vhost: meaningful in
    a run of its own)."""
    text = b"".join(log.read_bytes() for log in sorted(RABBITMQ_LOG.glob("rabbit@*.log")))
    return text[size:].count(b"has timed out waiting for delivery acknowledgement")
