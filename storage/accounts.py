"""Users, their profiles and photo rows in PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, NamedTuple
from uuid import UUID

from psycopg import sql

from domain.images import SAME_PHOTO_DISTANCE
from domain.onboarding import ONBOARDING_ORDER
from domain.ranking import INVITATION_PERIOD_DAYS, INVITATIONS_PER_PERIOD
from storage.db import Pool, Statement, autocommit, run_together
from storage.fence import forget_user
from storage.safety import hide_if_credible

# Columns of profiles a user may set, one step at a time or when editing.
PROFILE_FIELDS = frozenset(
    {
        "name",
        "age",
        "gender",
        "seeking",
        "age_min",
        "age_max",
        "city",
        "city_key",
        "latitude",
        "longitude",
        "radius_km",
        "about",
        "interests",
        "verified_only",
    }
)
LAST_ACTIVE_RESOLUTION = "1 minute"
# 12 random bytes: a 16-character code, so ref_<code> stays well inside a deep link's 64.
INVITE_CODE_BYTES = 12


@dataclass(frozen=True)
class Photo:
    id: UUID
    position: int
    object_key: str
    telegram_file_id: str


@dataclass(frozen=True)
class Video:
    """The profile's video (issue 14): a video's file_id, whatever the user sent."""

    object_key: str
    telegram_file_id: str
    duration_s: int


@dataclass(frozen=True)
class Account:
    """One user with their profile (fields None until given) and photos, main photo first."""

    id: int
    chat_id: int
    language: str
    username: str | None
    show_username: bool
    onboarding_step: str | None
    is_paused: bool
    is_banned: bool
    is_inactive: bool
    is_hidden: bool
    created_at: datetime
    last_active_at: datetime
    name: str | None = None
    age: int | None = None
    gender: str | None = None
    seeking: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    city: str | None = None
    city_key: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    radius_km: int = 50
    about: str | None = None
    interests: tuple[str, ...] = ()
    completed_at: datetime | None = None
    photos: tuple[Photo, ...] = field(default=())
    video: Video | None = None
    verified_at: datetime | None = None
    verified_only: bool = False

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    away_since: datetime | None = None  # paused for inactivity (domain.activity)
    protect_media: bool = False  # relayed photos and videos go with protect_content

    @property
    def is_complete(self) -> bool:
        return self.onboarding_step is None and self.completed_at is not None

    @property
    def has_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None


_ACCOUNT_SQL = """
SELECT u.id, u.chat_id, u.language, u.username, u.show_username, u.onboarding_step,
       u.is_paused, u.is_banned, u.is_inactive, u.is_hidden, u.created_at, u.last_active_at,
       p.name, p.age, p.gender, p.seeking, p.age_min, p.age_max, p.city, p.city_key,
       p.latitude, p.longitude, coalesce(p.radius_km, 50) AS radius_km, p.about,
       coalesce(p.interests, '{}') AS interests, p.completed_at, u.away_since, u.protect_media,
       coalesce((SELECT json_agg(json_build_object(
                    'id', ph.id, 'position', ph.position, 'object_key', ph.object_key,
                    'telegram_file_id', ph.telegram_file_id) ORDER BY ph.position)
                 FROM photos ph WHERE ph.user_id = u.id), '[]') AS photos,
       (SELECT json_build_object('object_key', v.object_key,
                                 'telegram_file_id', v.telegram_file_id,
                                 'duration_s', v.duration_s)
        FROM profile_videos v WHERE v.user_id = u.id) AS video,
       u.verified_at, coalesce(p.verified_only, false) AS verified_only
FROM users u LEFT JOIN profiles p ON p.user_id = u.id
WHERE u.id = %s
"""


class Keep(Enum):
    """Accounts.save's step argument when the onboarding step stays as it is."""

    STEP = "keep"


KEEP_STEP = Keep.STEP


def _fetch(conn: Any, user_id: int) -> Account | None:
    row = conn.execute(_ACCOUNT_SQL, (user_id,)).fetchone()
    return _account(row) if row else None


