"""Firing slots: every node computes the same slot for the same firing."""

from __future__ import annotations

from datetime import UTC, datetime

from app.scheduler import slot_of


def test_slots_align_to_the_wall_clock() -> None:
    """Any moment inside a window maps to the window's start."""
    assert slot_of(datetime(2026, 1, 2, 10, 7, 59, tzinfo=UTC), 5) == datetime(
        2026, 1, 2, 10, 5, tzinfo=UTC
    )
    assert slot_of(datetime(2026, 1, 2, 10, 5, 0, tzinfo=UTC), 5) == datetime(
        2026, 1, 2, 10, 5, tzinfo=UTC
    )


def test_nodes_a_little_apart_share_the_slot() -> None:
    """Two nodes whose clocks differ by a second still claim the same firing."""
    first = slot_of(datetime(2026, 1, 2, 10, 15, 0, 200_000, tzinfo=UTC), 5)
    second = slot_of(datetime(2026, 1, 2, 10, 15, 1, 100_000, tzinfo=UTC), 5)
    assert first == second


def test_daily_and_hourly_slots() -> None:
    """A day-long slot starts at midnight, an hour-long one on the hour."""
    moment = datetime(2026, 1, 2, 23, 59, tzinfo=UTC)
    assert slot_of(moment, 24 * 60) == datetime(2026, 1, 2, tzinfo=UTC)
    assert slot_of(moment, 60) == datetime(2026, 1, 2, 23, tzinfo=UTC)
