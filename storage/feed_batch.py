"""One ranked batch of a viewer's feed pass: the grid cells that cover their radius, the batch
read in rank order after the pass's keyset cursor, and the ranking of the chosen few.

The batch reads candidates in rank order (``profiles.feed_score``, the combined rating, then
the user id) one (place, gender) index range at a time and stops at LIMIT; docs/discovery.md
explains the plan and its measurements (bench/feed.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from psycopg import sql
from psycopg.rows import DictRow

from domain import geo
from domain.ranking import (
    DEFAULT_PRIOR_LIKE_RATE,
    IMPRESSION_HALF_LIFE_DAYS,
    CandidateRating,
    FeedCandidate,
    ProfileFeatures,
    decay_sql,
    order_feed,
)
from storage import _rules as rules
from storage._rules import Conn
from storage.accounts import Account

# Cards chosen per refill of a pass: the ranking reorders each batch for the viewer.
FEED_BATCH: Final = 20
# Grid cells of coordinates (the schema's generated columns cell_small / cell_large).
SMALL_CELL_DEGREES: Final = 0.25
LARGE_CELL_DEGREES: Final = 2.0
MAX_SMALL_CELLS: Final = 64

# Views a candidate received lately, decayed by a day's half-life: the popularity cap's input.
_IMPRESSION_DECAY = decay_sql("i.created_at", half_life_days=IMPRESSION_HALF_LIFE_DAYS)

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


@dataclass(frozen=True, slots=True)
class BatchRow:
    user_id: int
    feed_score: float
    visible: bool  # a finished, visible account with a photo (else passed over)


@dataclass
class FeedPass:
    """Where the viewer's walk through the feed stands: its filters and radius, the keyset
    cursor the next batch is read after, and the cards queued from the last batch."""

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


def _genders(viewer: Account) -> list[str]:
    return ["m", "f"] if (viewer.seeking or "any") == "any" else [viewer.seeking or "any"]


def _place_query(viewer: Account, radius_km: int) -> tuple[sql.Composed, dict[str, Any]]:
    """The batch query for the viewer's place, and the place's parameters."""
    if viewer.has_location:
        assert viewer.latitude is not None and viewer.longitude is not None
        column, cells = cells_around(viewer.latitude, viewer.longitude, radius_km)
        box = geo.bounding_box(viewer.latitude, viewer.longitude, radius_km)
        area_type, place = "integer", rules.BOXED_DISTANCE
        values: dict[str, Any] = {
            "areas": cells,
            **dict(zip(("min_lat", "max_lat", "min_lon", "max_lon"), box, strict=True)),
        }
    else:
        column, area_type, place = "city_key", "text", "true"
        values = {"areas": [viewer.city_key]}
    statement = sql.SQL(_BATCH_SQL).format(
        column=sql.Identifier(column),
        area_type=sql.SQL(area_type),
        place=sql.SQL(place),
        rules=sql.SQL(rules.PROFILE_RULES),
        undecided=sql.SQL(rules.UNDECIDED),
        visible=sql.SQL(f"{rules.USER_VISIBLE} AND {rules.VERIFIED_WISH}"),
    )
    return statement, values


def query(
    viewer: Account, state: FeedPass, limit: int = FEED_BATCH
) -> tuple[sql.Composed, dict[str, Any]]:
    """The query of one ranked batch after the pass's cursor, and its parameters."""
    statement, place = _place_query(viewer, state.radius_km)
    return statement, {
        **rules.rule_params(viewer, state.radius_km),
        **place,
        "genders": _genders(viewer),
        "after_score": state.after_score,
        "after_id": state.after_id,
        "limit": limit,
    }


def read(conn: Conn, viewer: Account, state: FeedPass, limit: int = FEED_BATCH) -> list[BatchRow]:
    """The next candidates after the pass's cursor, in rank order, visible or not.

    Always planned for this viewer's own places and sets (about a millisecond): a generic
    plan, blind to them, can be slower by orders of magnitude."""
    mode = conn.execute("SELECT current_setting('plan_cache_mode') AS mode").fetchone()
    conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
    try:
        rows = conn.execute(*query(viewer, state, limit), prepare=False).fetchall()
    finally:
        if mode is not None:
            conn.execute("SELECT set_config('plan_cache_mode', %s, true)", (mode["mode"],))
    return [
        BatchRow(int(row["user_id"]), float(row["feed_score"]), bool(row["visible"]))
        for row in rows
    ]


def rank(conn: Conn, viewer: Account, ids: Sequence[int]) -> list[int]:
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
                  u.verified_at IS NOT NULL AS verified,
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
    viewer_features = _features_of(viewer)
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


def _features_of(viewer: Account) -> ProfileFeatures:
    return ProfileFeatures(
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
        is_verified=viewer.is_verified,
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
        is_verified=bool(row["verified"]),
    )


def _components(components: Any) -> dict[str, Any]:
    return json.loads(components) if isinstance(components, str) else dict(components or {})


def _rating(primary: float, behaviour: float, components: Any) -> CandidateRating:
    """The stored rating as the ranking reads it; evidence, give rate and invitations come
    from the rater's components when it stored them, else the ranking's neutral defaults."""
    values = _components(components)
    return CandidateRating(
        primary=float(primary),
        behaviour=float(behaviour),
        evidence=float(values.get("evidence", 0.0)),
        give_rate=float(values.get("give_rate", DEFAULT_PRIOR_LIKE_RATE)),
        invitations=float(values.get("invitations", 0.0)),
    )
