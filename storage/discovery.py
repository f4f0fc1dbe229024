"""Discovery in PostgreSQL: the feed, views, likes, skips, matches, blocks, reports, chat
metadata and like notices.

The candidate rules are ``domain.filters`` written as SQL: one fragment per rule group below,
shared by every query that decides who may be shown, liked or answered. The feed reads
candidates in rank order (``profiles.feed_score``, the combined rating, then the user id) from
a keyset cursor kept in ``feed_passes``, one (place, gender) index range at a time, and stops
at LIMIT; docs/discovery.md explains the plan and its measurements (bench/feed.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from psycopg import Connection, sql
from psycopg.rows import DictRow

from domain import geo
from domain.filters import SKIP_COOLDOWN
from domain.ranking import (
    DEFAULT_AGE_MAX,
    DEFAULT_AGE_MIN,
    DEFAULT_PRIOR_LIKE_RATE,
    IMPRESSION_HALF_LIFE_DAYS,
    CandidateRating,
    FeedCandidate,
    ProfileFeatures,
    decay_sql,
    order_feed,
)
from presentation.cards import MatchSummary, ProfileCard, ReportLine
from storage.accounts import Account
from storage.db import Pool

Conn = Connection[DictRow]

# Views a candidate received lately, decayed by a day's half-life: the popularity cap's input.
_IMPRESSION_DECAY = decay_sql("i.created_at", half_life_days=IMPRESSION_HALF_LIFE_DAYS)

# The scheduler refills the passes of recently active people holding fewer cards than this.
PREFETCH_BELOW = 5

# Cards chosen per refill of a pass: the ranking reorders each batch for the viewer.
FEED_BATCH: Final = 20
# People who already liked the viewer placed at the front of each batch.
LIKERS_PER_BATCH: Final = 5
# A pass starts over after a day (new people, changed ratings), and an hour after it ran dry.
PASS_MAX_AGE: Final = timedelta(hours=24)
FINISHED_PASS_RETRY: Final = timedelta(hours=1)
# Refills tried for one card before saying nobody is left (each refill moves the cursor on).
MAX_REFILLS_PER_CARD: Final = 5
# Grid cells of coordinates (the schema's generated columns cell_small / cell_large).
SMALL_CELL_DEGREES: Final = 0.25
LARGE_CELL_DEGREES: Final = 2.0
MAX_SMALL_CELLS: Final = 64
LIKE_WINDOW: Final = timedelta(days=1)
# Room for the hashed set of everyone a viewer decided on (about 60 bytes each): a set that
# does not fit is scanned once per candidate instead, which would be very slow.
FEED_WORK_MEM: Final = "32MB"
PAIR_LOCK_PREFIX: Final = "pair"
# A like handled again within this time after its match was made tells of the match again: a
# node may have died between committing the match and telling of it, and updates are given out
# again only within Telegram's 24 hours. The other's notice is sent once whatever happens (its
# send key lives in the reply journal for 26 hours).
RETELL_MATCH_WITHIN: Final = timedelta(hours=24)


def cell_of(latitude: float, longitude: float, size_degrees: float) -> int:
    """The grid cell of a point, exactly as the schema's generated columns compute it."""
    columns = int(360 / size_degrees) + 1
    return math.floor((latitude + 90) / size_degrees) * columns + math.floor(
        (longitude + 180) / size_degrees
    )


def cells_around(latitude: float, longitude: float, radius_km: float) -> tuple[str, list[int]]:
    """The cell column and the cells covering every point within radius_km: small cells when
    few of them do, else large ones (so a wide radius stays a few dozen index ranges)."""
    min_lat, max_lat, min_lon, max_lon = geo.bounding_box(latitude, longitude, radius_km)
    for column, size in (("cell_small", SMALL_CELL_DEGREES), ("cell_large", LARGE_CELL_DEGREES)):
        columns = int(360 / size) + 1
        rows = range(math.floor((min_lat + 90) / size), math.floor((max_lat + 90) / size) + 1)
        cols = range(math.floor((min_lon + 180) / size), math.floor((max_lon + 180) / size) + 1)
        if len(rows) * len(cols) <= MAX_SMALL_CELLS or column == "cell_large":
            return column, [row * columns + col for row in rows for col in cols]
    raise AssertionError("unreachable")


# -- the rules (domain.filters) as SQL over a candidate p JOIN users u -----------------------

_SELF = "p.user_id <> %(viewer)s"
_USER_VISIBLE = """u.onboarding_step IS NULL
    AND NOT (u.is_paused OR u.is_banned OR u.is_inactive OR u.is_hidden)
    AND EXISTS (SELECT 1 FROM photos ph WHERE ph.user_id = u.id)"""
_VISIBLE = f"p.completed_at IS NOT NULL AND {_USER_VISIBLE}"
# Blocks either way and matches (of any status) are a few rows per viewer: read once per query
# and hashed (NOT IN over an uncorrelated subquery), so each scanned candidate costs a lookup.
_NOT_BLOCKED = """p.user_id NOT IN (SELECT b.blocked_id FROM blocks b
                                 WHERE b.blocker_id = %(viewer)s)
    AND p.user_id NOT IN (SELECT b.blocker_id FROM blocks b WHERE b.blocked_id = %(viewer)s)"""
