"""The node's own HTTP endpoints: /metrics, /healthz (alive) and /readyz (dependencies)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from aiohttp import web

from observability.metrics import Metrics

READINESS_TIMEOUT_SECONDS = 3.0


def bound_port(site: web.TCPSite) -> int:
    server = site._server  # aiohttp exposes the bound socket only through the server
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else 0


def build_app(metrics: Metrics, checks: Mapping[str, Callable[[], None]]) -> web.Application:
    """checks: name → a blocking probe that raises when that dependency is not usable."""

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

    async def probe(check: Callable[[], None]) -> str:
        try:
            await asyncio.wait_for(asyncio.to_thread(check), READINESS_TIMEOUT_SECONDS)
        except TimeoutError:
            return "timeout"
        except Exception as error:
            return f"error: {type(error).__name__}: {error}"[:300]
        return "ok"

    async def readyz(_: web.Request) -> web.Response:
        results = await asyncio.gather(*(probe(check) for check in checks.values()))
        report = dict(zip(checks, results, strict=True))
        ready = all(result == "ok" for result in results)
        return web.json_response(
            {"ready": ready, "checks": report, "node_id": metrics.node_id},
            status=200 if ready else 503,
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
