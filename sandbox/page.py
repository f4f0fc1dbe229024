"""The sandbox's web page: a person acts as several virtual users side by side, in the browser.

    SandboxServer(..., setup=add_page)        # or add_page(server.app, server.sandbox)

serves ``sandbox/web/`` (plain HTML, CSS and JavaScript: no build step, nothing from a CDN)
at ``/``. The page uses only the control API (docs/sandbox.md): it creates users, acts as
them (text, buttons, photos, locations), and follows their chats with the long-poll
endpoints, rendering the bot's messages like a Telegram chat.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from sandbox.state import Sandbox

WEB_DIR = Path(__file__).with_name("web")
# The page is small and changes with the code: browsers should always ask again.
NO_CACHE = {"Cache-Control": "no-cache"}


def add_page(app: web.Application, sandbox: Sandbox | None = None) -> None:
    """Serve the page at ``/`` and its files under ``/web/``; fits ``setup=`` of the server."""

    async def index(_: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_DIR / "index.html", headers=NO_CACHE)

    async def asset(request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        path = WEB_DIR / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers=NO_CACHE)

    app.router.add_get("/", index)
    app.router.add_get("/web/{name}", asset)