_NOT_MATCHED = """p.user_id NOT IN (SELECT m.user_high FROM matches m WHERE m.user_low = %(viewer)s)
    AND p.user_id NOT IN (SELECT m.user_low FROM matches m WHERE m.user_high = %(viewer)s)"""
# One candidate at a time: a probe of the primary key.
_NOT_LIKED = """NOT EXISTS (SELECT 1 FROM interactions li
    WHERE li.actor_id = %(viewer)s AND li.kind = 'like' AND li.target_id = p.user_id)"""
# The feed's scan over many candidates: everyone the viewer liked or skipped (thousands), read
# once from the primary key and hashed, so passing over seen people costs a lookup each.
_UNDECIDED = """p.user_id NOT IN (SELECT d.target_id FROM interactions d
    WHERE d.actor_id = %(viewer)s AND d.kind IN ('like', 'skip'))"""
_WISHES = f"""(%(seeking)s::text = 'any' OR p.gender = %(seeking)s::text)
    AND (p.seeking = 'any' OR p.seeking = %(gender)s::text)
    AND p.age BETWEEN %(age_min)s::int AND %(age_max)s::int
    AND %(age)s::int BETWEEN coalesce(p.age_min, {DEFAULT_AGE_MIN})
                         AND coalesce(p.age_max, {DEFAULT_AGE_MAX})"""
_DISTANCE = "km_between(%(lat)s::float8, %(lon)s::float8, p.latitude, p.longitude) <= %(radius)s"
# The same with a bounding box first: plain comparisons reject most of a cell before the
# trigonometry (domain.geo.bounding_box).
_BOXED_DISTANCE = f"""p.latitude BETWEEN %(min_lat)s AND %(max_lat)s
    AND p.longitude BETWEEN %(min_lon)s AND %(max_lon)s AND {_DISTANCE}"""
_NEAR = f"""(p.city_key = %(city_key)s::text
    OR (%(lat)s::float8 IS NOT NULL AND p.latitude IS NOT NULL AND {_DISTANCE}))"""
_NEVER_SKIPPED = """NOT EXISTS (SELECT 1 FROM interactions sk
    WHERE sk.actor_id = %(viewer)s AND sk.kind = 'skip' AND sk.target_id = p.user_id)"""
_NOT_SKIPPED_RECENTLY = """NOT EXISTS (SELECT 1 FROM interactions sk
    WHERE sk.actor_id = %(viewer)s AND sk.kind = 'skip' AND sk.target_id = p.user_id
      AND sk.created_at > now() - %(cooldown)s::interval)"""
# What the profile row alone decides (index-only in the feed's scan): not the viewer, no block
# either way, no match, both wishes.
_PROFILE_RULES = " AND ".join((_SELF, _NOT_BLOCKED, _NOT_MATCHED, _WISHES))
# Everything but the place, likes and skips: who may be shown to this viewer at all.
_RULES = f"{_PROFILE_RULES} AND {_VISIBLE}"
# A card may be served now: the rules, not liked, the place, and no skip inside the cooldown.
_SHOWABLE = f"{_RULES} AND {_NOT_LIKED} AND {_NEAR} AND {_NOT_SKIPPED_RECENTLY}"

_CARD_COLUMNS = """p.user_id, p.name, p.age, p.city, p.about, p.interests, p.latitude,
    p.longitude,
    (SELECT ph.telegram_file_id FROM photos ph WHERE ph.user_id = p.user_id
     ORDER BY ph.position LIMIT 1) AS photo_file_id,
    (SELECT lm.message FROM interactions lm WHERE lm.actor_id = p.user_id AND lm.kind = 'like'
       AND lm.target_id = %(viewer)s) AS like_message"""

# One ranked batch of the pass: each (place, gender) range read index-only in rank order after
# the cursor with what the profile row decides, merged and cut at LIMIT; only then are the
# chosen few looked up in users and photos (visible or not: the cursor moves past both).
# {column} is city_key, cell_small or cell_large.
_BATCH_SQL = """
WITH ranked AS (
    SELECT c.user_id, c.feed_score
    FROM unnest(%(areas)s::{area_type}[]) AS area(key)
    CROSS JOIN unnest(%(genders)s::text[]) AS g(gender)
    CROSS JOIN LATERAL (
        SELECT p.user_id, p.feed_score
        FROM profiles p
        WHERE p.{column} = area.key AND p.gender = g.gender AND p.completed_at IS NOT NULL
          AND (p.feed_score, p.user_id) < (%(after_score)s::float8, %(after_id)s::bigint)
          AND {place} AND {rules} AND {undecided}
        ORDER BY p.feed_score DESC, p.user_id DESC
        LIMIT %(limit)s
    ) c
    ORDER BY c.feed_score DESC, c.user_id DESC
    LIMIT %(limit)s
)
SELECT r.user_id, r.feed_score, ({visible}) AS visible
FROM ranked r JOIN users u ON u.id = r.user_id
ORDER BY r.feed_score DESC, r.user_id DESC
"""

