"""What every discovery store shares: the candidate rules (``domain.filters``) written as SQL,
one fragment per rule group over a candidate ``p JOIN users u``, shared by every query that
decides who may be shown, liked or answered; the card and party columns; and the small steps
(recording an interaction, asking whether two people met) that several stores take.
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.rows import DictRow

from domain.discovery import Party, ProfileCard
from domain.filters import SKIP_COOLDOWN
from domain.ranking import DEFAULT_AGE_MAX, DEFAULT_AGE_MIN
from storage.accounts import Account

Conn = Connection[DictRow]

# -- the rules (domain.filters) as SQL over a candidate p JOIN users u -----------------------

SELF = "p.user_id <> %(viewer)s"
# schema.sql account_listed() says the same, for profiles.listed (the feed indexes' filter).
USER_VISIBLE = """u.onboarding_step IS NULL
    AND NOT (u.is_paused OR u.is_banned OR u.is_inactive OR u.is_hidden)
    AND EXISTS (SELECT 1 FROM photos ph WHERE ph.user_id = u.id)"""
VISIBLE = f"p.completed_at IS NOT NULL AND {USER_VISIBLE}"
# Blocks either way and matches (of any status) are a few rows per viewer: read once per query
# and hashed (NOT IN over an uncorrelated subquery), so each scanned candidate costs a lookup.
_BLOCKED = """SELECT b.blocked_id FROM blocks b WHERE b.blocker_id = %(viewer)s
    UNION ALL SELECT b.blocker_id FROM blocks b WHERE b.blocked_id = %(viewer)s"""
_MATCHED = """SELECT m.user_high FROM matches m WHERE m.user_low = %(viewer)s
    UNION ALL SELECT m.user_low FROM matches m WHERE m.user_high = %(viewer)s"""
NOT_BLOCKED = f"p.user_id NOT IN ({_BLOCKED})"
NOT_MATCHED = f"p.user_id NOT IN ({_MATCHED})"
# Both in one subquery for the feed's pages: each subplan costs planning time on every page.
NOT_BLOCKED_OR_MATCHED = f"p.user_id NOT IN ({_BLOCKED}\n    UNION ALL {_MATCHED})"
# One candidate at a time: a probe of the primary key.
NOT_LIKED = """NOT EXISTS (SELECT 1 FROM interactions li
    WHERE li.actor_id = %(viewer)s AND li.kind = 'like' AND li.target_id = p.user_id)"""
# The feed's scan over many candidates: neither liked nor skipped by the viewer, one index-only
# probe of interactions_decided_idx per candidate passed over. A page reads a few dozen
# candidates, so probing them costs far less than reading every decision of the viewer
# (thousands, growing without end) into a hash on every page.
UNDECIDED = """NOT EXISTS (SELECT 1 FROM interactions d WHERE d.actor_id = %(viewer)s
    AND d.target_id = p.user_id AND d.kind IN ('like', 'skip'))"""
# The same hashed, as the pages read it before issue 13 (storage.feed_batch.BASELINE): every
# decision read once per page, a lookup per candidate; it needs the work_mem to hold them.
UNDECIDED_HASHED = """p.user_id NOT IN (SELECT d.target_id FROM interactions d
    WHERE d.actor_id = %(viewer)s AND d.kind IN ('like', 'skip'))"""
# A pass shows each person once: the people shown since it began (a few dozen, the viewer's
# own rows by time), read once per page and hashed. A newcomer served ahead of the pages, or a
# card the viewer left without deciding, is not read again by a later page.
NOT_SHOWN_SINCE = """p.user_id NOT IN (SELECT v.target_id FROM interactions v
    WHERE v.actor_id = %(viewer)s AND v.kind = 'view' AND v.created_at >= %(started)s)"""
WISHES = f"""(%(seeking)s::text = 'any' OR p.gender = %(seeking)s::text)
    AND (p.seeking = 'any' OR p.seeking = %(gender)s::text)
    AND p.age BETWEEN %(age_min)s::int AND %(age_max)s::int
    AND %(age)s::int BETWEEN coalesce(p.age_min, {DEFAULT_AGE_MIN})
                         AND coalesce(p.age_max, {DEFAULT_AGE_MAX})"""
DISTANCE = "km_between(%(lat)s::float8, %(lon)s::float8, p.latitude, p.longitude) <= %(radius)s"
# The same with a bounding box first: plain comparisons reject most of a cell before the
# trigonometry (domain.geo.bounding_box).
BOXED_DISTANCE = f"""p.latitude BETWEEN %(min_lat)s AND %(max_lat)s
    AND p.longitude BETWEEN %(min_lon)s AND %(max_lon)s AND {DISTANCE}"""
NEAR = f"""(p.city_key = %(city_key)s::text
    OR (%(lat)s::float8 IS NOT NULL AND p.latitude IS NOT NULL AND {DISTANCE}))"""
NEVER_SKIPPED = """NOT EXISTS (SELECT 1 FROM interactions sk
    WHERE sk.actor_id = %(viewer)s AND sk.kind = 'skip' AND sk.target_id = p.user_id)"""
NOT_SKIPPED_RECENTLY = """NOT EXISTS (SELECT 1 FROM interactions sk
    WHERE sk.actor_id = %(viewer)s AND sk.kind = 'skip' AND sk.target_id = p.user_id
      AND sk.created_at > now() - %(cooldown)s::interval)"""
# The viewer's setting "verified people only" (issue 14).
VERIFIED_WISH = "(NOT %(verified_only)s::boolean OR u.verified_at IS NOT NULL)"
# What the profile row alone decides (index-only in the feed's scan): not the viewer, no block
# either way, no match, both wishes.
PROFILE_RULES = " AND ".join((SELF, NOT_BLOCKED_OR_MATCHED, WISHES))
# Everything but the place, likes and skips: who may be shown to this viewer at all.
RULES = f"{PROFILE_RULES} AND {VISIBLE}"
# A card may be served now: the rules, not liked, the place, and no skip inside the cooldown.
SHOWABLE = f"{RULES} AND {VERIFIED_WISH} AND {NOT_LIKED} AND {NEAR} AND {NOT_SKIPPED_RECENTLY}"

CARD_COLUMNS = """p.user_id, p.name, p.age, p.city, p.about, p.interests, p.latitude,
    p.longitude,
    (SELECT ph.telegram_file_id FROM photos ph WHERE ph.user_id = p.user_id
     ORDER BY ph.position LIMIT 1) AS photo_file_id,
    (SELECT lm.message FROM interactions lm WHERE lm.actor_id = p.user_id AND lm.kind = 'like'
       AND lm.target_id = %(viewer)s) AS like_message,
    (SELECT lm.message_kind FROM interactions lm WHERE lm.actor_id = p.user_id
       AND lm.kind = 'like' AND lm.target_id = %(viewer)s) AS like_media_kind,
    (SELECT lm.message_file_id FROM interactions lm WHERE lm.actor_id = p.user_id
       AND lm.kind = 'like' AND lm.target_id = %(viewer)s) AS like_media_file_id,
    (SELECT v.telegram_file_id FROM profile_videos v WHERE v.user_id = p.user_id)
        AS video_file_id,
    (SELECT vu.verified_at IS NOT NULL FROM users vu WHERE vu.id = p.user_id) AS verified,
    (SELECT la.last_active_at FROM users la WHERE la.id = p.user_id) AS last_active_at"""

_PARTY_SQL = """SELECT u.id AS user_id, u.chat_id, u.language, u.username, u.show_username,
       u.is_banned, u.is_inactive, p.name
