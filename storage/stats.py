"""Deployment-wide counts for moderators (/stats) and the node's gauges (bot_active_users).

Read-only queries over the whole database. They count rows, so they cost more than the
per-user queries elsewhere; they run on demand (an admin's command) or every few seconds (the
gauge sampler), never per update.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from storage.db import Pool

# "Active": the user did something within this window (users.last_active_at).
ACTIVE_WINDOW: Final = timedelta(hours=24)

# Users who can be shown to others count as active; those who blocked the bot or were banned
# do not, whatever their last activity.
_ACTIVE = """u.last_active_at > now() - %(window)s::interval
             AND NOT u.is_inactive AND NOT u.is_banned"""

_TOTALS_SQL = f"""
SELECT
    (SELECT count(*) FROM users) AS users,
    (SELECT count(*) FROM users u JOIN profiles p ON p.user_id = u.id
      WHERE u.onboarding_step IS NULL AND p.completed_at IS NOT NULL) AS completed,
    (SELECT count(*) FROM users u WHERE {_ACTIVE}) AS active,
    (SELECT count(*) FROM interactions WHERE kind = 'like') AS likes,
    (SELECT count(*) FROM interactions
      WHERE kind = 'like' AND created_at > now() - %(window)s::interval) AS likes_recent,
    (SELECT count(*) FROM matches) AS matches,
    (SELECT count(*) FROM matches WHERE status = 'active') AS matches_active,
    (SELECT count(*) FROM reports WHERE status = 'open') AS reports_open,
    (SELECT count(DISTINCT reported_id) FROM reports WHERE status = 'open') AS reported_profiles
"""


@dataclass(frozen=True)
class Totals:
    """What /stats shows; the field names are the catalog's placeholders (admin.stats)."""

    users: int
    completed: int
    active: int
    likes: int
    likes_recent: int
    matches: int
    matches_active: int
    reports_open: int
    reported_profiles: int


class Stats:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def totals(self, window: timedelta = ACTIVE_WINDOW) -> Totals:
        with self._pool.connection() as conn:
            row = conn.execute(_TOTALS_SQL, {"window": window}).fetchone()
        assert row is not None  # an aggregate without FROM always gives one row
        return Totals(**{name: int(value) for name, value in row.items()})

    def active_users(self, window: timedelta = ACTIVE_WINDOW) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT count(*) AS n FROM users u WHERE {_ACTIVE}", {"window": window}
            ).fetchone()
        return int(row["n"]) if row else 0
