"""Maintenance and feed prefetch against real PostgreSQL and an S3 endpoint."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from storage import db
from storage.accounts import Accounts
from storage.feed import Feed
from storage.maintenance import (
    HANDLED_RETENTION,
    UNREFERENCED_OBJECT_AGE,
    VIEW_RETENTION,
    Maintenance,
)
from storage.photos import PhotoStore
from tests.support.profiles import complete_profile


def person(pool: db.Pool, city: str, gender: str, seeking: str) -> int:
    return complete_profile(pool, gender=gender, seeking=seeking, city=city, age=28)


class TestCleanup:
    def test_orphaned_and_unreferenced_objects_are_removed(
        self, pool: db.Pool, photo_store: PhotoStore
    ) -> None:
        """Queued orphans and old objects no photo row names go; referenced ones stay."""
        queued = photo_store.put(b"\xff\xd8\xffqueued", "image/jpeg")
        stray = photo_store.put(b"\xff\xd8\xffstray", "image/jpeg")
        kept_user = person(pool, "Cleanville", "m", "f")
        kept = photo_store.put(b"\xff\xd8\xffkept", "image/jpeg")
        with pool.connection() as conn:
            conn.execute("INSERT INTO orphaned_objects (object_key) VALUES (%s)", (queued,))
            conn.execute("UPDATE photos SET object_key = %s WHERE user_id = %s", (kept, kept_user))
        later = datetime.now(UTC) + UNREFERENCED_OBJECT_AGE + timedelta(minutes=1)
        report = Maintenance(pool, photo_store).run(now=later)
        assert report.objects >= 2
        assert not photo_store.exists(queued) and not photo_store.exists(stray)
        assert photo_store.exists(kept)
        with pool.connection() as conn:
            left = conn.execute(
                "SELECT count(*) AS n FROM orphaned_objects WHERE object_key = %s", (queued,)
            ).fetchone()
        assert left is not None and left["n"] == 0

    def test_handled_updates_go_after_26_hours(
        self, pool: db.Pool, photo_store: PhotoStore
    ) -> None:
        """The fence's rows outlive Telegram's 24 h of redelivery, then the job purges them."""
        old, new = f"purge-test:{uuid.uuid4().hex}", f"purge-test:{uuid.uuid4().hex}"
        now = datetime.now(UTC)
        with pool.connection() as conn:
            for work, at in ((old, now - HANDLED_RETENTION - timedelta(minutes=1)), (new, now)):
                conn.execute(
                    "INSERT INTO handled_updates (work, replies, created_at) VALUES (%s, '[]', %s)",
                    (work, at),
                )
        report = Maintenance(pool, photo_store).run(now=now)
        assert report.handled >= 1
        with pool.connection() as conn:
            left = conn.execute(
                "SELECT work FROM handled_updates WHERE work = ANY(%s)", ([old, new],)
            ).fetchall()
        assert [row["work"] for row in left] == [new]

    def test_old_views_go_and_recent_decisions_stay(
        self, pool: db.Pool, photo_store: PhotoStore
    ) -> None:
        """Views older than the retention are deleted; likes and fresh views are kept."""
        city = f"Viewtown-{uuid.uuid4().hex[:6]}"
        viewer, old, fresh = (person(pool, city, "f", "m") for _ in range(3))
        with pool.connection() as conn:
            conn.execute(
                """INSERT INTO interactions (actor_id, target_id, kind, created_at)
                            VALUES (%(v)s, %(old)s, 'view', now() - %(age)s),
                                   (%(v)s, %(old)s, 'like', now() - %(age)s),
                                   (%(v)s, %(fresh)s, 'view', now())""",
                {
                    "v": viewer,
                    "old": old,
                    "fresh": fresh,
                    "age": VIEW_RETENTION + timedelta(days=1),
                },
            )
        assert Maintenance(pool, photo_store).run().views >= 1
        with pool.connection() as conn:
            kinds = {
                (row["target_id"], row["kind"])
                for row in conn.execute(
                    "SELECT target_id, kind FROM interactions WHERE actor_id = %s", (viewer,)
                )
            }
        assert kinds == {(old, "like"), (fresh, "view")}


class TestPrefetch:
    def test_active_people_get_their_next_cards_ready(self, pool: db.Pool) -> None:
        """Someone active lately is due; prefetch fills their pass, and the next card is the
        first one queued."""
        city = f"Prefetchville-{uuid.uuid4().hex[:6]}"
        candidates = [person(pool, city, "m", "f") for _ in range(3)]
        viewer_id = person(pool, city, "f", "m")
        feed = Feed(pool)
        assert viewer_id in feed.due_for_prefetch(timedelta(minutes=10), 10_000)
        viewer = Accounts(pool).get(viewer_id)
        assert viewer is not None
        assert feed.prefetch(viewer) == 3
        with pool.connection() as conn:
            row = conn.execute(
                "SELECT queue FROM feed_passes WHERE viewer_id = %s", (viewer_id,)
            ).fetchone()
        assert row is not None and sorted(row["queue"]) == sorted(candidates)
        card = feed.next_card(viewer)
        assert card is not None and card.card.user_id == row["queue"][0]
