"""The reads of a viewer's feed pass by place: the grid cells that cover their radius and
their city, one ranked page read in rank order after the pass's keyset cursor, the people
visible since a moment ago, and the ranking of the chosen few.

A page reads candidates in rank order (``profiles.feed_score``, the combined rating, then the
user id) one (place, gender) index range at a time and stops at LIMIT; docs/discovery.md
explains the plan and its measurements (bench/feed.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from psycopg import sql
from psycopg.rows import DictRow

from domain import geo
from domain.feed_pass import FEED_BATCH, START, Cursor, PageRow
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

# Grid cells of coordinates (the schema's generated columns cell_small / cell_large).
SMALL_CELL_DEGREES: Final = 0.25
LARGE_CELL_DEGREES: Final = 2.0
MAX_SMALL_CELLS: Final = 64
# At most this many newcomers are read per card (a watermark hours old in a big city); the
# rest are still read by the pass's pages when they are below its cursor.
MAX_FRESH: Final = 100
# Pages a count of the people near (radius widening) reads at most, each twice as long as the
# one before: 30 + 60 + ... + 960 rows.
MAX_COUNT_READS: Final = 6

# Views a candidate received lately, decayed by a day's half-life: the popularity cap's input.
_IMPRESSION_DECAY = decay_sql("i.created_at", half_life_days=IMPRESSION_HALF_LIFE_DAYS)

# One range of candidates per (place, gender), read from the (place, gender, ...) indexes with
# what the profile row decides. A viewer's places are the grid cells covering their radius
# (when they shared coordinates: boxed distance) and their city (everyone there, with or
# without coordinates): the rules allow both, so both are read, and widening counts both.
_RANGE_SQL = """
SELECT p.user_id, p.feed_score
FROM unnest({areas}) AS area(key)
CROSS JOIN unnest(%(genders)s::text[]) AS g(gender)
CROSS JOIN LATERAL (
    SELECT p.user_id, p.feed_score
    FROM profiles p
    WHERE p.{column} = area.key AND p.gender = g.gender AND p.completed_at IS NOT NULL
      AND {condition} AND {place} AND {rules}
    {order}
    LIMIT %(limit)s
) p
"""

# One ranked page of the pass: each range read index-only in rank order after the cursor,
# merged and cut at LIMIT; only then are the chosen few looked up in users and photos (visible
# or not: the cursor moves past both).
_PAGE_SQL = """
WITH ranked AS (
    SELECT c.user_id, c.feed_score FROM ({ranges}) c
    ORDER BY c.feed_score DESC, c.user_id DESC
    LIMIT %(limit)s
)
SELECT r.user_id, r.feed_score, ({visible}) AS visible
FROM ranked r JOIN users u ON u.id = r.user_id
ORDER BY r.feed_score DESC, r.user_id DESC
"""

# The people of the viewer's places who became visible since the watermark (a handful, from
# the (place, gender, visible_since) indexes), visible now, undecided and not shown to the
# viewer since they became visible (a liker served a moment ago is not new). The checks are
# one expression in the select list, behind OFFSET 0, so that they stay per-row probes: as
# joins, the one generic plan hashed the whole photos table for a semi-join instead.
_FRESH_SQL = """
SELECT f.user_id FROM (
    SELECT c.user_id, ({visible} AND {undecided}
        AND NOT EXISTS (SELECT 1 FROM interactions v WHERE v.actor_id = %(viewer)s
            AND v.kind = 'view' AND v.target_id = p.user_id
            AND v.created_at >= p.visible_since)) AS open
    FROM ({ranges}) c JOIN profiles p ON p.user_id = c.user_id JOIN users u ON u.id = c.user_id
    OFFSET 0
) f
WHERE f.open
"""

_PAGE_ORDER = "ORDER BY p.feed_score DESC, p.user_id DESC"
_AFTER = "(p.feed_score, p.user_id) < (%(after_score)s::float8, %(after_id)s::bigint)"
_FRESH = "p.visible_since >= %(since)s::timestamptz"
# The order of the (place, gender, visible_since) indexes: the fresh read walks them from the
# newest and stops at the watermark, never a whole place's range of a feed index.
_FRESH_ORDER = "ORDER BY p.visible_since DESC"
# Visible, and verified when the viewer wants only verified people.
_VISIBLE = f"{rules.USER_VISIBLE} AND {rules.VERIFIED_WISH}"
# Whether the account may be shown at all, as the triggers keep it on the profile (read from
# the feed indexes; the merged page still checks USER_VISIBLE itself).
LISTED = "p.listed"
_NOWHERE = "SELECT NULL::bigint AS user_id, NULL::float8 AS feed_score WHERE false"


@dataclass(frozen=True, slots=True)
class Shape:
    """How the feed's reads are written. Production runs ``CURRENT``; ``BASELINE`` is the
    shape before issue 13's freshness work, kept so that bench/feed.py measures today's cost
    against it in the same run (docs/discovery.md, "Measurements")."""

    # A viewer with coordinates reads their city as well as the cells of their radius.
    both_places: bool = True
    # Pages leave out people shown since the pass began (NOT_SHOWN_SINCE).
    shown_since: bool = True
    # Pages' index scans leave out the people who cannot be shown (profiles.listed); without
    # it they are read and passed over after the merge.
    listed: bool = True
    # Newcomers are read on every card; pending likers too (else only with a new page).
    fresh: bool = True
    likers_every_card: bool = True
    # How a page leaves out people the viewer decided on, and the work_mem it needs (None:
    # the server's).
    undecided: str = rules.UNDECIDED
    work_mem: str | None = None
    # Pages a count of the people near reads at most (read_visible).
    count_pages: int = MAX_COUNT_READS
    # The feed's transaction turns just-in-time compilation off (else the server's setting).
    jit: bool = False
    # The fresh read runs prepared, on one generic plan per connection (else planned per card).
    fresh_generic: bool = True


CURRENT: Final = Shape()
# Before issue 13: one place per viewer (the cells of a viewer with coordinates, else the
# city), every decision hashed in 32 MB, no fresh read, likers read with each page, a count of
# the people near one page long.
BASELINE: Final = Shape(
    both_places=False,
    shown_since=False,
    listed=False,
    fresh=False,
    likers_every_card=False,
    undecided=rules.UNDECIDED_HASHED,
    work_mem="32MB",
    count_pages=1,
    jit=True,
    fresh_generic=False,
)


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


def _ranges(
    viewer: Account,
    radius_km: int,
    condition: str,
    order: str,
    rules_sql: str,
    both_places: bool = True,
) -> tuple[sql.Composable, dict[str, Any]]:
    """The union of the viewer's place ranges, and the places' parameters."""
    parts: list[sql.Composable] = []
    values: dict[str, Any] = {"genders": _genders(viewer)}

    def add(column: str, areas: str, place: str) -> None:
        parts.append(
            sql.SQL(_RANGE_SQL).format(
                areas=sql.SQL(areas),
                column=sql.Identifier(column),
                condition=sql.SQL(condition),
                place=sql.SQL(place),
                rules=sql.SQL(rules_sql),
                order=sql.SQL(order),
            )
        )

    if viewer.has_location:
        assert viewer.latitude is not None and viewer.longitude is not None
        column, cells = cells_around(viewer.latitude, viewer.longitude, radius_km)
        box = geo.bounding_box(viewer.latitude, viewer.longitude, radius_km)
        values["cells"] = cells
        values.update(zip(("min_lat", "max_lat", "min_lon", "max_lon"), box, strict=True))
        add(column, "%(cells)s::integer[]", rules.BOXED_DISTANCE)
    if viewer.city_key is not None and (both_places or not parts):
        add("city_key", "ARRAY[%(city_key)s::text]", "true")
    if not parts:  # neither a city nor coordinates: nobody is near
        return sql.SQL(_NOWHERE), values
    # UNION, not UNION ALL: someone of the viewer's city inside their radius is in both.
    return sql.SQL(" UNION ").join(parts), values


@dataclass(frozen=True, slots=True)
class Page:
    """Which ranked page to read: the viewer's, within radius_km, after the cursor of a pass
    begun at started_at, at most limit rows, as the shape has the query."""

    viewer: Account
    radius_km: int
    after: Cursor
    started_at: datetime
    limit: int = FEED_BATCH
    shape: Shape = CURRENT


def query(page: Page) -> tuple[sql.Composed, dict[str, Any]]:
    """The query of one ranked page, and its parameters."""
    shape, viewer = page.shape, page.viewer
    listed = f"{LISTED} AND " if shape.listed else ""
    shown = f" AND {rules.NOT_SHOWN_SINCE}" if shape.shown_since else ""
    ranges, place = _ranges(
        viewer,
        page.radius_km,
        _AFTER,
        _PAGE_ORDER,
        f"{listed}{rules.PROFILE_RULES} AND {shape.undecided}{shown}",
        shape.both_places,
    )
    statement = sql.SQL(_PAGE_SQL).format(ranges=ranges, visible=sql.SQL(_VISIBLE))
    return statement, {
        **rules.rule_params(viewer, page.radius_km),
        **place,
        "after_score": page.after.score,
        "after_id": page.after.user_id,
        "started": page.started_at,
        "limit": page.limit,
    }


def read(conn: Conn, page: Page) -> list[PageRow]:
    """The next candidates after the cursor not shown since the pass began, in rank order,
    visible or not.

    Always planned for this viewer's own places and sets (about a millisecond): a generic
    plan, blind to them, can be slower by orders of magnitude."""
    rows = _custom(conn, *query(page))
    return [
        PageRow(int(row["user_id"]), float(row["feed_score"]), bool(row["visible"])) for row in rows
    ]


def read_visible(
    conn: Conn,
    viewer: Account,
    radius_km: int,
    started_at: datetime,
    wanted: int,
    shape: Shape = CURRENT,
) -> list[PageRow]:
    """The first rows of a new pass, up to the ``wanted``-th visible one (all of the place's
    when it holds fewer, or after the shape's ``count_pages`` pages).

    The top of a place a viewer has browsed is the people who could not be shown (paused,
    banned, hidden, away: never shown, so never decided on) above the undecided ones: counted
    in one page of ``wanted`` rows, they made a busy place look empty and widened the radius
    for nothing, so pages are read on, each twice as long as the one before."""
    rows: list[PageRow] = []
    after, limit = START, wanted
    for _ in range(shape.count_pages):
        page = read(conn, Page(viewer, radius_km, after, started_at, limit, shape))
        rows.extend(page)
        if len(page) < limit or sum(row.visible for row in rows) >= wanted:
            break
        after, limit = Cursor(page[-1].score, page[-1].user_id), 2 * limit
    return rows


def fresh_query(
    viewer: Account, radius_km: int, since: datetime
) -> tuple[sql.Composed, dict[str, Any]]:
    """The query of the people of the viewer's places visible since ``since``."""
    ranges, place = _ranges(viewer, radius_km, _FRESH, _FRESH_ORDER, rules.PROFILE_RULES)
    statement = sql.SQL(_FRESH_SQL).format(
        ranges=ranges,
        visible=sql.SQL(_VISIBLE),
        undecided=sql.SQL(f"{rules.NOT_LIKED} AND {rules.NEVER_SKIPPED}"),
    )
    return statement, {
        **rules.rule_params(viewer, radius_km),
        **place,
        "since": since,
        "limit": MAX_FRESH,
    }


def fresh(
    conn: Conn, viewer: Account, radius_km: int, since: datetime, shape: Shape = CURRENT
) -> list[int]:
    """The people the rules let the viewer see who became visible since ``since`` and whom the
    viewer has not decided on. It runs on every card: each range is a few index entries.

    Prepared: one generic plan per connection and statement (a kind of place), 0.3 ms a card
    at 1,000,000 profiles against 1.2–2.8 ms planned with each card's values. That generic
    plan once took 1–2 s a card while reading 300 buffers: blind to how recent ``since`` is,
    it is costed at a third of the table, above the server's ``jit_above_cost``, and the
    time went to just-in-time compilation, which the feed's transaction now turns off."""
    statement, params = fresh_query(viewer, radius_km, since)
    rows = (
        conn.execute(statement, params, prepare=True).fetchall()
        if shape.fresh_generic
        else _custom(conn, statement, params)
    )
    return [int(row["user_id"]) for row in rows]


def _custom(conn: Conn, statement: sql.Composed, params: dict[str, Any]) -> list[DictRow]:
    """The rows of a statement planned with this call's values, whatever the transaction's
    plan_cache_mode."""
    mode = conn.execute("SELECT current_setting('plan_cache_mode') AS mode").fetchone()
    conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
    try:
        return conn.execute(statement, params, prepare=False).fetchall()
    finally:
        if mode is not None:
            conn.execute("SELECT set_config('plan_cache_mode', %s, true)", (mode["mode"],))


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
