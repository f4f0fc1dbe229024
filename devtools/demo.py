"""The demo: `python bot.py --sandbox` (what `scripts/demo` runs) — the bot without a token.

On this machine it starts everything a node needs and a Telegram stand-in to talk to:

- PostgreSQL, Redis and RabbitMQ are the local ones (scripts/bootstrap starts them); the demo
  keeps to a database (`dating_demo`), a Redis namespace (`dating-demo`) and a RabbitMQ vhost
  (`dating-demo`) of its own, and empties them at every start: the sandbox keeps its users and
  files in memory, so data of an earlier run would point at people and photos that are gone.
  Without `rabbitmqctl` (the vhost cannot be made) the node uses kombu's `memory://`.
- S3: moto's ThreadedMotoServer in this process (no MinIO can run here); docker compose uses a
  real MinIO. If the S3 port is taken, the demo stops and says so.
- The Bot API sandbox (sandbox/) on `--port`, with the web page (sandbox/page.py) at `/`.
- One node (app/node.py), pointed at the sandbox, with its /metrics, /healthz and /readyz.

A virtual user "Admin (moderator)" is made first and is the node's only ADMIN_IDS entry, so the
page can try /stats and /reports. `--seed N` adds N generated profiles (devtools/seed.py) before
the node starts; `python -m scripts.seed` adds more while the demo runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

import psycopg
import redis

from app.node import Node
from config.settings import Settings, load_settings
from observability.logs import configure_logging
from sandbox.client import SandboxClient
from sandbox.flood import FloodConfig
from sandbox.page import add_page
from sandbox.server import DEFAULT_TOKEN, SandboxServer
from storage import db
from storage.accounts import Accounts

POSTGRES_SERVER_URL = "postgresql://postgres@127.0.0.1:5432"
DEMO_DATABASE = "dating_demo"
REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_NAMESPACE = "dating-demo"
AMQP_SERVER_URL = "amqp://guest:guest@127.0.0.1:5672"
AMQP_VHOST = "dating-demo"
S3_BUCKET = "dating-demo-photos"
S3_ACCESS_KEY = "demo-access-key"
# The demo's own, never a deployment's: config/settings.py refuses nothing shorter than 32.
SAFETY_SECRET = "demo-safety-secret-0123456789abcdef"
S3_SECRET_KEY = "demo-secret-key"  # moto accepts any key; MinIO under compose has real ones
DEFAULT_PAGE_PORT = 8080
DEFAULT_S3_PORT = 9000
DEFAULT_METRICS_PORT = 9100
ADMIN_FIRST_NAME = "Admin"
ADMIN_LAST_NAME = "(moderator)"
RABBITMQCTL_TIMEOUT_SECONDS = 60


class DemoError(RuntimeError):
    """The demo cannot start; the message says why and what to do."""


def parse_args(argv: list[str] | None = None, prog: str | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="The dating bot without a token: a local Bot API sandbox with "
        "a web page to try it as several users, and a node talking to it.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PAGE_PORT,
        help="port of the sandbox and its page (default %(default)s)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to serve the page on (default %(default)s)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="generate N profiles at start (default %(default)s)",
    )
    parser.add_argument(
        "--s3-port",
        type=int,
        default=DEFAULT_S3_PORT,
        help="port of the in-process S3 server (default %(default)s)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=DEFAULT_METRICS_PORT,
        help="port of the node's /metrics, /healthz, /readyz (default %(default)s)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")
    )
    return parser.parse_args(argv)


def demo_environ(
    page_port: int,
    *,
    s3_port: int = DEFAULT_S3_PORT,
    metrics_port: int = DEFAULT_METRICS_PORT,
    amqp_url: str = "memory://",
    admin_ids: Iterable[int] = (),
    log_level: str = "INFO",
) -> dict[str, str]:
    """The node settings (config/settings.py) of the demo."""
    return {
        "BOT_TOKEN": DEFAULT_TOKEN,
        "TELEGRAM_API_URL": f"http://127.0.0.1:{page_port}",
        "DATABASE_URL": f"{POSTGRES_SERVER_URL}/{DEMO_DATABASE}",
        "REDIS_URL": REDIS_URL,
        "REDIS_NAMESPACE": REDIS_NAMESPACE,
        "AMQP_URL": amqp_url,
        "S3_ENDPOINT": f"http://127.0.0.1:{s3_port}",
        "S3_ACCESS_KEY": S3_ACCESS_KEY,
        "S3_SECRET_KEY": S3_SECRET_KEY,
        "SAFETY_SECRET": SAFETY_SECRET,
        "S3_BUCKET": S3_BUCKET,
        "NODE_ID": "demo",
        "LOG_LEVEL": log_level,
        "METRICS_PORT": str(metrics_port),
        "ADMIN_IDS": ",".join(str(user_id) for user_id in admin_ids),
        # The sandbox has no flood limits; Telegram's 1 message/s per chat would make the
        # page feel slow when the bot answers with a card and a menu at once.
        "SEND_RATE_PER_CHAT": "5",
    }


# -- the services, made empty -----------------------------------------------------------------


def reset_database() -> None:
    """Create the demo's database, or empty it by making it anew."""
    with psycopg.connect(f"{POSTGRES_SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DEMO_DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DEMO_DATABASE}"')


def reset_redis() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{REDIS_NAMESPACE}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def reset_vhost() -> str:
    """A fresh RabbitMQ vhost for the demo, as an AMQP URL; memory:// without rabbitmqctl."""
    command = shutil.which("rabbitmqctl") or (
        "/usr/sbin/rabbitmqctl" if os.path.exists("/usr/sbin/rabbitmqctl") else None
    )
    if command is None:
        return "memory://"

    def run(*args: str, check: bool = True) -> None:
        subprocess.run(
            [command, "-q", *args],
            check=check,
            capture_output=True,
            timeout=RABBITMQCTL_TIMEOUT_SECONDS,
        )

    try:
        run("delete_vhost", AMQP_VHOST, check=False)
        run("add_vhost", AMQP_VHOST)
        run("set_permissions", "-p", AMQP_VHOST, "guest", ".*", ".*", ".*")
    except (OSError, subprocess.SubprocessError):
        return "memory://"
    return f"{AMQP_SERVER_URL}/{quote(AMQP_VHOST, safe='')}"


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class MotoS3:
    """moto's S3 server on a thread of this process."""

    def __init__(self, port: int) -> None:
        if not _port_free("127.0.0.1", port):
            raise DemoError(
                f"port {port} is taken, so the demo cannot run its S3 server "
                "there: stop what runs on it or pass --s3-port"
            )
        # moto is a development dependency: only the demo and the tests import it.
        from moto.server import ThreadedMotoServer  # noqa: PLC0415

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request lines
        self.endpoint = f"http://127.0.0.1:{port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self) -> MotoS3:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


def start_sandbox(host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """The Bot API sandbox with the web page, on a thread of its own."""
    if port and not _port_free(host, port):
        raise DemoError(f"port {port} is taken (is a demo already running?): pass --port")
    # Telegram's flood limits on, as a person meets them: replies paced as they would be.
    return SandboxServer(
        host, port, tokens=[DEFAULT_TOKEN], setup=add_page, flood=FloodConfig(enabled=True)
    ).start()


def create_admin(sandbox_url: str) -> int:
    """The demo's moderator, a virtual user the bot may write to; its user id."""
    with SandboxClient(sandbox_url) as client:
        user = client.create_user(ADMIN_FIRST_NAME, last_name=ADMIN_LAST_NAME, started=True)
    return user.id


def register(settings: Settings, user_id: int) -> None:
    """An account for a user (onboarding not begun), so their first command is answered as
    a command rather than starting onboarding."""
    pool = db.create_pool(settings.database_url, min_size=1, max_size=1, name="demo")
    try:
        db.apply_schema(pool)
        Accounts(pool).register(user_id, user_id, "en", None)
    finally:
        pool.close()


# -- running ----------------------------------------------------------------------------------


async def serve(settings: Settings, announce: Callable[[Node], None]) -> None:
    """Run a node until SIGINT/SIGTERM; ``announce`` is called once it has started."""
    node = Node(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await node.start()
        announce(node)
        await stop.wait()
    finally:
        await node.stop()


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Run the demo until Ctrl+C; the process's exit status."""
    return run(parse_args(argv, prog))


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, "demo")
    closers: list[Callable[[], Any]] = []
    try:
        server = start_sandbox(args.host, args.port)
        closers.append(server.stop)
        s3 = MotoS3(args.s3_port).start()
        closers.append(s3.stop)
        reset_database()
        reset_redis()
        amqp_url = reset_vhost()
        admin_id = create_admin(server.url)
        settings = load_settings(
            demo_environ(
                server.port,
                s3_port=args.s3_port,
                metrics_port=args.metrics_port,
                amqp_url=amqp_url,
                admin_ids=[admin_id],
                log_level=args.log_level,
            )
        )
        register(settings, admin_id)
        seeded = ""
        if args.seed > 0:
            from devtools.seed import seed_profiles, summary  # noqa: PLC0415 - Pillow work

            seeded = summary(seed_profiles(settings, args.seed))
        broker = f"RabbitMQ, vhost {AMQP_VHOST}" if amqp_url != "memory://" else amqp_url
        page = (
            f"http://{args.host if args.host not in ('0.0.0.0', '') else '127.0.0.1'}"
            f":{server.port}/"
        )

        def announce(node: Node) -> None:
            metrics = f"http://127.0.0.1:{node.metrics_port}"
            lines = [
                "",
                "Dating bot demo is running.",
                f"  Page:    {page}",
                f"  Node:    {metrics}/metrics  {metrics}/readyz",
                f'  Admin:   open "{ADMIN_FIRST_NAME} {ADMIN_LAST_NAME}" on the page for '
                "/stats and /reports",
                f"  Broker:  {broker}",
            ]
            if seeded:
                lines.append(f"  Seed:    {seeded}")
            lines += ["Ctrl+C stops it; the next start begins with empty data.", ""]
            print("\n".join(lines), flush=True)

        asyncio.run(serve(settings, announce))
    except DemoError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 2
    except (psycopg.OperationalError, redis.ConnectionError) as error:
        print(
            f"demo: a local service is down ({type(error).__name__}: {error}); "
            "scripts/demo starts them (scripts/services-up)",
            file=sys.stderr,
        )
        return 2
    finally:
        for close in reversed(closers):
            close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
