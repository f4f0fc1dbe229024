"""Recent activity (issue 14): what a card says of when someone was last around, when a
profile nobody uses leaves the feed, and how often an away person hears of new likes."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

# A card says "active today" within a day of the last action, "this week" within seven.
ACTIVE_TODAY: Final = timedelta(days=1)
ACTIVE_THIS_WEEK: Final = timedelta(days=7)
# Inactive this long, a profile is paused (out of the feed) until its owner's next action.
AWAY_AFTER: Final = timedelta(days=30)
# An away person hears of likes at most this often.
AWAY_NOTICE_EVERY: Final = timedelta(days=7)


class Activity(StrEnum):
    """How recently someone was active, as a card tells it (the catalog's activity.*)."""

    TODAY = "today"
    WEEK = "week"


def recent_activity(last_active_at: datetime | None, now: datetime) -> Activity | None:
    """What a card says of someone last active at last_active_at; None: nothing (a
    week or more ago, or unknown)."""
    if last_active_at is None:
        return None
    idle = now - last_active_at
    if idle < ACTIVE_TODAY:
        return Activity.TODAY
    if idle < ACTIVE_THIS_WEEK:
        return Activity.WEEK
    return None
