"""Start one node of the dating bot: `python bot.py` (settings from the environment).

With NODE_PROCESSES > 1 it supervises that many node processes (app/supervisor.py), each
started as `bot.py --metrics-fd FD`.

`python bot.py --sandbox` runs the demo instead (devtools/demo.py, what `scripts/demo` runs): a
local Bot API sandbox with a web page to try the bot as several users, and a node talking to
it; no token needed. `python bot.py --sandbox --help` lists its options.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import socket
import sys

import uvloop

from app.node import Node
from app.supervisor import METRICS_FD_FLAG, stop_when_orphaned, supervise
from config.settings import Settings, SettingsError, load_settings
from observability.logs import configure_logging

# The demo is development tooling (it needs sandbox/ and moto), which the image leaves out
# (.dockerignore): it is imported by name, only for --sandbox, and its absence is explained.
DEMO_MODULE = "devtools.demo"


async def serve(settings: Settings, metrics_socket: socket.socket | None = None) -> None:
    node = Node(settings, metrics_socket)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, node.request_stop)
    orphaned = (
        loop.create_task(stop_when_orphaned(node.request_stop))
        if metrics_socket is not None
        else None
    )
    try:
        await node.run()
    finally:
        if orphaned is not None:
            orphaned.cancel()


def run_demo(argv: list[str]) -> int:
    try:
        demo = importlib.import_module(DEMO_MODULE)
    except ImportError as error:
        print(
            f"the demo needs the development tree (sandbox/, moto): run scripts/demo from a "
            f"checkout ({error})",
            file=sys.stderr,
        )
        return 2
    status: int = demo.main(argv, prog="bot.py --sandbox")
    return status


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--sandbox" in args:
        return run_demo([arg for arg in args if arg != "--sandbox"])
    parser = argparse.ArgumentParser(
        description="Run one node of the dating bot (settings "
        "from the environment, see .env.example)."
    )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="run the demo instead: a local Bot API sandbox with a web page and "
        "a node talking to it, no token needed (--sandbox --help: options)",
    )
    parser.add_argument(
        METRICS_FD_FLAG,
        type=int,
        metavar="FD",
        help="run as one process of a node of NODE_PROCESSES, serving its "
        "endpoints on this inherited socket (the supervisor passes it)",
    )
    options = parser.parse_args(args)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.node_id, settings.log_format)
    # uvloop: the loop sends every Bot API call and limiter script; it costs about a fifth
    # less CPU per call than asyncio's own loop (docs/architecture.md).
    if options.metrics_fd is not None:
        uvloop.run(serve(settings, socket.socket(fileno=options.metrics_fd)))
    elif settings.node_processes > 1:
        uvloop.run(supervise(settings))
    else:
        uvloop.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
