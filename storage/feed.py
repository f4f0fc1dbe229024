"""The feed in PostgreSQL: the pass each viewer is on, the next card, prefetch, skips.

A pass walks the candidates in rank order from a keyset cursor kept in ``feed_passes``: the
people who liked the viewer first, then ranked batches (storage.feed_batch), and once it ran
dry the people skipped more than SKIP_COOLDOWN ago; docs/discovery.md explains the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from domain import geo
from domain.discovery import ProfileCard
from storage import _rules as rules
from storage import feed_batch
from storage._rules import Conn
from storage.accounts import Account
from storage.db import Pool
from storage.feed_batch import FeedPass

# The scheduler refills the passes of recently active people holding fewer cards than this.
PREFETCH_BELOW = 5

# People who already liked the viewer placed at the front of each batch.
LIKERS_PER_BATCH: Final = 5
# A pass starts over after a day (new people, changed ratings), and an hour after it ran dry.
PASS_MAX_AGE: Final = timedelta(hours=24)
FINISHED_PASS_RETRY: Final = timedelta(hours=1)
# Refills tried for one card before saying nobody is left (each refill moves the cursor on).
MAX_REFILLS_PER_CARD: Final = 5
# Room for the hashed set of everyone a viewer decided on (about 60 bytes each): a set that
# does not fit is scanned once per candidate instead, which would be very slow.
FEED_WORK_MEM: Final = "32MB"


@dataclass(frozen=True, slots=True)
class FeedCard:
    card: ProfileCard
    widened_to_km: int | None = None  # set on the first card of a pass with a wider radius


def filters_of(viewer: Account) -> str:
    """What a pass depends on: a changed wish or place starts a new pass."""
    place = (
        f"{viewer.latitude:.4f},{viewer.longitude:.4f},{viewer.radius_km}"
        if viewer.has_location
        else f"city:{viewer.city_key}"
    )
    return "|".join(
        str(part)
        for part in (
            viewer.gender,
            viewer.seeking,
            viewer.age,
            viewer.age_min,
            viewer.age_max,
            place,
            *(("verified-only",) if viewer.verified_only else ()),
        )
    )


class Feed:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def next_card(self, viewer: Account) -> FeedCard | None:
        """The next card for the viewer, recorded as viewed; None when nobody is left.

        Sources in order: the queue of the current pass (people who liked the viewer first,
        then a ranked batch read after the keyset cursor), and once the pass ran dry the
        people skipped more than SKIP_COOLDOWN ago, longest ago first."""
        with self._pool.connection() as conn:
            # A view and the pass's cursor are cheap to lose in a crash (a card may be shown
            # again), so this commit does not wait for the disk; likes and matches do. The
            # queries by key (each joins a dozen relations: planning them costs more than
            # running them) are prepared at once and keep one generic plan per connection;
            # the batch query is never prepared (feed_batch).
            conn.execute(
                f"SET LOCAL work_mem = '{FEED_WORK_MEM}'; "
                "SET LOCAL synchronous_commit = off; "
                "SET LOCAL plan_cache_mode = force_generic_plan"
            )
            state = self._pass(conn, viewer)
            params = rules.rule_params(viewer, state.radius_km)
            for _ in range(MAX_REFILLS_PER_CARD):
                if not state.queue:
                    self._refill(conn, viewer, state, params)
                    if not state.queue:
                        break
                while state.queue:
                    candidate = state.queue.pop(0)
                    row = conn.execute(
                        f"SELECT {rules.CARD_COLUMNS} FROM profiles p"
                        " JOIN users u ON u.id = p.user_id"
                        f" WHERE p.user_id = %(candidate)s AND {rules.SHOWABLE}",
                        {**params, "candidate": candidate},
                        prepare=True,
                    ).fetchone()
                    if row is None:
                        continue
                    rules.record(conn, viewer.id, candidate, "view")
                    widened = None
                    if state.widened and not state.widened_told:
                        widened, state.widened_told = state.radius_km, True
                    self._save(conn, viewer.id, state)
                    return FeedCard(rules.card_of(row), widened)
            self._save(conn, viewer.id, state)
            return None

    def prefetch(self, viewer: Account) -> int:
        """Fill the viewer's pass ahead of their next card, so that it comes straight from the
        queue; the number of cards waiting. The scheduler runs it for people active lately."""
        with self._pool.connection() as conn:
            conn.execute(
                f"SET LOCAL work_mem = '{FEED_WORK_MEM}'; SET LOCAL synchronous_commit = off"
            )
            state = self._pass(conn, viewer)
            if not state.queue:
                self._refill(conn, viewer, state, rules.rule_params(viewer, state.radius_km))
            self._save(conn, viewer.id, state)
            return len(state.queue)

    def due_for_prefetch(self, active_within: timedelta, limit: int) -> list[int]:
        """People active lately whose pass holds fewer than a few cards."""
        with self._pool.connection() as conn:
            return [
                int(row["id"])
                for row in conn.execute(
                    """SELECT u.id FROM users u JOIN profiles p ON p.user_id = u.id
                   LEFT JOIN feed_passes f ON f.viewer_id = u.id
                   WHERE u.last_active_at > now() - %s AND p.completed_at IS NOT NULL
                     AND u.onboarding_step IS NULL AND NOT u.is_banned
                     AND (f.viewer_id IS NULL OR cardinality(f.queue) < %s)
                   ORDER BY u.last_active_at DESC LIMIT %s""",
                    (active_within, PREFETCH_BELOW, limit),
                )
            ]

    def _pass(self, conn: Conn, viewer: Account) -> FeedPass:
        """The viewer's current pass (locked for this transaction), started over when the
        filters changed, after PASS_MAX_AGE, or FINISHED_PASS_RETRY after it ran dry."""
        row = conn.execute(
            "SELECT * FROM feed_passes WHERE viewer_id = %s FOR UPDATE", (viewer.id,), prepare=True
        ).fetchone()
        now = datetime.now(UTC)
        filters = filters_of(viewer)
        if (
            row is not None
            and row["filters"] == filters
            and now - row["started_at"] < PASS_MAX_AGE
            and (row["finished_at"] is None or now - row["finished_at"] < FINISHED_PASS_RETRY)
        ):
            return FeedPass(
                row["filters"],
                row["radius_km"],
                row["widened"],
                row["widened_told"],
                row["after_score"],
                row["after_id"],
                list(row["queue"]),
                row["started_at"],
                row["finished_at"],
            )
        state = FeedPass(
            filters, viewer.radius_km, False, False, math.inf, 2**63 - 1, [], now, None
        )
        if viewer.has_location:

            def count_within(km: int) -> int:
                state.radius_km = km
                state.first_rows = feed_batch.read(conn, viewer, state, geo.MIN_NEARBY_CANDIDATES)
                return sum(row.visible for row in state.first_rows)

            choice = geo.choose_radius(viewer.radius_km, count_within)
            state.radius_km, state.widened = choice.radius_km, choice.widened
        return state

    def _save(self, conn: Conn, viewer_id: int, state: FeedPass) -> None:
        conn.execute(
            """INSERT INTO feed_passes AS f (viewer_id, filters, radius_km, widened, widened_told,
                   after_score, after_id, queue, started_at, finished_at)
               VALUES (%(viewer)s, %(filters)s, %(radius)s, %(widened)s, %(told)s, %(score)s,
                       %(id)s, %(queue)s, %(started)s, %(finished)s)
               ON CONFLICT (viewer_id) DO UPDATE SET filters = excluded.filters,
                   radius_km = excluded.radius_km, widened = excluded.widened,
                   widened_told = excluded.widened_told, after_score = excluded.after_score,
                   after_id = excluded.after_id, queue = excluded.queue,
                   started_at = excluded.started_at, finished_at = excluded.finished_at""",
            {
                "viewer": viewer_id,
                "filters": state.filters,
                "radius": state.radius_km,
                "widened": state.widened,
                "told": state.widened_told,
                "score": state.after_score,
                "id": state.after_id,
                "queue": state.queue,
                "started": state.started_at,
                "finished": state.finished_at,
            },
            prepare=True,
        )

    def current_pass(self, viewer: Account) -> FeedPass:
        """The viewer's pass as the next card would use it (started if due, not saved)."""
        with self._pool.connection() as conn:
            return self._pass(conn, viewer)

    def _refill(self, conn: Conn, viewer: Account, state: FeedPass, params: dict[str, Any]) -> None:
        if state.finished_at is None:
            likers = [
                int(row["user_id"])
                for row in conn.execute(
                    f"""SELECT p.user_id FROM interactions l
                    JOIN profiles p ON p.user_id = l.actor_id JOIN users u ON u.id = p.user_id
                    WHERE l.target_id = %(viewer)s AND l.kind = 'like' AND {rules.RULES}
                      AND {rules.NOT_LIKED} AND {rules.NEAR} AND {rules.NEVER_SKIPPED}
                      AND NOT EXISTS (SELECT 1 FROM interactions v WHERE v.actor_id = %(viewer)s
                          AND v.kind = 'view' AND v.target_id = p.user_id
                          AND v.created_at >= %(started)s)
                    ORDER BY l.created_at LIMIT %(limit)s""",
                    {**params, "started": state.started_at, "limit": LIKERS_PER_BATCH},
                    prepare=True,
                )
            ]
            batch = state.first_rows[: feed_batch.FEED_BATCH] or feed_batch.read(
                conn, viewer, state
            )
            state.first_rows = []
            if batch:
                state.after_id, state.after_score = batch[-1].user_id, batch[-1].feed_score
                ranked = feed_batch.rank(
                    conn, viewer, [row.user_id for row in batch if row.visible]
                )
                state.queue = likers + [user_id for user_id in ranked if user_id not in likers]
                return
            state.finished_at = datetime.now(UTC)
            state.queue = likers
            if likers:
                return
        state.queue = [
            int(row["user_id"])
            for row in conn.execute(
                f"""SELECT p.user_id FROM interactions s
                JOIN profiles p ON p.user_id = s.target_id JOIN users u ON u.id = p.user_id
                WHERE s.actor_id = %(viewer)s AND s.kind = 'skip'
                  AND s.created_at <= now() - %(cooldown)s::interval AND {rules.RULES}
                  AND {rules.NOT_LIKED} AND {rules.NEAR}
                ORDER BY s.created_at LIMIT %(limit)s""",
                {**params, "limit": feed_batch.FEED_BATCH},
                prepare=True,
            )
        ]

    def undo_skip(self, viewer_id: int, skipped: int, current: int) -> bool:
        """Take back the viewer's latest skip if it was of ``skipped``; the skipped card and
        then the current one come next. False when that skip is not the latest any more."""
        with self._pool.connection() as conn:
            undone = conn.execute(
                """DELETE FROM interactions s
                   WHERE s.actor_id = %(viewer)s AND s.kind = 'skip' AND s.target_id = %(skipped)s
                     AND s.created_at = (SELECT max(created_at) FROM interactions
                                         WHERE actor_id = %(viewer)s AND kind = 'skip')
                   RETURNING 1""",
                {"viewer": viewer_id, "skipped": skipped},
            ).fetchone()
            if undone:
                conn.execute(
                    """UPDATE feed_passes SET queue = ARRAY[%(skipped)s, %(current)s]::bigint[]
                           || array_remove(array_remove(queue, %(skipped)s), %(current)s)
                       WHERE viewer_id = %(viewer)s""",
                    {"viewer": viewer_id, "skipped": skipped, "current": current},
                )
        return undone is not None

    def skip(self, viewer_id: int, target: int) -> bool:
        """Record a skip of a card that was shown; False for one that never was."""
        with self._pool.connection() as conn:
            if not rules.was_shown(conn, viewer_id, target):
                return False
            rules.record(conn, viewer_id, target, "skip")
        return True
