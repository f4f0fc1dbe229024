"""A node of the health tests' own (fresh services, its own sandbox, gauges sampled fast)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app import gauges
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from storage import db
from tests.support.services import Services, fresh_services
from tests.support.stack import NodeThread, running_sandbox, schema_pool

FAST_SAMPLE_SECONDS = 0.2


@pytest.fixture(scope="module")
def own_services() -> Iterator[Services]:
    with fresh_services() as made:
        yield made


@pytest.fixture(scope="module")
def own_pool(own_services: Services) -> Iterator[db.Pool]:
    with schema_pool(own_services.database_url, "health-tests") as made:
        yield made


@pytest.fixture(scope="module")
def own_sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


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