_PENDING_LIKERS = f"""FROM interactions l
    JOIN profiles p ON p.user_id = l.actor_id JOIN users u ON u.id = l.actor_id
    WHERE l.target_id = %(viewer)s AND l.kind = 'like' AND {_VISIBLE} AND {_NOT_BLOCKED}
      AND {_NOT_MATCHED}
      AND NOT EXISTS (SELECT 1 FROM interactions sk WHERE sk.actor_id = %(viewer)s
                      AND sk.kind = 'skip' AND sk.target_id = p.user_id
                      AND sk.created_at >= l.created_at)"""

_PARTY_SQL = """SELECT u.id AS user_id, u.chat_id, u.language, u.username, u.show_username,
       u.is_banned, u.is_inactive, p.name
FROM users u LEFT JOIN profiles p ON p.user_id = u.id WHERE u.id = %s"""


@dataclass(frozen=True, slots=True)
class Party:
    """Another user as far as notifying them and naming them to a match goes."""

    user_id: int
    chat_id: int
    language: str
    username: str | None
    show_username: bool
    is_banned: bool
    is_inactive: bool
    name: str | None


@dataclass(frozen=True, slots=True)
class BatchRow:
    user_id: int
    feed_score: float
    visible: bool  # a finished, visible account with a photo (else passed over)


@dataclass(frozen=True, slots=True)
class FeedCard:
    card: ProfileCard
    widened_to_km: int | None = None  # set on the first card of a pass with a wider radius


@dataclass
class FeedPass:
    filters: str
    radius_km: int
    widened: bool
    widened_told: bool
    after_score: float
    after_id: int
    queue: list[int]
    started_at: datetime
    finished_at: datetime | None
    # The first rows of the pass, read while choosing its radius (the last radius probed is
    # the one chosen): they serve as the first batch instead of reading them again.
    first_rows: list[BatchRow] = field(default_factory=list)


class LikeStatus(StrEnum):
    LIKED = "liked"
    MATCHED = "matched"
    ALREADY_LIKED = "already_liked"
    NOT_SHOWN = "not_shown"  # never served to the liker: forged or foreign data
    UNAVAILABLE = "unavailable"  # hidden, blocked, or the pair was matched before
    LIMIT_REACHED = "limit_reached"


@dataclass(frozen=True, slots=True)
class LikeResult:
    status: LikeStatus
    target: Party | None = None
    # True: this call made the match. False with MATCHED: an earlier handling of the same like
    # made it, and it is told again (Discovery.like).
    match_created: bool = False
    notice_count: int = 0  # > 0: send the "someone likes you" notice now


class ChatStatus(StrEnum):
    ACTIVE = "active"
    UNMATCHED = "unmatched"
    BLOCKED = "blocked"
    NOT_MATCHED = "not_matched"
    UNAVAILABLE = "unavailable"  # the other one is banned or gone


@dataclass(frozen=True, slots=True)
class ChatCheck:
    status: ChatStatus
    match_id: int | None = None
    partner: Party | None = None
    sender: Party | None = None
    recorded: bool = False  # this update was recorded now (not a repeat)


@dataclass(frozen=True, slots=True)
class ReportCase:
    card: ProfileCard
    reports: list[ReportLine] = field(default_factory=list)
    hidden: bool = False


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
        )
    )


def _params(viewer: Account, radius_km: int) -> dict[str, Any]:
    return {
        "viewer": viewer.id,
        "gender": viewer.gender,
        "seeking": viewer.seeking or "any",
        "age": viewer.age,
        "age_min": viewer.age_min or DEFAULT_AGE_MIN,
        "age_max": viewer.age_max or DEFAULT_AGE_MAX,
        "city_key": viewer.city_key,
        "lat": viewer.latitude,
        "lon": viewer.longitude,
        "radius": radius_km,
        "cooldown": SKIP_COOLDOWN,
    }


def _genders(viewer: Account) -> list[str]:
    return ["m", "f"] if (viewer.seeking or "any") == "any" else [viewer.seeking or "any"]


def _card(row: DictRow) -> ProfileCard:
    return ProfileCard(
        user_id=int(row["user_id"]),
        name=row["name"],
        age=row["age"],
        city=row["city"],
        about=row["about"],
        interests=tuple(row["interests"] or ()),
        latitude=row["latitude"],
        longitude=row["longitude"],
        photo_file_id=row["photo_file_id"],
        like_message=row["like_message"],
    )


def _party(row: DictRow | None) -> Party | None:
    return Party(**row) if row else None


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


