"""The aiohttp application and ``SandboxServer``, which runs it on a thread of its own.

    with SandboxServer(tokens=[TOKEN]) as server:
        bot = telegram.Bot(TOKEN, base_url=server.bot_base_url, base_file_url=server.file_base_url)
        sandbox = SandboxClient(server.url)

Extra routes (a demo page, static files) go on ``server.app`` before ``start()``, or through
``setup=``; handlers reach the state with ``request.app[SANDBOX_KEY]`` and run on the
sandbox's loop, the only place that state may be touched.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from types import TracebackType
from typing import TypeVar

import aiohttp
from aiohttp import web

from sandbox import botapi, control
from sandbox.flood import FloodConfig
from sandbox.state import SANDBOX_KEY, Sandbox, SandboxOptions

__all__ = ["DEFAULT_TOKEN", "SANDBOX_KEY", "SandboxServer", "close_sandbox", "create_app"]
# A token of the shape BotFather gives (the part before ":" is the bot's user id).
DEFAULT_TOKEN = "7000000000:AAsandbox-default-token-000000000000"
MAX_UPLOAD = 60 * 1024 * 1024
# How long stopping waits for open requests (long polls are woken first, so this is short).
SHUTDOWN_TIMEOUT = 1.0

T = TypeVar("T")
Setup = Callable[[web.Application, Sandbox], None]


async def _http_session(app: web.Application) -> AsyncIterator[None]:
    sandbox = app[SANDBOX_KEY]
    connector = aiohttp.TCPConnector(limit=200)
    sandbox.http = aiohttp.ClientSession(connector=connector)
    yield
    await sandbox.http.close()
    sandbox.http = None


async def _on_shutdown(app: web.Application) -> None:
    await close_sandbox(app[SANDBOX_KEY])


async def close_sandbox(sandbox: Sandbox) -> None:
    """Wake every long poll (they answer at once) and stop webhook deliveries."""
    sandbox.closing = True
    for bot in sandbox.bots.values():
        if bot.active_poll is not None:
            bot.active_poll.wake("closing")
        bot.pending_signal.notify()
        bot.activity.notify()
        for chat in bot.chats.values():
            chat.signal.notify()
        if bot.webhook is not None:
            bot.pending.extend(await bot.webhook.stop())
            bot.webhook = None
    await asyncio.sleep(0)


def create_app(sandbox: Sandbox | None = None, *, setup: Setup | None = None) -> web.Application:
    """The sandbox as an aiohttp application (Bot API, file downloads, control API)."""
    if sandbox is None:
        sandbox = Sandbox()
        sandbox.add_bot(DEFAULT_TOKEN)
    app = web.Application(client_max_size=MAX_UPLOAD)
    app[SANDBOX_KEY] = sandbox
    botapi.add_routes(app)
    control.add_routes(app)
    app.cleanup_ctx.append(_http_session)
    app.on_shutdown.append(_on_shutdown)
    if setup is not None:
        setup(app, sandbox)
    return app


def make_runner(app: web.Application) -> web.AppRunner:
    return web.AppRunner(
        app,
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
    )


class SandboxServer:
    """The sandbox on its own thread and event loop; ``start()`` returns once it listens."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        *,
        usernames: Mapping[str, str] | None = None,
        options: SandboxOptions | None = None,
        flood: FloodConfig | None = None,
        setup: Setup | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sandbox = Sandbox(options)
        for token in tokens:
            bot = self.sandbox.add_bot(token, (usernames or {}).get(token))
            if flood is not None:
                bot.initial_flood = FloodConfig(**flood.as_dict())
                bot.flood.config = FloodConfig(**flood.as_dict())
        if not self.sandbox.bots:
            raise ValueError("SandboxServer needs at least one bot token")
        self.app = create_app(self.sandbox, setup=setup)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._error: BaseException | None = None

    @property
    def token(self) -> str:
        """The first (default) bot's token."""
        assert self.sandbox.default_token is not None
        return self.sandbox.default_token

    @property
    def tokens(self) -> list[str]:
        return list(self.sandbox.bots)

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("the sandbox server is not running")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def bot_base_url(self) -> str:
        """For ``telegram.Bot(token, base_url=...)``."""
        return f"{self.url}/bot"

    @property
    def file_base_url(self) -> str:
        """For ``telegram.Bot(token, base_file_url=...)``."""
        return f"{self.url}/file/bot"

    # ------------------------------------------------------------------ on the caller's loop

    async def start_async(self) -> SandboxServer:
        """Serve on the running event loop instead of a thread of its own."""
        runner = make_runner(self.app)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        address = runner.addresses[0]
        self.port = int(address[1])
        self._runner = runner
        return self

    async def stop_async(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # ------------------------------------------------------------------ on a thread

    def start(self, timeout: float = 10.0) -> SandboxServer:
        if self._thread is not None:
            raise RuntimeError("the sandbox server is already started")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="sandbox-server", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError(f"the sandbox server did not start within {timeout} s")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise self._error
        return self

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # handed to start()'s caller
                self._error = exc
                return
            finally:
                ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._loop = None

    def stop(self, timeout: float = 10.0) -> None:
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError("the sandbox server thread did not stop")
        self._thread = None

    def call(self, fn: Callable[[Sandbox], T], timeout: float = 10.0) -> T:
        """Run ``fn(sandbox)`` on the server's loop (the only safe place) and return its value."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("call() needs the server started with start()")

        async def run() -> T:
            return fn(self.sandbox)

        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(run(), loop)
        return future.result(timeout)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self._runner is not None else "stopped"
        return f"<SandboxServer {state} bots={[b.username for b in self.sandbox.bots.values()]}>"
