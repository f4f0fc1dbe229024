"""Fixtures of the cluster tests: a Redis namespace per test, helpers that wait on conditions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
import redis

from storage import state
from tests.services import REDIS_URL, redis_namespace

T = TypeVar("T")


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


def eventually(
    check: Callable[[], T],
    timeout: float = 10.0,
    what: str = "the condition",
    interval: float = 0.02,
) -> T:
    """Poll check() until it returns something truthy; its last value in the failure."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s (last: {value!r})")
        time.sleep(interval)