class Discovery:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    # -- the feed -------------------------------------------------------------------------

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
            params = _params(viewer, state.radius_km)
            for _ in range(MAX_REFILLS_PER_CARD):
                if not state.queue:
                    self._refill(conn, viewer, state, params)
                    if not state.queue:
                        break
                while state.queue:
                    candidate = state.queue.pop(0)
                    row = conn.execute(
                        f"SELECT {_CARD_COLUMNS} FROM profiles p JOIN users u ON u.id = p.user_id"
                        f" WHERE p.user_id = %(candidate)s AND {_SHOWABLE}",
                        {**params, "candidate": candidate},
                        prepare=True,
                    ).fetchone()
                    if row is None:
                        continue
                    self._record(conn, viewer.id, candidate, "view")
                    widened = None
                    if state.widened and not state.widened_told:
                        widened, state.widened_told = state.radius_km, True
                    self._save(conn, viewer.id, state)
                    return FeedCard(_card(row), widened)
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
                self._refill(conn, viewer, state, _params(viewer, state.radius_km))
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
                state.first_rows = self.feed_batch(conn, viewer, state, geo.MIN_NEARBY_CANDIDATES)
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

    def _batch_query(self, viewer: Account, radius_km: int) -> tuple[sql.Composed, dict[str, Any]]:
        """The batch query for the viewer's place, and the place's parameters."""
        if viewer.has_location:
            assert viewer.latitude is not None and viewer.longitude is not None
            column, cells = cells_around(viewer.latitude, viewer.longitude, radius_km)
            box = geo.bounding_box(viewer.latitude, viewer.longitude, radius_km)
            area_type, place = "integer", _BOXED_DISTANCE
            values: dict[str, Any] = {
                "areas": cells,
                **dict(zip(("min_lat", "max_lat", "min_lon", "max_lon"), box, strict=True)),
            }
        else:
            column, area_type, place = "city_key", "text", "true"
            values = {"areas": [viewer.city_key]}
        query = sql.SQL(_BATCH_SQL).format(
            column=sql.Identifier(column),
            area_type=sql.SQL(area_type),
            place=sql.SQL(place),
            rules=sql.SQL(_PROFILE_RULES),
            undecided=sql.SQL(_UNDECIDED),
            visible=sql.SQL(_USER_VISIBLE),
        )
        return query, values

    def feed_batch_query(
        self, viewer: Account, state: FeedPass, limit: int = FEED_BATCH
    ) -> tuple[sql.Composed, dict[str, Any]]:
        """The query of one ranked batch after the pass's cursor, and its parameters."""
        query, place = self._batch_query(viewer, state.radius_km)
        return query, {
            **_params(viewer, state.radius_km),
            **place,
            "genders": _genders(viewer),
            "after_score": state.after_score,
            "after_id": state.after_id,
            "limit": limit,
        }

    def feed_batch(
        self, conn: Conn, viewer: Account, state: FeedPass, limit: int = FEED_BATCH
    ) -> list[BatchRow]:
        """The next candidates after the pass's cursor, in rank order, visible or not.

        Always planned for this viewer's own places and sets (about a millisecond): a generic
        plan, blind to them, can be slower by orders of magnitude."""
        mode = conn.execute("SELECT current_setting('plan_cache_mode') AS mode").fetchone()
        conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        try:
            rows = conn.execute(
                *self.feed_batch_query(viewer, state, limit), prepare=False
            ).fetchall()
        finally:
            if mode is not None:
                conn.execute("SELECT set_config('plan_cache_mode', %s, true)", (mode["mode"],))
        return [
            BatchRow(int(row["user_id"]), float(row["feed_score"]), bool(row["visible"]))
            for row in rows
        ]

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
                    WHERE l.target_id = %(viewer)s AND l.kind = 'like' AND {_RULES}
                      AND {_NOT_LIKED} AND {_NEAR} AND {_NEVER_SKIPPED}
                      AND NOT EXISTS (SELECT 1 FROM interactions v WHERE v.actor_id = %(viewer)s
                          AND v.kind = 'view' AND v.target_id = p.user_id
                          AND v.created_at >= %(started)s)
                    ORDER BY l.created_at LIMIT %(limit)s""",
                    {**params, "started": state.started_at, "limit": LIKERS_PER_BATCH},
                    prepare=True,
                )
            ]
            batch = state.first_rows[:FEED_BATCH] or self.feed_batch(conn, viewer, state)
            state.first_rows = []
            if batch:
                state.after_id, state.after_score = batch[-1].user_id, batch[-1].feed_score
                ranked = self._rank(conn, viewer, [row.user_id for row in batch if row.visible])
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
                  AND s.created_at <= now() - %(cooldown)s::interval AND {_RULES}
                  AND {_NOT_LIKED} AND {_NEAR}
                ORDER BY s.created_at LIMIT %(limit)s""",
                {**params, "limit": FEED_BATCH},
                prepare=True,
            )
        ]

    def _rank(self, conn: Conn, viewer: Account, ids: Sequence[int]) -> list[int]:
        """The batch in the order domain.ranking.order_feed gives this viewer: with the
        viewer's own like rate against their gender's prior (reciprocity) and each
        candidate's recent impressions against the platform's mean (the popularity cap),
        as the last rating sweep measured them."""
        rows = conn.execute(
            f"""SELECT p.user_id, p.age, p.gender, p.seeking, p.age_min, p.age_max, p.city_key,
                      p.latitude, p.longitude, p.radius_km, p.interests,
                      coalesce(char_length(p.about), 0) AS about_len,
                      (SELECT count(*) FROM photos ph WHERE ph.user_id = p.user_id) AS photos,
                      p.name IS NOT NULL AS has_name, u.created_at, u.last_active_at,
                      coalesce(r.primary_score, 0) AS primary_score,
                      coalesce(r.behaviour_score, 0) AS behaviour_score,
                      coalesce(r.components, '{{}}') AS components,
                      EXISTS (SELECT 1 FROM interactions l WHERE l.actor_id = p.user_id
                              AND l.kind = 'like' AND l.target_id = %(viewer)s) AS liked_viewer,
                      (SELECT coalesce(sum({_IMPRESSION_DECAY}), 0) FROM interactions i
                       WHERE i.target_id = p.user_id AND i.kind = 'view'
                         AND i.created_at > now() - interval '7 days') AS impressions
               FROM profiles p JOIN users u ON u.id = p.user_id
               LEFT JOIN ratings r ON r.user_id = p.user_id
               WHERE p.user_id = ANY(%(ids)s)""",
            {"viewer": viewer.id, "ids": list(ids)},
            prepare=True,
        ).fetchall()
        candidates = [
            FeedCandidate(
                _features(row),
                _rating(row["primary_score"], row["behaviour_score"], row["components"]),
                liked_viewer=bool(row["liked_viewer"]),
                recent_impressions=float(row["impressions"]),
            )
            for row in rows
        ]
        viewer_features = ProfileFeatures(
            user_id=viewer.id,
            age=viewer.age,
            gender=viewer.gender,
            seeking=viewer.seeking,
            age_min=viewer.age_min,
            age_max=viewer.age_max,
            city_key=viewer.city_key,
            latitude=viewer.latitude,
            longitude=viewer.longitude,
            radius_km=viewer.radius_km,
            interests=frozenset(viewer.interests),
            about_len=len(viewer.about or ""),
            photo_count=len(viewer.photos),
            has_name=viewer.name is not None,
            created_at=viewer.created_at,
            last_active_at=viewer.last_active_at,
        )
        context = conn.execute(
            """SELECT (SELECT components FROM ratings WHERE user_id = %(viewer)s) AS own,
                      (SELECT value FROM ranking_stats
                       WHERE name = 'mean_recent_impressions') AS mean_impressions""",
            {"viewer": viewer.id},
            prepare=True,
        ).fetchone()
        own = _components(context["own"] if context else None)
        prior = float(own.get("prior_like_rate", DEFAULT_PRIOR_LIKE_RATE))
        ordered = order_feed(
            viewer_features,
            candidates,
            datetime.now(UTC),
            viewer_like_rate=float(own.get("like_rate", prior)),
            prior_like_rate=prior,
            mean_recent_impressions=float((context or {}).get("mean_impressions") or 0.0),
        )
        return [candidate.profile.user_id for candidate in ordered]

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

    # -- interactions ---------------------------------------------------------------------

    @staticmethod
    def _record(conn: Conn, actor: int, target: int, kind: str) -> None:
        conn.execute(
            """INSERT INTO interactions (actor_id, target_id, kind) VALUES (%s, %s, %s)
               ON CONFLICT (actor_id, kind, target_id) DO UPDATE SET created_at = now()""",
            (actor, target, kind),
            prepare=True,
        )

    @staticmethod
    def _was_shown(conn: Conn, viewer: int, target: int) -> bool:
        return (
            conn.execute(
                """SELECT 1 FROM interactions WHERE actor_id = %s AND kind = 'view'
               AND target_id = %s""",
                (viewer, target),
                prepare=True,
            ).fetchone()
            is not None
        )

    def skip(self, viewer_id: int, target: int) -> bool:
        """Record a skip of a card that was shown; False for one that never was."""
        with self._pool.connection() as conn:
            if not self._was_shown(conn, viewer_id, target):
                return False
            self._record(conn, viewer_id, target, "skip")
        return True

    def like(
        self, actor: int, target: int, message: str | None, *, daily_limit: int, notice_minutes: int
    ) -> LikeResult:
        """Record a like once, and the match when the like is mutual.

        The pair's advisory lock serialises the two likes of a pair, so of two people liking
        each other at the same instant (on any nodes) the second sees the first's like and
        makes the match; the unique pair makes sure there is only one."""
        low, high = _pair(actor, target)
        with self._pool.connection() as conn:
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"{PAIR_LOCK_PREFIX}:{low}:{high}",),
            )
            if not self._was_shown(conn, actor, target):
                return LikeResult(LikeStatus.NOT_SHOWN)
            params = {"viewer": actor, "target": target}
            available = conn.execute(
                f"""SELECT 1 FROM profiles p JOIN users u ON u.id = p.user_id
                    WHERE p.user_id = %(target)s AND {_SELF} AND {_VISIBLE}
                      AND {_NOT_BLOCKED}""",
                params,
            ).fetchone()
            if available is None:
                return LikeResult(LikeStatus.UNAVAILABLE)
            target_party = _party(conn.execute(_PARTY_SQL, (target,)).fetchone())
            if conn.execute(
                """SELECT 1 FROM interactions WHERE actor_id = %(viewer)s
                               AND kind = 'like' AND target_id = %(target)s""",
                params,
            ).fetchone():
                # The same like handled again (its node died after committing it): the match
                # it made is told again, the other's notice once per pair (its send key).
                if conn.execute(
                    """SELECT 1 FROM matches WHERE user_low = %s AND user_high = %s
                           AND status = 'active' AND created_at > now() - %s::interval""",
                    (low, high, RETELL_MATCH_WITHIN),
                ).fetchone():
                    return LikeResult(LikeStatus.MATCHED, target_party)
                return LikeResult(LikeStatus.ALREADY_LIKED, target_party)
            if conn.execute(
                "SELECT 1 FROM matches WHERE user_low = %s AND user_high = %s", (low, high)
            ).fetchone():
                return LikeResult(LikeStatus.UNAVAILABLE)
            given = conn.execute(
                """SELECT count(*) AS n FROM interactions WHERE actor_id = %s AND kind = 'like'
                   AND created_at > now() - %s::interval""",
                (actor, LIKE_WINDOW),
            ).fetchone()
            if given is not None and given["n"] >= daily_limit:
                return LikeResult(LikeStatus.LIMIT_REACHED, target_party)
            conn.execute(
                """INSERT INTO interactions (actor_id, target_id, kind, message)
                   VALUES (%s, %s, 'like', %s) ON CONFLICT DO NOTHING""",
                (actor, target, message),
            )
            if conn.execute(
                """SELECT 1 FROM interactions WHERE actor_id = %(target)s
                               AND kind = 'like' AND target_id = %(viewer)s""",
                params,
            ).fetchone():
                created = conn.execute(
                    """INSERT INTO matches (user_low, user_high) VALUES (%s, %s)
                       ON CONFLICT ON CONSTRAINT matches_pair_unique DO NOTHING RETURNING id""",
                    (low, high),
                ).fetchone()
                return LikeResult(LikeStatus.MATCHED, target_party, created is not None)
            conn.execute(
                """INSERT INTO like_notices (user_id, pending) VALUES (%s, true)
                   ON CONFLICT (user_id) DO UPDATE SET pending = true""",
                (target,),
            )
            claimed = conn.execute(
                """UPDATE like_notices SET pending = false, last_sent_at = now()
                   WHERE user_id = %s AND pending
                     AND (last_sent_at IS NULL OR last_sent_at <= now() - %s::interval)
                   RETURNING user_id""",
                (target, timedelta(minutes=notice_minutes)),
            ).fetchone()
            count = self._pending_like_count(conn, target) if claimed else 0
        return LikeResult(LikeStatus.LIKED, target_party, notice_count=count)

    @staticmethod
    def _pending_like_count(conn: Conn, user_id: int) -> int:
        row = conn.execute(
            f"SELECT count(*) AS n {_PENDING_LIKERS}", {"viewer": user_id}
        ).fetchone()
        return int(row["n"]) if row else 0

    def due_like_notices(self, notice_minutes: int) -> list[tuple[Party, int]]:
        """Claim every batched like notice whose quiet time is over (each claimed by exactly
        one caller, on whichever node): the recipient and the number waiting."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                """UPDATE like_notices SET pending = false, last_sent_at = now()
                   WHERE pending AND (last_sent_at IS NULL OR last_sent_at <= now() - %s::interval)
                   RETURNING user_id""",
                (timedelta(minutes=notice_minutes),),
            ).fetchall()
            due: list[tuple[Party, int]] = []
            for row in rows:
                party = _party(conn.execute(_PARTY_SQL, (row["user_id"],)).fetchone())
                count = self._pending_like_count(conn, row["user_id"])
                if party and count and not (party.is_banned or party.is_inactive):
                    due.append((party, count))
        return due

    # -- likes received -------------------------------------------------------------------

    def next_liker(self, viewer_id: int) -> tuple[ProfileCard, int] | None:
        """The longest-waiting person who liked the viewer and got no answer yet (recorded as
        shown, so the answer is accepted), and how many more are waiting."""
        params = {"viewer": viewer_id}
        with self._pool.connection() as conn:
            row = conn.execute(
                f"""SELECT {_CARD_COLUMNS} {_PENDING_LIKERS}
                    ORDER BY l.created_at LIMIT 1""",
                params,
            ).fetchone()
            if row is None:
                return None
            self._record(conn, viewer_id, int(row["user_id"]), "view")
            waiting = self._pending_like_count(conn, viewer_id)
        return _card(row), waiting - 1

    def pending_like_count(self, viewer_id: int) -> int:
        with self._pool.connection() as conn:
            return self._pending_like_count(conn, viewer_id)

    # -- matches --------------------------------------------------------------------------

    def card(self, viewer_id: int, user_id: int) -> ProfileCard | None:
        """Anyone's card as the viewer would see it, without any rule (for notices, matches
        and moderators)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_CARD_COLUMNS} FROM profiles p WHERE p.user_id = %(user)s",
                {"viewer": viewer_id, "user": user_id},
            ).fetchone()
        return _card(row) if row else None

    def party(self, user_id: int) -> Party | None:
        with self._pool.connection() as conn:
            return _party(conn.execute(_PARTY_SQL, (user_id,)).fetchone())

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
        low, high = _pair(viewer_id, other_id)
        with self._pool.connection() as conn:
            row = conn.execute(
                """UPDATE matches SET status = 'unmatched', last_activity_at = now()
                   WHERE user_low = %s AND user_high = %s AND status = 'active'
                   RETURNING id""",
                (low, high),
            ).fetchone()
        return row is not None

    def block(self, viewer_id: int, other_id: int) -> bool:
        """Block someone the viewer was shown or matched with: never shown to each other
        again and any match ends. False for a user the viewer never met (forged data)."""
        low, high = _pair(viewer_id, other_id)
        with self._pool.connection() as conn:
            known = (
                self._was_shown(conn, viewer_id, other_id)
                or conn.execute(
                    "SELECT 1 FROM matches WHERE user_low = %s AND user_high = %s", (low, high)
                ).fetchone()
                is not None
            )
            if not known or viewer_id == other_id:
                return False
            conn.execute(
                """INSERT INTO blocks (blocker_id, blocked_id) VALUES (%s, %s)
                            ON CONFLICT DO NOTHING""",
                (viewer_id, other_id),
            )
            conn.execute(
                """UPDATE matches SET status = 'blocked', last_activity_at = now()
                   WHERE user_low = %s AND user_high = %s AND status <> 'blocked'""",
                (low, high),
            )
        return True

    # -- reports and moderation -----------------------------------------------------------

    def report(self, reporter: int, reported: int, reason: str, *, reports_to_hide: int) -> bool:
        """Record a report of someone the reporter was shown or matched with (once per pair)
        and hide the profile once reports_to_hide distinct people reported it. False for a
        user the reporter never met."""
        low, high = _pair(reporter, reported)
        with self._pool.connection() as conn:
            known = (
                self._was_shown(conn, reporter, reported)
                or conn.execute(
                    "SELECT 1 FROM matches WHERE user_low = %s AND user_high = %s", (low, high)
                ).fetchone()
                is not None
            )
            if not known or reporter == reported:
                return False
            # Serialise reports of one profile so the count below sees every committed one.
            conn.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (reported,))
            conn.execute(
                """INSERT INTO reports (reporter_id, reported_id, reason) VALUES (%s, %s, %s)
                   ON CONFLICT ON CONSTRAINT reports_once_per_reporter DO NOTHING""",
                (reporter, reported, reason),
            )
            conn.execute(
                """UPDATE users SET is_hidden = true WHERE id = %(reported)s AND NOT is_hidden
                     AND (SELECT count(*) FROM reports WHERE reported_id = %(reported)s
                          AND status = 'open') >= %(threshold)s""",
                {"reported": reported, "threshold": reports_to_hide},
            )
        return True

    def comment_report(self, reporter: int, reported: int, comment: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                """UPDATE reports SET comment = %s WHERE reporter_id = %s AND reported_id = %s
                   AND status = 'open'""",
                (comment, reporter, reported),
            )

    def next_report_case(self, moderator_id: int) -> ReportCase | None:
        """The profile whose oldest open report waits longest, with all its open reports."""
        with self._pool.connection() as conn:
            head = conn.execute(
                """SELECT reported_id FROM reports WHERE status = 'open'
                   GROUP BY reported_id ORDER BY min(created_at) LIMIT 1"""
            ).fetchone()
            if head is None:
                return None
            reported = int(head["reported_id"])
            row = conn.execute(
                f"""SELECT {_CARD_COLUMNS}, u.is_hidden FROM profiles p
                    JOIN users u ON u.id = p.user_id WHERE p.user_id = %(user)s""",
                {"viewer": moderator_id, "user": reported},
            ).fetchone()
            lines = conn.execute(
                """SELECT reason, comment FROM reports WHERE reported_id = %s AND status = 'open'
                   ORDER BY created_at""",
                (reported,),
            ).fetchall()
        if row is None:
            return None
        return ReportCase(
            _card(row), [ReportLine(**line) for line in lines], bool(row["is_hidden"])
        )

    def resolve_reports(self, moderator_id: int, reported: int, ban: bool) -> bool:
        """Ban the profile or dismiss its open reports (which shows it again); False if it
        had no open report (already reviewed)."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                """UPDATE reports SET status = %s, reviewed_by = %s, reviewed_at = now()
                   WHERE reported_id = %s AND status = 'open' RETURNING id""",
                ("banned" if ban else "dismissed", moderator_id, reported),
            ).fetchall()
            if not rows:
                return False
            if ban:
                conn.execute("UPDATE users SET is_banned = true WHERE id = %s", (reported,))
            else:
                conn.execute("UPDATE users SET is_hidden = false WHERE id = %s", (reported,))
        return True

    def set_banned(self, user_id: int, banned: bool) -> bool:
        """Ban or unban (which also lifts hiding by reports); False for an unknown user."""
        with self._pool.connection() as conn:
            row = conn.execute(
                """UPDATE users SET is_banned = %(banned)s,
                          is_hidden = CASE WHEN %(banned)s THEN is_hidden ELSE false END
                   WHERE id = %(user)s RETURNING id""",
                {"banned": banned, "user": user_id},
            ).fetchone()
        return row is not None

    # -- chat -----------------------------------------------------------------------------

    def chat_status(self, sender: int, other: int) -> ChatCheck:
        """Whether sender may write to other now, and who both are."""
        with self._pool.connection() as conn:
            return self._chat_status(conn, sender, other)

    def _chat_status(self, conn: Conn, sender: int, other: int) -> ChatCheck:
        low, high = _pair(sender, other)
        match = conn.execute(
            """SELECT m.id, m.status,
                      EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id, b.blocked_id)
                              IN ((%(low)s, %(high)s), (%(high)s, %(low)s))) AS blocked
               FROM matches m WHERE m.user_low = %(low)s AND m.user_high = %(high)s""",
            {"low": low, "high": high},
        ).fetchone()
        partner = _party(conn.execute(_PARTY_SQL, (other,)).fetchone())
        sender_party = _party(conn.execute(_PARTY_SQL, (sender,)).fetchone())
        if match is None or partner is None:
            return ChatCheck(ChatStatus.NOT_MATCHED)
        match_id = int(match["id"])
        if match["blocked"] or match["status"] == "blocked":
            return ChatCheck(ChatStatus.BLOCKED, match_id, partner, sender_party)
        if match["status"] == "unmatched":
            return ChatCheck(ChatStatus.UNMATCHED, match_id, partner, sender_party)
        if partner.is_banned:
            return ChatCheck(ChatStatus.UNAVAILABLE, match_id, partner, sender_party)
        return ChatCheck(ChatStatus.ACTIVE, match_id, partner, sender_party)

    def record_chat_message(self, sender: int, other: int, update_id: int, kind: str) -> ChatCheck:
        """Check the match and record one relayed message (metadata only) once per update:
        the first message starts the conversation, the other one's first message is the
        reply. ``recorded`` is False for a repeated update."""
        with self._pool.connection() as conn:
            check = self._chat_status(conn, sender, other)
            if check.status is not ChatStatus.ACTIVE:
                return check
            inserted = conn.execute(
                """INSERT INTO chat_messages (match_id, sender_id, update_id, kind)
                   VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING match_id""",
                (check.match_id, sender, update_id, kind),
            ).fetchone()
            if inserted:
                conn.execute(
                    """UPDATE matches SET last_activity_at = now(),
                           conversation = CASE
                               WHEN conversation = 'none' THEN 'started'
                               WHEN conversation = 'started' AND started_by <> %(sender)s
                                   THEN 'replied'
                               ELSE conversation END,
                           started_by = coalesce(started_by, %(sender)s)
                       WHERE id = %(match)s""",
                    {"sender": sender, "match": check.match_id},
                )
        return ChatCheck(
            check.status, check.match_id, check.partner, check.sender, recorded=inserted is not None
        )


def _features(row: DictRow) -> ProfileFeatures:
    return ProfileFeatures(
        user_id=int(row["user_id"]),
        age=row["age"],
        gender=row["gender"],
        seeking=row["seeking"],
        age_min=row["age_min"],
        age_max=row["age_max"],
        city_key=row["city_key"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        radius_km=row["radius_km"],
        interests=frozenset(row["interests"] or ()),
        about_len=int(row["about_len"]),
        photo_count=int(row["photos"]),
        has_name=bool(row["has_name"]),
        created_at=row["created_at"],
        last_active_at=row["last_active_at"],
    )


def _components(components: Any) -> dict[str, Any]:
    return json.loads(components) if isinstance(components, str) else dict(components or {})


def _rating(primary: float, behaviour: float, components: Any) -> CandidateRating:
    """The stored rating as the ranking reads it; evidence and give rate come from the
    rater's components when it stored them, else the ranking's neutral defaults."""
    values = _components(components)
    return CandidateRating(
        primary=float(primary),
        behaviour=float(behaviour),
        evidence=float(values.get("evidence", 0.0)),
        give_rate=float(values.get("give_rate", DEFAULT_PRIOR_LIKE_RATE)),
    )
