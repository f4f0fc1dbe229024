"""``python -m sandbox --port 8081 --token TOKEN``: the sandbox as a process of its own."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from sandbox.flood import DEFAULT_CHAT_BURST, DEFAULT_CHAT_RATE, DEFAULT_GLOBAL_RATE, FloodConfig
from sandbox.server import DEFAULT_TOKEN, SandboxServer
from sandbox.state import SandboxOptions


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="A local Telegram Bot API sandbox."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument(
        "--token",
        action="append",
        help="a bot token to serve (repeatable; the first is the default bot); "
        "TOKEN=username names the bot",
    )
    parser.add_argument("--flood", action="store_true", help="turn Telegram-like limits on")
    parser.add_argument("--global-rate", type=float, default=DEFAULT_GLOBAL_RATE)
    parser.add_argument("--chat-rate", type=float, default=DEFAULT_CHAT_RATE)
    parser.add_argument("--chat-burst", type=float, default=DEFAULT_CHAT_BURST)
    parser.add_argument(
        "--allow-unstarted",
        action="store_true",
        help="let the bot write to users who never wrote to it (Telegram answers 403)",
    )
    parser.add_argument(
        "--conflict-policy",
        choices=["terminate_older", "reject_newer"],
        default="terminate_older",
        help="which of two concurrent getUpdates gets 409 (Telegram: the older one)",
    )
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    tokens: list[str] = []
    usernames: dict[str, str] = {}
    for spec in args.token or [DEFAULT_TOKEN]:
        token, _, username = spec.partition("=")
        tokens.append(token)
        if username:
            usernames[token] = username
    flood = FloodConfig(
        enabled=args.flood,
        global_rate=args.global_rate,
        global_burst=args.global_rate,
        chat_rate=args.chat_rate,
        chat_burst=args.chat_burst,
    )
    options = SandboxOptions(
        require_start=not args.allow_unstarted, conflict_policy=args.conflict_policy
    )
    server = SandboxServer(
        args.host, args.port, tokens, usernames=usernames, options=options, flood=flood
    )
    await server.start_async()
    bots = ", ".join(f"@{b.username} ({b.id})" for b in server.sandbox.bots.values())
    print(f"sandbox listening on {server.url} for {bots}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop_async()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