def _account(row: dict[str, Any]) -> Account:
    values = dict(row)
    values["interests"] = tuple(values["interests"])
    values["photos"] = tuple(
        Photo(
            UUID(str(item["id"])),
            int(item["position"]),
            item["object_key"],
            item["telegram_file_id"],
        )
        for item in values["photos"]
    )
    video = values["video"]
    values["video"] = (
        Video(video["object_key"], video["telegram_file_id"], int(video["duration_s"]))
        if video
        else None
    )
    return Account(**values)


def _rating_dirty(user_id: int) -> Statement:
    """Flag the user for the next sweep. A transaction that also writes their profiles row
    runs this first: the rater writes ratings, then profiles.feed_score, and taking the two
    row locks in the other order deadlocked with an immediate re-rating."""
    return "UPDATE ratings SET dirty = true WHERE user_id = %s AND NOT dirty", (user_id,)


def _profile_update(user_id: int, values: Mapping[str, object]) -> list[Statement]:
    """Set profile fields: the rating flag, then the update saying whether the profile is a
    finished one (see _complete)."""
    unknown = set(values) - PROFILE_FIELDS
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = %s").format(sql.Identifier(name)) for name in values
    )
    return [
        _rating_dirty(user_id),
        (
            sql.SQL(
                "UPDATE profiles SET {}, updated_at = now() WHERE user_id = %s "
                "RETURNING completed_at IS NOT NULL AS complete"
            ).format(assignments),
            (*(list(v) if isinstance(v, tuple) else v for v in values.values()), user_id),
        ),
    ]


# Finish the invitation that brought the user in, count it unless the inviter is at the cap
# (domain.ranking.invitation_counts), and flag the inviter's rating for the next sweep.
_COUNT_INVITATION = f"""
WITH finished AS (
    UPDATE invitations i SET completed_at = now(),
        counted_at = CASE WHEN (
            SELECT count(*) FROM invitations o
            WHERE o.inviter_id = i.inviter_id
              AND o.counted_at > now() - interval '{INVITATION_PERIOD_DAYS * 86400:g} seconds'
        ) < {INVITATIONS_PER_PERIOD} THEN now() END
    WHERE i.invitee_id = %s AND i.completed_at IS NULL
    RETURNING i.inviter_id, i.counted_at
)
UPDATE ratings SET dirty = true
WHERE user_id IN (SELECT inviter_id FROM finished WHERE counted_at IS NOT NULL) AND NOT dirty
"""


def _step_update(user_id: int, step: str | None) -> list[Statement]:
    statements: list[Statement] = [
        ("UPDATE users SET onboarding_step = %s WHERE id = %s", (step, user_id))
    ]
    if step is None:
        statements += [
            # An invitation counts for the inviter once the invitee has a finished profile,
            # within the inviter's cap per period; the lock on the inviter's code makes two
            # friends finishing at once count one after the other.
            (
                """SELECT 1 FROM invite_codes WHERE user_id = (
                       SELECT inviter_id FROM invitations
                       WHERE invitee_id = %s AND completed_at IS NULL) FOR UPDATE""",
                (user_id,),
            ),
            (_COUNT_INVITATION, (user_id,)),
            _rating_dirty(user_id),  # before profiles: see _rating_dirty
            (
                "UPDATE profiles SET completed_at = coalesce(completed_at, now()) "
                "WHERE user_id = %s",
                (user_id,),
            ),
        ]
    return statements


def _complete(rows: list[Any]) -> bool:
    """Whether the profile an update wrote is a finished one (shown to others)."""
    return bool(rows and rows[0]["complete"])


