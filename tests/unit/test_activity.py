"""domain.activity: what a card says of recent activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.activity import (
    ACTIVE_THIS_WEEK,
    ACTIVE_TODAY,
    Activity,
    recent_activity,
)

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


class TestRecentActivity:
    def test_within_a_day_is_today(self) -> None:
        """A minute or almost a day ago both read "today"."""
        assert recent_activity(NOW - timedelta(minutes=1), NOW) is Activity.TODAY
        assert recent_activity(NOW - ACTIVE_TODAY + timedelta(seconds=1), NOW) is Activity.TODAY

    def test_within_seven_days_is_this_week(self) -> None:
        """From a day to just under seven days ago reads "this week"."""
        assert recent_activity(NOW - ACTIVE_TODAY, NOW) is Activity.WEEK
        assert recent_activity(NOW - ACTIVE_THIS_WEEK + timedelta(seconds=1), NOW) is Activity.WEEK

    def test_older_or_unknown_says_nothing(self) -> None:
        """A week or more ago, or no time at all, puts no line on the card."""
        assert recent_activity(NOW - ACTIVE_THIS_WEEK, NOW) is None
        assert recent_activity(None, NOW) is None
