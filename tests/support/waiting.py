"""Waiting on a condition, the one way the tests wait (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T | None],
    what: str = "the condition",
    *,
    timeout: float = 15.0,
    interval: float = 0.02,
) -> T:
    """Poll check() until it returns something truthy, and return that; the failure names what
    was awaited and check()'s last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s (last: {value!r})")
        time.sleep(interval)