# What a new account inherits from the safety records of its key (schema.sql: safety_*), the
# other side of each record found through users.safety_key; hiding by the inherited reports is
# decided again as for a new report.
_INHERITED = (
    """INSERT INTO blocks (blocker_id, blocked_id)
       SELECT %(user)s, u.id FROM safety_blocks b JOIN users u ON u.safety_key = b.blocked_key
       WHERE b.blocker_key = %(key)s AND u.id <> %(user)s ON CONFLICT DO NOTHING""",
    """INSERT INTO blocks (blocker_id, blocked_id)
       SELECT u.id, %(user)s FROM safety_blocks b JOIN users u ON u.safety_key = b.blocker_key
       WHERE b.blocked_key = %(key)s AND u.id <> %(user)s ON CONFLICT DO NOTHING""",
    """UPDATE users SET is_banned = true WHERE id = %(user)s AND EXISTS (
           SELECT 1 FROM safety_bans WHERE subject_key = %(key)s AND lifted_at IS NULL)""",
    """INSERT INTO reports (reporter_id, reported_id, reason, created_at)
       SELECT u.id, %(user)s, r.reason, r.created_at
       FROM safety_open_reports r JOIN users u ON u.safety_key = r.reporter_key
       WHERE r.reported_key = %(key)s AND u.id <> %(user)s
       ON CONFLICT ON CONSTRAINT reports_once_per_reporter DO NOTHING""",
    """INSERT INTO reports (reporter_id, reported_id, reason, created_at)
       SELECT %(user)s, u.id, r.reason, r.created_at
       FROM safety_open_reports r JOIN users u ON u.safety_key = r.reported_key
       WHERE r.reporter_key = %(key)s AND u.id <> %(user)s
       ON CONFLICT ON CONSTRAINT reports_once_per_reporter DO NOTHING""",
)


class Deleted(NamedTuple):
    object_keys: list[str]  # queued in orphaned_objects
    partners: list[int]  # everyone the account was ever matched with


