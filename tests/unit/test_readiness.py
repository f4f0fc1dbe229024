"""/readyz answers from cached checks and names no host (issue 16, point 7)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from observability.http import Readiness, build_app
from observability.metrics import Metrics


def _answers(readiness: Readiness, requests: int) -> list[tuple[int, dict[str, Any]]]:
    async def run() -> list[tuple[int, dict[str, Any]]]:
        await readiness.start()
        client = TestClient(TestServer(build_app(Metrics("test-node"), readiness)))
        await client.start_server()
        try:
            answers = []
            for _ in range(requests):
                response = await client.get("/readyz")
                answers.append((response.status, await response.json()))
            return answers
        finally:
            await client.close()
            await readiness.stop()

    return asyncio.run(run())


def test_requests_do_not_run_the_checks() -> None:
    """Fifty requests within the refresh interval run each check once, at start."""
    runs = []
    readiness = Readiness({"postgresql": lambda: runs.append(1)}, interval=60.0)
    answers = _answers(readiness, 50)
    assert len(runs) == 1
    assert {status for status, _ in answers} == {200}
    assert answers[-1][1]["checks"] == {"postgresql": "ok"}


def test_a_failed_check_is_reported_by_its_kind_without_the_host() -> None:
    """The error's message names the host and port; the report gives only its type."""

    def refused() -> None:
        raise ConnectionRefusedError("connect to db.internal.example:5432 as dating refused")

    status, body = _answers(Readiness({"postgresql": refused, "redis": lambda: None}), 1)[0]
    assert status == 503 and body["ready"] is False
    assert body["checks"] == {"postgresql": "error: ConnectionRefusedError", "redis": "ok"}
    assert "db.internal" not in str(body) and "5432" not in str(body)
