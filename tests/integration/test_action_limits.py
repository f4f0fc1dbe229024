"""The per-user action counters in Redis (storage.action_limits), on a namespace of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from domain.action_limits import LIMITS, Action, Verdict
from storage.action_limits import ActionCounters
from storage.state import Keys
from tests.support.services import REDIS_URL, redis_namespace


@pytest.fixture
def counters() -> Iterator[tuple[ActionCounters, redis.Redis, Keys]]:
    client = redis.Redis.from_url(REDIS_URL)
    with redis_namespace("limits-test") as namespace:
        keys = Keys(namespace)
        yield ActionCounters(client, keys), client, keys
    client.close()


def test_a_burst_is_counted_per_user_and_action(
    counters: tuple[ActionCounters, redis.Redis, Keys],
) -> None:
    """A user's likes past the limit are told once, then silent; their messages and another
    user's likes are counted apart."""
    limits, _, _ = counters
    count = LIMITS[Action.LIKE].count
    verdicts = [limits.take(1, Action.LIKE) for _ in range(count + 3)]
    assert verdicts == [Verdict.ALLOW] * count + [Verdict.TELL, Verdict.SILENT, Verdict.SILENT]
    assert limits.take(1, Action.MESSAGE) is Verdict.ALLOW
    assert limits.take(2, Action.LIKE) is Verdict.ALLOW


def test_the_window_starts_at_the_first_action_and_then_ends(
    counters: tuple[ActionCounters, redis.Redis, Keys],
) -> None:
    """The counter lives for the action's window from its first action, and later actions
    do not stretch it; once it is gone the person starts afresh."""
    limits, client, keys = counters
    limits.take(3, Action.REPORT)
    key = keys("limit", Action.REPORT.value, 3)
    ttl = client.ttl(key)
    assert 0 < int(ttl) <= LIMITS[Action.REPORT].window_seconds
    client.expire(key, 100_000)
    limits.take(3, Action.REPORT)
    assert int(client.ttl(key)) > LIMITS[Action.REPORT].window_seconds
    client.delete(key)
    assert limits.take(3, Action.REPORT) is Verdict.ALLOW


def test_an_update_tried_again_counts_once(
    counters: tuple[ActionCounters, redis.Redis, Keys],
) -> None:
    """The same update asking again (its try failed on a dependency, or its node died) gets
    the verdict it had and spends nothing more; the next update counts on."""
    limits, _, _ = counters
    count = LIMITS[Action.PHOTO].count
    assert [limits.take(4, Action.PHOTO, 100) for _ in range(count + 5)] == [Verdict.ALLOW] * (
        count + 5
    )
    verdicts = [limits.take(4, Action.PHOTO, 101 + number) for number in range(count)]
    assert verdicts == [Verdict.ALLOW] * (count - 1) + [Verdict.TELL]
    assert limits.take(4, Action.PHOTO, 101 + count - 1) is Verdict.TELL


def test_a_counter_of_the_old_form_starts_afresh(
    counters: tuple[ActionCounters, redis.Redis, Keys],
) -> None:
    """A plain counter left by the code before is replaced, not refused with WRONGTYPE."""
    limits, client, keys = counters
    client.set(keys("limit", Action.LIKE.value, 5), 999, ex=60)
    assert limits.take(5, Action.LIKE, 1) is Verdict.ALLOW