class Accounts:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def get(self, user_id: int) -> Account | None:
        with autocommit(self._pool) as conn:
            return _fetch(conn, user_id)

    def register(
        self,
        user_id: int,
        chat_id: int,
        language: str,
        username: str | None,
        safety_key: bytes | None = None,
    ) -> tuple[Account, bool]:
        """The user's account, created on first contact; True when it was just created.
        With its safety key (domain.safety_keys), a new account inherits in the same
        transaction what outlived an earlier account of the same Telegram id: blocks in both
        directions, a ban, open reports by and against it."""
        with self._pool.connection() as conn:
            inserted = conn.execute(
                """INSERT INTO users (id, chat_id, language, username, onboarding_step,
                                      safety_key)
                   VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING id""",
                (user_id, chat_id, language, username, ONBOARDING_ORDER[0].value, safety_key),
            ).fetchone()
            if inserted:
                conn.execute("INSERT INTO profiles (user_id) VALUES (%s)", (user_id,))
                conn.execute("INSERT INTO ratings (user_id) VALUES (%s)", (user_id,))
                if safety_key is not None:
                    for statement in _INHERITED:
                        conn.execute(statement, {"user": user_id, "key": safety_key})
                    hide_if_credible(conn, user_id)
            account = _fetch(conn, user_id)
        assert account is not None
        return account, inserted is not None

    def touch(self, account: Account, username: str | None) -> bool:
        """Record activity, at most once a minute per user so that reads stay reads; someone
        paused for inactivity is back in the feed (True when they were)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                f"""UPDATE users u SET last_active_at = now(), username = %s, is_inactive = false,
                           is_paused = u.is_paused AND u.away_since IS NULL, away_since = NULL
                    FROM users before WHERE u.id = %s AND before.id = u.id
                      AND (u.last_active_at < now() - interval '{LAST_ACTIVE_RESOLUTION}'
                           OR u.username IS DISTINCT FROM %s OR u.is_inactive
                           OR u.away_since IS NOT NULL)
                    RETURNING before.away_since IS NOT NULL AS was_away""",
                (username, account.id, username),
            ).fetchone()
        return bool(row and row["was_away"])

    def set_language(self, user_id: int, language: str) -> None:
        self._update_user(user_id, language=language)

    def set_onboarding_step(self, user_id: int, step: str | None) -> None:
        with autocommit(self._pool) as conn:
            run_together(conn, _step_update(user_id, step))

    def save(
        self, user_id: int, values: Mapping[str, object], step: str | Keep | None = KEEP_STEP
    ) -> tuple[Account, bool]:
        """An answer in one transaction and one round trip: set profile fields and/or move the
        onboarding step (None: onboarding is finished), then read the account back; True when
        the profile is a finished one (shown to others)."""
        statements = _profile_update(user_id, values) if values else []
        if not isinstance(step, Keep):
            statements += _step_update(user_id, step)
        statements.append((_ACCOUNT_SQL, (user_id,)))
        with autocommit(self._pool) as conn:
            results = run_together(conn, statements)
        if not results[-1]:
            raise LookupError(f"account {user_id} vanished while saving")
        shown = step is None or bool(values and _complete(results[1]))
        return _account(results[-1][0]), shown

    def location_changes(self, user_id: int, since: datetime) -> list[datetime]:
        """When the user's location changed after ``since`` (for the daily limit)."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                """SELECT changed_at FROM location_changes
                   WHERE user_id = %s AND changed_at > %s""",
                (user_id, since),
            ).fetchall()
        return [row["changed_at"] for row in rows]

    def record_location_change(self, user_id: int, at: datetime, forget_before: datetime) -> None:
        """Count a location change; the user's changes before ``forget_before`` are no longer
        needed by the limit and go (so the table holds at most a day per user)."""
        with self._pool.connection() as conn:
            conn.execute(
                "DELETE FROM location_changes WHERE user_id = %s AND changed_at < %s",
                (user_id, forget_before),
            )
            conn.execute(
                """INSERT INTO location_changes (user_id, changed_at) VALUES (%s, %s)
                   ON CONFLICT DO NOTHING""",
                (user_id, at),
            )

    def set_paused(self, user_id: int, paused: bool) -> None:
        self._update_user(user_id, is_paused=paused)

    def set_inactive(self, user_id: int, inactive: bool) -> None:
        self._update_user(user_id, is_inactive=inactive)

    def set_show_username(self, user_id: int, show: bool) -> None:
        self._update_user(user_id, show_username=show)

    def set_protect_media(self, user_id: int, protect: bool) -> None:
        self._update_user(user_id, protect_media=protect)

    def _update_user(self, user_id: int, **values: object) -> None:
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = %s").format(sql.Identifier(name)) for name in values
        )
        with self._pool.connection() as conn:
            conn.execute(
                sql.SQL("UPDATE users SET {} WHERE id = %s").format(assignments),
                (*values.values(), user_id),
            )

    def update_profile(self, user_id: int, **values: object) -> bool:
        """Set profile fields; True when the profile is a finished one (shown to others)."""
        with autocommit(self._pool) as conn:
            return _complete(run_together(conn, _profile_update(user_id, values))[1])

    def add_photo(
        self,
        user_id: int,
        object_key: str,
        file_id: str,
        file_unique_id: str,
        content_type: str,
        size: int,
        perceptual_hash: int | None = None,
    ) -> bool:
        """Append a photo in the first free position; False if the same file is there already
        or no position is free (both mean: nothing stored, the caller drops the object)."""
        with self._pool.connection() as conn:
            conn.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (user_id,))
            row = conn.execute(
                """INSERT INTO photos (user_id, position, object_key, telegram_file_id,
                                       file_unique_id, content_type, size_bytes, perceptual_hash)
                   SELECT %s, free.position, %s, %s, %s, %s, %s, %s
                   FROM (SELECT min(g) AS position FROM generate_series(0, 2) g
                         WHERE g NOT IN (SELECT position FROM photos WHERE user_id = %s)) free
                   WHERE free.position IS NOT NULL
                   ON CONFLICT (user_id, file_unique_id) DO NOTHING RETURNING id""",
                (
                    user_id,
                    object_key,
                    file_id,
                    file_unique_id,
                    content_type,
                    size,
                    perceptual_hash,
                    user_id,
                ),
            ).fetchone()
            if row:
                conn.execute(*_rating_dirty(user_id))
        return row is not None

    def photo_twins(self, user_id: int, perceptual_hash: int) -> list[tuple[int, str]]:
        """Other accounts' photos taken for the same one (domain.images.same_photo): each
        owner once, with that photo's file_id. A scan of the hashes (no index serves a
        Hamming distance), once per photo added."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                """SELECT DISTINCT ON (user_id) user_id, telegram_file_id FROM photos
                   WHERE perceptual_hash IS NOT NULL AND user_id <> %s
                     AND bit_count((perceptual_hash # %s)::bit(64)) <= %s
                   ORDER BY user_id, created_at LIMIT 5""",
                (user_id, perceptual_hash, SAME_PHOTO_DISTANCE),
            ).fetchall()
        return [(int(row["user_id"]), str(row["telegram_file_id"])) for row in rows]

    def delete_photo(self, user_id: int, photo_id: UUID) -> str | None:
        """Remove one photo and close the gap in positions; the object key to drop, if any."""
        with self._pool.connection() as conn:
            conn.execute("SET CONSTRAINTS photos_position_unique DEFERRED")
            row = conn.execute(
                "DELETE FROM photos WHERE id = %s AND user_id = %s RETURNING object_key",
                (photo_id, user_id),
            ).fetchone()
            if not row:
                return None
            conn.execute(
                """UPDATE photos p SET position = ranked.rank - 1
                   FROM (SELECT id, row_number() OVER (ORDER BY position) AS rank
                         FROM photos WHERE user_id = %s) ranked
                   WHERE p.id = ranked.id""",
                (user_id,),
            )
            conn.execute(
                "INSERT INTO orphaned_objects (object_key) VALUES (%s) ON CONFLICT DO NOTHING",
                (row["object_key"],),
            )
            conn.execute(*_rating_dirty(user_id))
            # Checked now: inside a fence the transaction goes on (its commit is the update's).
            conn.execute("SET CONSTRAINTS photos_position_unique IMMEDIATE")
            return str(row["object_key"])

    def make_main_photo(self, user_id: int, photo_id: UUID) -> bool:
        with self._pool.connection() as conn:
            conn.execute("SET CONSTRAINTS photos_position_unique DEFERRED")
            row = conn.execute(
                "SELECT position FROM photos WHERE id = %s AND user_id = %s", (photo_id, user_id)
            ).fetchone()
            if not row:
                return False
            conn.execute(
                """UPDATE photos SET position = CASE WHEN id = %s THEN 0
                                                     WHEN position < %s THEN position + 1
                                                     ELSE position END
                   WHERE user_id = %s""",
                (photo_id, row["position"], user_id),
            )
            conn.execute("SET CONSTRAINTS photos_position_unique IMMEDIATE")
        return True

    def delete_account(self, user_id: int) -> Deleted:
        """Delete the user and everything that cascades from them; the photo objects to drop
        are queued in orphaned_objects in the same transaction, so none is ever forgotten."""
        with self._pool.connection() as conn:
            partners = conn.execute(
                """SELECT CASE WHEN user_low = %(user)s THEN user_high ELSE user_low END AS other
                   FROM matches WHERE user_low = %(user)s OR user_high = %(user)s""",
                {"user": user_id},
            ).fetchall()
            rows = conn.execute(
                """WITH gone AS (DELETE FROM photos WHERE user_id = %(user)s RETURNING object_key),
                        video AS (DELETE FROM profile_videos WHERE user_id = %(user)s
                                  RETURNING object_key)
                   INSERT INTO orphaned_objects (object_key)
                   SELECT object_key FROM gone UNION ALL SELECT object_key FROM video
                   ON CONFLICT DO NOTHING RETURNING object_key""",
                {"user": user_id},
            ).fetchall()
            conn.execute("DELETE FROM users WHERE id = %s", (user_id,))
            # The fence's rows of the user's updates (with the replies they were given); the
            # row of this very update, when it is fenced, names nobody (storage.fence).
            conn.execute("DELETE FROM handled_updates WHERE user_id = %s", (user_id,))
            forget_user()
            # Others' feed passes may hold the id among their next candidates, likers,
            # admitted newcomers (ids and times pairwise) or as their keyset cursor: it goes
            # too (a scan of feed_passes, for a deletion). A pass whose cursor it was starts
            # again; what its viewer saw stays out by their interactions.
            conn.execute("DELETE FROM feed_passes WHERE after_id = %s", (user_id,))
            # A rating sweep's cursor is the last user it did: the id just below does as well
            # (nobody lies between them now), and names nobody.
            conn.execute(
                "UPDATE sweep_runs SET cursor_user = cursor_user - 1 WHERE cursor_user = %s",
                (user_id,),
            )
            conn.execute(
                """UPDATE feed_passes
                   SET queue = array_remove(queue, %(user)s),
                       likers = array_remove(likers, %(user)s),
                       (admitted_ids, admitted_at) = (
                           SELECT coalesce(array_agg(id ORDER BY n), '{}'),
                                  coalesce(array_agg(at ORDER BY n), '{}')
                           FROM unnest(admitted_ids, admitted_at) WITH ORDINALITY AS a (id, at, n)
                           WHERE id <> %(user)s)
                   WHERE queue @> ARRAY[%(user)s]::bigint[]
                      OR likers @> ARRAY[%(user)s]::bigint[]
                      OR admitted_ids @> ARRAY[%(user)s]::bigint[]""",
                {"user": user_id},
            )
        return Deleted(
            [str(row["object_key"]) for row in rows], [int(row["other"]) for row in partners]
        )

    def set_video(
        self,
        user_id: int,
        object_key: str,
        file_id: str,
        file_unique_id: str,
        content_type: str,
        size: int,
        duration: int,
    ) -> str | None:
        """Keep the profile's video, replacing the one there; the replaced object's key (queued
        in orphaned_objects in the same transaction), if any."""
        with self._pool.connection() as conn:
            old = conn.execute(
                "SELECT object_key FROM profile_videos WHERE user_id = %s FOR UPDATE", (user_id,)
            ).fetchone()
            conn.execute(
                """INSERT INTO profile_videos (user_id, object_key, telegram_file_id,
                                               file_unique_id, content_type, size_bytes,
                                               duration_s)
                   VALUES (%s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (user_id) DO UPDATE SET object_key = excluded.object_key,
                       telegram_file_id = excluded.telegram_file_id,
                       file_unique_id = excluded.file_unique_id,
                       content_type = excluded.content_type, size_bytes = excluded.size_bytes,
                       duration_s = excluded.duration_s, created_at = now()""",
                (user_id, object_key, file_id, file_unique_id, content_type, size, duration),
            )
            if old is None:
                return None
            conn.execute(
                "INSERT INTO orphaned_objects (object_key) VALUES (%s) ON CONFLICT DO NOTHING",
                (old["object_key"],),
            )
            return str(old["object_key"])

    def delete_video(self, user_id: int) -> str | None:
        """Remove the profile's video; its object key (queued for the sweep), if there was one."""
        with self._pool.connection() as conn:
            row = conn.execute(
                """WITH gone AS (DELETE FROM profile_videos WHERE user_id = %s
                                 RETURNING object_key)
                   INSERT INTO orphaned_objects (object_key) SELECT object_key FROM gone
                   ON CONFLICT DO NOTHING RETURNING object_key""",
                (user_id,),
            ).fetchone()
        return str(row["object_key"]) if row else None

    # -- invitations (issue 14) ------------------------------------------------------------

    def invite_code(self, user_id: int) -> str:
        """The user's invitation code, made on first use (random: it names nobody)."""
        with self._pool.connection() as conn:
            conn.execute(
                """INSERT INTO invite_codes (user_id, code) VALUES (%s, %s)
                   ON CONFLICT (user_id) DO NOTHING""",
                (user_id, secrets.token_urlsafe(INVITE_CODE_BYTES)),
            )
            row = conn.execute(
                "SELECT code FROM invite_codes WHERE user_id = %s", (user_id,)
            ).fetchone()
        assert row is not None
        return str(row["code"])

    def accept_invitation(self, invitee_id: int, code: str) -> bool:
        """Record that a new user came through code's link; False for a code nobody has or
        the invitee's own (which earn nothing)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                """INSERT INTO invitations (invitee_id, inviter_id)
                   SELECT %s, c.user_id FROM invite_codes c
                   WHERE c.code = %s AND c.user_id <> %s
                   ON CONFLICT (invitee_id) DO NOTHING RETURNING inviter_id""",
                (invitee_id, code, invitee_id),
            ).fetchone()
        return row is not None

    def invitations_counted(self, user_id: int) -> int:
        """People who came through the user's link and finished a profile."""
        with autocommit(self._pool) as conn:
            row = conn.execute(
                """SELECT count(*) AS n FROM invitations
                   WHERE inviter_id = %s AND completed_at IS NOT NULL""",
                (user_id,),
            ).fetchone()
        return int(row["n"]) if row else 0

    def forget_orphans(self, keys: list[str]) -> None:
        with self._pool.connection() as conn:
            conn.execute("DELETE FROM orphaned_objects WHERE object_key = ANY(%s)", (keys,))