FROM users u LEFT JOIN profiles p ON p.user_id = u.id WHERE u.id = %s"""


def rule_params(viewer: Account, radius_km: int) -> dict[str, Any]:
    """The viewer's values the rules read."""
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
        "verified_only": viewer.verified_only,
    }


def card_of(row: DictRow) -> ProfileCard:
    """The card of a row read with CARD_COLUMNS."""
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
        video_file_id=row["video_file_id"],
        verified=bool(row["verified"]),
        like_media_kind=row["like_media_kind"],
        like_media_file_id=row["like_media_file_id"],
        last_active_at=row["last_active_at"],
    )


def party_of(conn: Conn, user_id: int) -> Party | None:
    row = conn.execute(_PARTY_SQL, (user_id,)).fetchone()
    return Party(**row) if row else None


def pair(a: int, b: int) -> tuple[int, int]:
    """The pair's key as matches store it: the lower id first."""
    return (a, b) if a < b else (b, a)


def record(conn: Conn, actor: int, target: int, kind: str) -> None:
    conn.execute(
        """INSERT INTO interactions (actor_id, target_id, kind) VALUES (%s, %s, %s)
           ON CONFLICT (actor_id, kind, target_id) DO UPDATE SET created_at = now()""",
        (actor, target, kind),
        prepare=True,
    )


def was_shown(conn: Conn, viewer: int, target: int) -> bool:
    return (
        conn.execute(
            """SELECT 1 FROM interactions WHERE actor_id = %s AND kind = 'view'
           AND target_id = %s""",
            (viewer, target),
            prepare=True,
        ).fetchone()
        is not None
    )


def ever_matched(conn: Conn, a: int, b: int) -> bool:
    """Whether the pair has a match of any status."""
    return (
        conn.execute(
            "SELECT 1 FROM matches WHERE user_low = %s AND user_high = %s", pair(a, b)
        ).fetchone()
        is not None
    )


def have_met(conn: Conn, viewer: int, other: int) -> bool:
    """Whether the viewer was shown the other or matched with them: whom one may block or
    report (anyone else is forged data)."""
    return was_shown(conn, viewer, other) or ever_matched(conn, viewer, other)
