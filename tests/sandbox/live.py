"""What the sandbox tests drive the sandbox with: python-telegram-bot's real Bot on a loop of its
own, and a webhook endpoint that records what it receives."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Coroutine
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import telegram

from sandbox.server import DEFAULT_TOKEN, SandboxServer

T = TypeVar("T")
TOKEN = DEFAULT_TOKEN


class LiveBot:
    """python-telegram-bot's real ``telegram.Bot`` on a loop of its own, over real HTTP."""

    def __init__(self, server: SandboxServer, token: str = TOKEN) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.bot = telegram.Bot(
            token, base_url=server.bot_base_url, base_file_url=server.file_base_url
        )
        self.offset = 0
        self.run(self.bot.initialize())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def updates(self, timeout: float = 5.0) -> tuple[telegram.Update, ...]:
        """One getUpdates long poll from the current offset; confirms what it got next time."""
        updates = self.run(self.bot.get_updates(offset=self.offset, timeout=int(timeout)))
        if updates:
            self.offset = updates[-1].update_id + 1
        return updates

    def next_update(self, timeout: float = 5.0) -> telegram.Update:
        updates = self.updates(timeout)
        assert len(updates) == 1, f"expected one update, got {updates}"
        return updates[0]

    def drain(self) -> None:
        while self.updates(timeout=0):
            pass

    def close(self) -> None:
        self.run(self.bot.shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class Delivery:
    def __init__(self, secret: str | None, update: dict[str, Any]) -> None:
        self.secret = secret
        self.update = update


class Receiver:
    """A webhook endpoint (stdlib HTTP server on a thread) that records what it receives."""

    def __init__(self) -> None:
        self.fail_next = 0
        self.received: queue.Queue[Delivery] = queue.Queue()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                secret = self.headers.get("X-Telegram-Bot-Api-Secret-Token")
                outer.received.put(Delivery(secret, json.loads(body)))
                failing = outer.fail_next > 0
                outer.fail_next -= 1 if failing else 0
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def next(self, timeout: float = 10.0) -> Delivery:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
