"""The feed in PostgreSQL: the pass each viewer is on, the next card, prefetch, skips.

The pass itself is ``domain.feed_pass`` (the same pure rules ``bench/simulate.py`` runs): this
module keeps its state in ``feed_passes`` and answers its reads (``PassReads``) with SQL —
people who liked the viewer first, then the people visible since the last card, then ranked
pages (storage.feed_batch), and once the pages ran dry the people skipped more than
SKIP_COOLDOWN ago; docs/discovery.md explains the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from domain import feed_pass, geo
from domain.discovery import ProfileCard
from domain.feed_pass import Cursor, PageRow, PassState
from storage import _rules as rules
from storage import feed_batch
from storage._rules import Conn
from storage.accounts import Account
from storage.db import Pool
from storage.feed_batch import CURRENT, Shape

# The scheduler refills the passes of recently active people holding fewer cards than this.
PREFETCH_BELOW = 5
# Candidates checked for one card before saying nobody is left (one may have paused or blocked
# since it was read; each check moves the pass on).
MAX_CHECKS_PER_CARD: Final = feed_pass.FEED_BATCH * feed_pass.MAX_PAGES_PER_CARD

_LIKERS_SQL = f"""SELECT p.user_id FROM interactions l
    JOIN profiles p ON p.user_id = l.actor_id JOIN users u ON u.id = p.user_id
    WHERE l.target_id = %(viewer)s AND l.kind = 'like' AND {rules.RULES}
      AND {rules.VERIFIED_WISH} AND {rules.NOT_LIKED} AND {rules.NEAR} AND {rules.NEVER_SKIPPED}
      AND NOT EXISTS (SELECT 1 FROM interactions v WHERE v.actor_id = %(viewer)s
          AND v.kind = 'view' AND v.target_id = p.user_id AND v.created_at >= %(started)s)
    ORDER BY l.created_at LIMIT %(limit)s"""

_RECYCLED_SQL = f"""SELECT p.user_id FROM interactions s
    JOIN profiles p ON p.user_id = s.target_id JOIN users u ON u.id = p.user_id
    WHERE s.actor_id = %(viewer)s AND s.kind = 'skip'
      AND s.created_at <= now() - %(cooldown)s::interval AND {rules.RULES}
      AND {rules.VERIFIED_WISH} AND {rules.NOT_LIKED} AND {rules.NEAR}
    ORDER BY s.created_at LIMIT %(limit)s"""


@dataclass(frozen=True, slots=True)
class FeedCard:
    card: ProfileCard
    widened_to_km: int | None = None  # set on the first card of a pass with a wider radius


@dataclass
class StoredPass:
    """A viewer's ``feed_passes`` row: the pass's pure state and the radius it was begun
    with (possibly widened, and whether the viewer was told)."""

    state: PassState
    radius_km: int
    widened: bool = False
    widened_told: bool = False
    # The first rows of a new pass, read while choosing its radius: they serve as its first
    # pages instead of reading them again.
    first_page: list[PageRow] = field(default_factory=list)


def filters_of(viewer: Account) -> str:
    """What a pass depends on: a changed wish or place starts a new pass."""
    coordinates = (
        f"{viewer.latitude:.4f},{viewer.longitude:.4f},{viewer.radius_km}"
        if viewer.has_location
        else ""
    )
    return "|".join(
        str(part)
        for part in (
            viewer.gender,
            viewer.seeking,
            viewer.age,
            viewer.age_min,
            viewer.age_max,
            f"city:{viewer.city_key}",
            coordinates,
            *(("verified-only",) if viewer.verified_only else ()),
        )
    )


class _Reads:
    """``domain.feed_pass.PassReads`` in SQL for one viewer inside one transaction."""

    def __init__(self, conn: Conn, viewer: Account, stored: StoredPass, shape: Shape) -> None:
        self._conn, self._viewer, self._stored, self._shape = conn, viewer, stored, shape
        self._params = rules.rule_params(viewer, stored.radius_km)
        # Candidates the card's last check refused (one paused or blocked a moment ago): the
        # reads that are not cursors would offer them again on every call.
        self.refused: set[int] = set()

    def likers(self, started_at: datetime, limit: int) -> Sequence[int]:
        state = self._stored.state
        if not self._shape.likers_every_card and (state.queue or state.likers):
            return state.likers  # read again only with the next page
        rows = self._conn.execute(
            _LIKERS_SQL, {**self._params, "started": started_at, "limit": limit}, prepare=True
        ).fetchall()
        return [int(row["user_id"]) for row in rows if row["user_id"] not in self.refused]

    def page(self, after: Cursor, limit: int) -> Sequence[PageRow]:
        # The rows read while choosing the radius serve the pages they cover in full.
        below = [
            row
            for row in self._stored.first_page
            if (row.score, row.user_id) < (after.score, after.user_id)
        ]
        if len(below) >= limit:
            return below[:limit]
        self._stored.first_page = []
        return feed_batch.read(
            self._conn,
            feed_batch.Page(
                self._viewer,
                self._stored.radius_km,
                after,
                self._stored.state.started_at,
                limit,
                self._shape,
            ),
        )

    def fresh(self, since: datetime) -> Sequence[int]:
        if not self._shape.fresh:
            return ()
        return feed_batch.fresh(
            self._conn, self._viewer, self._stored.radius_km, since, self._shape
        )

    def recycled(self, limit: int) -> Sequence[int]:
        rows = self._conn.execute(
            _RECYCLED_SQL, {**self._params, "limit": limit}, prepare=True
        ).fetchall()
        return [int(row["user_id"]) for row in rows if row["user_id"] not in self.refused]

    def rank(self, candidates: Sequence[int]) -> list[int]:
        return feed_batch.rank(self._conn, self._viewer, candidates) if candidates else []


class Feed:
    def __init__(self, pool: Pool, shape: Shape = CURRENT) -> None:
        """The feed over ``pool``; ``shape`` is how its reads are written (production runs
        ``CURRENT``, bench/feed.py also ``BASELINE``)."""
        self._pool, self._shape = pool, shape

    @property
    def shape(self) -> Shape:
        return self._shape

    def _settings(self, conn: Conn, *statements: str) -> None:
        """The feed transaction's settings: these, and the shape's work_mem and JIT. Its
        queries run for milliseconds: compiling one just in time, which the server does for
        any plan costed above ``jit_above_cost`` (a generic plan blind to its values, a page
        over many cells), costs hundreds of milliseconds and never pays back."""
        if self._shape.work_mem is not None:
            statements = (f"SET LOCAL work_mem = '{self._shape.work_mem}'", *statements)
        if not self._shape.jit:
            statements = ("SET LOCAL jit = off", *statements)
        conn.execute("; ".join(statements))

    def next_card(self, viewer: Account) -> FeedCard | None:
        """The next card for the viewer (``domain.feed_pass.next_candidate``), recorded as
        viewed; None when nobody is left."""
        with self._pool.connection() as conn:
            # A view and the pass's cursor are cheap to lose in a crash (a card may be shown
            # again), so this commit does not wait for the disk; likes and matches do. The
            # queries by key (each joins a dozen relations: planning them costs more than
            # running them) are prepared at once and keep one generic plan per connection;
            # the page query is never prepared (feed_batch).
            self._settings(
                conn,
                "SET LOCAL synchronous_commit = off",
                "SET LOCAL plan_cache_mode = force_generic_plan",
            )
            now, stored = self._pass(conn, viewer)
            reads = _Reads(conn, viewer, stored, self._shape)
            params = rules.rule_params(viewer, stored.radius_km)
            for _ in range(MAX_CHECKS_PER_CARD):
                candidate, stored.state = feed_pass.next_candidate(stored.state, reads, now)
                if candidate is None:
                    break
                row = conn.execute(
                    f"SELECT {rules.CARD_COLUMNS} FROM profiles p"
                    " JOIN users u ON u.id = p.user_id"
                    f" WHERE p.user_id = %(candidate)s AND {rules.SHOWABLE}",
                    {**params, "candidate": candidate},
                    prepare=True,
                ).fetchone()
                if row is None:
                    reads.refused.add(candidate)
                    continue
                rules.record(conn, viewer.id, candidate, "view")
                widened = None
                if stored.widened and not stored.widened_told:
                    widened, stored.widened_told = stored.radius_km, True
                self._save(conn, viewer.id, stored)
                return FeedCard(rules.card_of(row), widened)
            self._save(conn, viewer.id, stored)
            return None

    def prefetch(self, viewer: Account) -> int:
        """Fill the viewer's pass ahead of their next card, so that it comes straight from the
        queue; the number of cards waiting. The scheduler runs it for people active lately."""
        with self._pool.connection() as conn:
            self._settings(conn, "SET LOCAL synchronous_commit = off")
            now, stored = self._pass(conn, viewer)
            if not stored.state.queue:
                reads = _Reads(conn, viewer, stored, self._shape)
                stored.state = feed_pass.refill(stored.state, reads, now)
            self._save(conn, viewer.id, stored)
            return len(stored.state.queue)

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

    def _pass(self, conn: Conn, viewer: Account) -> tuple[datetime, StoredPass]:
        """The viewer's current pass (locked for this transaction), started over when
        ``domain.feed_pass.is_current`` says so; a new pass of a viewer with coordinates
        chooses its radius (``domain.geo.choose_radius``) over every place it reads."""
        # The database's clock, which stamps visible_since too: the fresh read's watermark must
        # not depend on a node's clock.
        row = conn.execute(
            "SELECT now() AS now, * FROM feed_passes WHERE viewer_id = %s FOR UPDATE",
            (viewer.id,),
            prepare=True,
        ).fetchone()
        now: datetime = row["now"] if row is not None else _now(conn)
        filters = filters_of(viewer)
        if row is not None:
            state = _state_of(row)
            if feed_pass.is_current(state, filters, now):
                stored = StoredPass(state, row["radius_km"], row["widened"], row["widened_told"])
                return now, stored
        stored = StoredPass(feed_pass.start_pass(filters, now), viewer.radius_km)
        if viewer.has_location:
            probed: dict[int, list[PageRow]] = {}

            def count_within(km: int) -> int:
                probed[km] = feed_batch.read_visible(
                    conn, viewer, km, now, geo.MIN_NEARBY_CANDIDATES, self._shape
                )
                return sum(row.visible for row in probed[km])

            choice = geo.choose_radius(viewer.radius_km, count_within)
            stored.radius_km, stored.widened = choice.radius_km, choice.widened
            stored.first_page = probed[choice.radius_km]
        return now, stored

    def _save(self, conn: Conn, viewer_id: int, stored: StoredPass) -> None:
        state = stored.state
        conn.execute(
            """INSERT INTO feed_passes AS f (viewer_id, filters, radius_km, widened, widened_told,
                   after_score, after_id, likers, queue, started_at, finished_at, fresh_since,
                   admitted_ids, admitted_at)
               VALUES (%(viewer)s, %(filters)s, %(radius)s, %(widened)s, %(told)s, %(score)s,
                       %(id)s, %(likers)s, %(queue)s, %(started)s, %(finished)s, %(fresh)s,
                       %(admitted_ids)s, %(admitted_at)s)
               ON CONFLICT (viewer_id) DO UPDATE SET filters = excluded.filters,
                   radius_km = excluded.radius_km, widened = excluded.widened,
                   widened_told = excluded.widened_told, after_score = excluded.after_score,
                   after_id = excluded.after_id, likers = excluded.likers,
                   queue = excluded.queue, started_at = excluded.started_at,
                   finished_at = excluded.finished_at, fresh_since = excluded.fresh_since,
                   admitted_ids = excluded.admitted_ids, admitted_at = excluded.admitted_at""",
            {
                "viewer": viewer_id,
                "filters": state.filters,
                "radius": stored.radius_km,
                "widened": stored.widened,
                "told": stored.widened_told,
                "score": state.cursor.score,
                "id": state.cursor.user_id,
                "likers": list(state.likers),
                "queue": list(state.queue),
                "started": state.started_at,
                "finished": state.finished_at,
                "fresh": state.fresh_since,
                "admitted_ids": [uid for uid, _ in state.admitted],
                "admitted_at": [at for _, at in state.admitted],
            },
            prepare=True,
        )

    def current_pass(self, viewer: Account) -> StoredPass:
        """The viewer's pass as the next card would use it (started if due, not saved)."""
        with self._pool.connection() as conn:
            return self._pass(conn, viewer)[1]

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


def _now(conn: Conn) -> datetime:
    row = conn.execute("SELECT now() AS now", prepare=True).fetchone()
    assert row is not None
    return row["now"]  # type: ignore[no-any-return]


def _state_of(row: Any) -> PassState:
    return PassState(
        filters=row["filters"],
        started_at=row["started_at"],
        cursor=Cursor(row["after_score"], row["after_id"]),
        likers=tuple(row["likers"]),
        queue=tuple(row["queue"]),
        finished_at=row["finished_at"],
        fresh_since=row["fresh_since"],
        admitted=tuple(zip(row["admitted_ids"], row["admitted_at"], strict=True)),
    )
