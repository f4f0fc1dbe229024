"""The waits between tries of work whose dependency failed."""

from __future__ import annotations

from domain.backoff import Backoff


def test_waits_double_up_to_the_cap() -> None:
    backoff = Backoff(base=0.1, cap=30.0)
    tops = [backoff.seconds(attempt, draw=1.0) for attempt in range(1, 14)]
    assert tops[:4] == [0.1, 0.2, 0.4, 0.8]
    assert tops[-1] == 30.0 and max(tops) == 30.0
    assert backoff.seconds(10_000, draw=1.0) == 30.0


def test_jitter_stays_in_the_upper_half() -> None:
    backoff = Backoff(base=1.0, cap=8.0)
    assert backoff.seconds(3, draw=0.0) == 2.0
    assert backoff.seconds(3, draw=1.0) == 4.0
    drawn = {backoff.seconds(4) for _ in range(50)}
    assert len(drawn) > 1 and all(4.0 <= wait <= 8.0 for wait in drawn)
