"""Fixtures shared by the integration and end-to-end tests: real services, made fresh
(tests/support builds them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storage import db
from storage.photos import PhotoStore
from tests.support.services import S3_ACCESS_KEY, S3_SECRET_KEY, Services, fresh_services
from tests.support.stack import schema_pool


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that restart the machine's real services run last: whatever runs after them
    would meet connections those restarts broke (they recover, but need not be tested so)."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_services") is not None)


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    with fresh_services() as made:
        yield made


@pytest.fixture(scope="session")
def pool(services: Services) -> Iterator[db.Pool]:
    with schema_pool(services.database_url, "tests", max_size=8) as made:
        yield made


@pytest.fixture(scope="session")
def photo_store(services: Services) -> PhotoStore:
    store = PhotoStore(services.s3_endpoint, S3_ACCESS_KEY, S3_SECRET_KEY, "dating-photos-test")
    store.ensure_bucket()
    return store
