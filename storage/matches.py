"""Matches in PostgreSQL: anyone's card as a match sees it, the active matches, unmatching."""

from __future__ import annotations

from domain.discovery import MatchSummary, ProfileCard
from storage import _rules as rules
from storage.db import Pool


class Matches:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def card(self, viewer_id: int, user_id: int) -> ProfileCard | None:
        """Anyone's card as the viewer would see it, without any rule (for notices, matches
        and moderators)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {rules.CARD_COLUMNS} FROM profiles p WHERE p.user_id = %(user)s",
                {"viewer": viewer_id, "user": user_id},
            ).fetchone()
        return rules.card_of(row) if row else None

    def matches(self, viewer_id: int, limit: int = 30) -> list[MatchSummary]:
        """Active matches, the most recently active first."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                """SELECT o.user_id AS other_id, o.name, o.age, m.last_activity_at,
                          m.conversation
                   FROM matches m
                   JOIN profiles o ON o.user_id = CASE WHEN m.user_low = %(viewer)s
                                                       THEN m.user_high ELSE m.user_low END
                   JOIN users ou ON ou.id = o.user_id
                   WHERE (m.user_low = %(viewer)s OR m.user_high = %(viewer)s)
                     AND m.status = 'active' AND NOT ou.is_banned
                   ORDER BY m.last_activity_at DESC LIMIT %(limit)s""",
                {"viewer": viewer_id, "limit": limit},
            ).fetchall()
        return [MatchSummary(**row) for row in rows]

    def active_match(self, viewer_id: int, other_id: int) -> MatchSummary | None:
        return next(
            (match for match in self.matches(viewer_id, limit=1000) if match.other_id == other_id),
            None,
        )

    def unmatch(self, viewer_id: int, other_id: int) -> bool:
        """End an active match for both; False if there was none."""
        low, high = rules.pair(viewer_id, other_id)
        with self._pool.connection() as conn:
            row = conn.execute(
                """UPDATE matches SET status = 'unmatched', last_activity_at = now()
                   WHERE user_low = %s AND user_high = %s AND status = 'active'
                   RETURNING id""",
                (low, high),
            ).fetchone()
        return row is not None
