"""Report weights and the auto-hide decision (domain.reports)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from domain.reports import Reporter, report_weight, should_hide

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _established(user_id: int, days_old: int) -> Reporter:
    return Reporter(user_id, NOW - timedelta(days=days_old), active_days=20)


def test_three_accounts_made_the_same_day_cannot_hide_anyone() -> None:
    """Three accounts made the same day (an hour apart, never active) do not hide a profile."""
    throwaways = [
        Reporter(user_id, NOW - timedelta(hours=hours), active_days=0)
        for user_id, hours in ((1, 3), (2, 2), (3, 1))
    ]
    assert not should_hide(throwaways, NOW).hide
    # Even aged for a month, accounts made together count as one voice.
    aged = [
        replace(reporter, created_at=reporter.created_at - timedelta(days=30), active_days=9)
        for reporter in throwaways
    ]
    decision = should_hide(aged, NOW)
    assert not decision.hide and decision.credible_reporters == 1


def test_three_established_users_can_hide_a_profile() -> None:
    """Three active users with accounts of different months hide the profile together."""
    reporters = [_established(1, 40), _established(2, 90), _established(3, 200)]
    decision = should_hide(reporters, NOW)
    assert decision.hide and decision.credible_reporters == 3
    assert not should_hide(reporters[:2], NOW).hide


def test_a_dismissed_report_lowers_its_reporters_weight() -> None:
    """Each dismissed report makes the reporter's next reports weigh less, and enough of them
    stop three established reporters from hiding a profile."""
    reporter = _established(1, 60)
    once, twice = replace(reporter, reports_dismissed=1), replace(reporter, reports_dismissed=2)
    assert report_weight(reporter, NOW) > report_weight(once, NOW) > report_weight(twice, NOW)
    serial = [replace(_established(u, 30 * u), reports_dismissed=2) for u in (1, 2, 3)]
    assert not should_hide(serial, NOW).hide


def test_weight_grows_with_age_and_activity() -> None:
    """A new or inactive account weighs less than an old active one; weights stay in 0..1."""
    old_active = _established(1, 100)
    assert report_weight(old_active, NOW) == 1.0
    assert report_weight(replace(old_active, created_at=NOW - timedelta(days=1)), NOW) < 0.1
    assert report_weight(replace(old_active, active_days=0), NOW) <= 0.1
    assert report_weight(replace(old_active, created_at=NOW + timedelta(days=1)), NOW) == 0.0


def test_the_same_reporter_twice_counts_once() -> None:
    """Repeated reports by one user add no weight."""
    reporter = _established(1, 100)
    assert should_hide([reporter] * 3, NOW).total_weight == 1.0
