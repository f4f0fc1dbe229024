"""The node's own HTTP endpoints: /metrics, /healthz (alive) and /readyz (dependencies)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

import structlog
from aiohttp import web

from observability.metrics import Metrics

log = structlog.get_logger(__name__)

READINESS_TIMEOUT_SECONDS = 3.0
# How often the checks run. /readyz answers from their latest results, so a flood of requests
# costs the dependencies nothing (no connection per request), at the price of a report up to
# this old.
READINESS_REFRESH_SECONDS = 2.0


def bound_port(site: web.TCPSite) -> int:
    server = site._server  # aiohttp exposes the bound socket only through the server
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else 0


class Readiness:
    """The readiness checks, run in the background; ``report`` is their latest results.

    A result is "ok", "timeout" or "error: <exception type>": the error's message (which names
    hosts, ports and users) goes to the log when a check's result changes, never to /readyz,
    which anyone who reaches the port can read."""

    def __init__(
        self,
        checks: Mapping[str, Callable[[], None]],
        interval: float = READINESS_REFRESH_SECONDS,
    ) -> None:
        """checks: name → a blocking probe that raises when that dependency is not usable."""
        self._checks = dict(checks)
        self._interval = interval
        self._results = dict.fromkeys(self._checks, "pending")
        self._task: asyncio.Task[None] | None = None

    @property
    def report(self) -> dict[str, str]:
        return dict(self._results)

    @property
    def ready(self) -> bool:
        return all(result == "ok" for result in self._results.values())

    async def start(self) -> None:
        """Run the checks once (the first answer is a real one), then every interval."""
        await self.refresh()
        self._task = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self) -> None:
        results = await asyncio.gather(*(self._probe(n, c) for n, c in self._checks.items()))
        self._results = dict(zip(self._checks, results, strict=True))

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.refresh()
            except Exception:
                log.exception("readiness checks failed")

    async def _probe(self, name: str, check: Callable[[], None]) -> str:
        try:
            await asyncio.wait_for(asyncio.to_thread(check), READINESS_TIMEOUT_SECONDS)
        except TimeoutError:
            result, detail = "timeout", ""
        except Exception as error:
            result, detail = f"error: {type(error).__name__}", str(error)[:300]
        else:
            result, detail = "ok", ""
        if result != self._results.get(name):
            log.info("readiness check", check=name, result=result, detail=detail)
        return result


def build_app(metrics: Metrics, readiness: Readiness) -> web.Application:
    async def metrics_view(_: web.Request) -> web.Response:
        body = await asyncio.to_thread(metrics.render)
        return web.Response(
            body=body,
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Prometheus-Version": "0.0.4"},
        )

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "alive", "node_id": metrics.node_id})

    async def readyz(_: web.Request) -> web.Response:
        ready = readiness.ready
        return web.json_response(
            {"ready": ready, "checks": readiness.report, "node_id": metrics.node_id},
            status=200 if ready else 503,
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
