"""A node of the health tests' own (fresh services, its own sandbox, gauges sampled fast),
and helpers that read its HTTP endpoints."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import gauges
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from storage import db
from tests.nodes import NodeThread
from tests.services import TEST_BOT_TOKEN, Services, fresh_services

T = TypeVar("T")
POLL_SECONDS = 0.05
FAST_SAMPLE_SECONDS = 0.2


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=15)


def samples(metrics_url: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of /metrics as (name, labels, value), parsed as Prometheus does."""
    response = get(f"{metrics_url}/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def total(metrics_url: str, name: str, **labels: str) -> float:
    """The sum of one metric's samples whose labels include ``labels``."""
    return sum(
        value
        for sample, found, value in samples(metrics_url)
        if sample == name and labels.items() <= found.items()
    )


def eventually(condition: Callable[[], T | None], what: str, timeout: float = 15.0) -> T:
    """Wait until ``condition()`` is truthy (re-checked every few milliseconds); its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(POLL_SECONDS)


@pytest.fixture(scope="module")
def own_services() -> Iterator[Services]:
    with fresh_services() as made:
        yield made


@pytest.fixture(scope="module")
def own_pool(own_services: Services) -> Iterator[db.Pool]:
    made = db.create_pool(own_services.database_url, max_size=4, name="health-tests")
    db.apply_schema(made)
    yield made
    made.close()


@pytest.fixture(scope="module")
def own_sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(tokens=[TEST_BOT_TOKEN]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sandbox_client(own_sandbox: SandboxServer) -> Iterator[SandboxClient]:
    with SandboxClient(own_sandbox.url) as client:
        yield client


@pytest.fixture(scope="module")
def fast_gauges() -> Iterator[None]:
    """Gauges sampled every FAST_SAMPLE_SECONDS instead of every ten seconds."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gauges, "SAMPLE_INTERVAL_SECONDS", FAST_SAMPLE_SECONDS)
        yield


@pytest.fixture(scope="module")
def health_node(
    own_services: Services, own_sandbox: SandboxServer, fast_gauges: None
) -> Iterator[NodeThread]:
    with NodeThread(own_services.environ(TELEGRAM_API_URL=own_sandbox.url)) as running:
        yield running


def readiness(node: NodeThread) -> tuple[int, dict[str, Any]]:
    response = get(f"{node.metrics_url}/readyz")
    body: dict[str, Any] = response.json()
    return response.status_code, body
