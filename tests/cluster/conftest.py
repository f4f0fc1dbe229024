"""Fixtures of the cluster tests: a Redis namespace per test, a client and a reply journal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from storage import state
from storage.journal import ReplyJournal
from tests.support.services import REDIS_URL, redis_namespace


@pytest.fixture
def keys() -> Iterator[state.Keys]:
    """A Redis namespace of the test's own, removed afterwards."""
    with redis_namespace("cluster-test") as namespace:
        yield state.Keys(namespace)


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    made = state.connect(REDIS_URL)
    yield made
    made.close()


@pytest.fixture
def journal(client: redis.Redis, keys: state.Keys) -> Iterator[ReplyJournal]:
    """The reply journal in the test's own namespace (its writer thread stopped after)."""
    made = ReplyJournal(client, keys)
    yield made
    made.close()
