"""Cleanup of data nobody needs any more: old views, stale feed passes, orphaned photo bytes;
and profiles nobody uses paused until their owner is back (domain.activity)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from domain.activity import AWAY_AFTER
from storage.db import Pool
from storage.fence import HANDLED_KEEP_HOURS
from storage.photos import PhotoStore

# Views only feed the behaviour rating, whose half-life is two weeks: after 90 days a view
# weighs under 2 % and is not worth its row.
VIEW_RETENTION: Final = timedelta(days=90)
# A pass over the feed nobody has continued for a month is rebuilt from scratch anyway.
FEED_PASS_RETENTION: Final = timedelta(days=30)
# Bytes written while a node died before inserting the photo row: give uploads in flight
# plenty of time before calling an object orphaned.
UNREFERENCED_OBJECT_AGE: Final = timedelta(hours=6)
DELETE_BATCH: Final = 10_000
# The per-user fence's rows (storage.fence): Telegram keeps an update 24 h, so no update
# older than that is given out again.
HANDLED_RETENTION: Final = timedelta(hours=HANDLED_KEEP_HOURS)


@dataclass(frozen=True)
class CleanupReport:
    views: int
    feed_passes: int
    objects: int
    away: int = 0  # profiles paused for inactivity
    handled: int = 0  # rows of handled_updates past HANDLED_RETENTION


class Maintenance:
    def __init__(self, pool: Pool, photos: PhotoStore) -> None:
        self._pool = pool
        self._photos = photos

    def run(self, now: datetime | None = None) -> CleanupReport:
        now = now or datetime.now(UTC)
        return CleanupReport(
            self._old_views(now),
            self._stale_passes(now),
            self._orphaned_objects(now),
            self._pause_away(now),
            self._handled_updates(now),
        )

    def _handled_updates(self, now: datetime) -> int:
        removed = 0
        while True:
            with self._pool.connection() as conn:
                cursor = conn.execute(
                    """DELETE FROM handled_updates WHERE work = ANY(ARRAY(
                           SELECT work FROM handled_updates WHERE created_at < %s LIMIT %s))""",
                    (now - HANDLED_RETENTION, DELETE_BATCH),
                )
                removed += cursor.rowcount
                if cursor.rowcount < DELETE_BATCH:
                    return removed

    def _pause_away(self, now: datetime) -> int:
        """Pause the finished profiles inactive for AWAY_AFTER, marked as away so that their
        owner's next update resumes them (storage.accounts.Accounts.touch); the feed's rules
        read the pause as they read any other."""
        with self._pool.connection() as conn:
            cursor = conn.execute(
                """UPDATE users SET is_paused = true, away_since = %s
                   WHERE NOT is_paused AND onboarding_step IS NULL AND last_active_at < %s""",
                (now, now - AWAY_AFTER),
            )
            return cursor.rowcount

    def _old_views(self, now: datetime) -> int:
        removed = 0
        while True:
            with self._pool.connection() as conn:
                cursor = conn.execute(
                    """DELETE FROM interactions WHERE ctid = ANY(ARRAY(
                           SELECT ctid FROM interactions
                           WHERE kind = 'view' AND created_at < %s LIMIT %s))""",
                    (now - VIEW_RETENTION, DELETE_BATCH),
                )
                removed += cursor.rowcount
                if cursor.rowcount < DELETE_BATCH:
                    return removed

    def _stale_passes(self, now: datetime) -> int:
        with self._pool.connection() as conn:
            cursor = conn.execute(
                "DELETE FROM feed_passes WHERE started_at < %s", (now - FEED_PASS_RETENTION,)
            )
            return cursor.rowcount

    def _orphaned_objects(self, now: datetime) -> int:
        """Objects queued when their rows went, and objects no photo row names."""
        with self._pool.connection() as conn:
            queued = [
                str(row["object_key"])
                for row in conn.execute(
                    "SELECT object_key FROM orphaned_objects ORDER BY queued_at LIMIT %s",
                    (DELETE_BATCH,),
                )
            ]
        referenced: set[str] = set()
        with self._pool.connection() as conn:
            referenced.update(
                str(row["object_key"])
                for row in conn.execute(
                    "SELECT object_key FROM photos UNION ALL SELECT object_key FROM profile_videos"
                )
            )
        stray = [
            key
            for key in self._photos.keys(older_than=now - UNREFERENCED_OBJECT_AGE)
            if key not in referenced and key not in queued
        ]
        doomed = queued + stray
        if doomed:
            self._photos.delete(doomed)
        if queued:
            with self._pool.connection() as conn:
                conn.execute("DELETE FROM orphaned_objects WHERE object_key = ANY(%s)", (queued,))
        return len(doomed)
