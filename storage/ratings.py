"""Rating sweeps in PostgreSQL: read features and decayed behaviour in batches, score them
with domain.ranking, write ratings, their history and the feed order key.

A sweep is a row of sweep_runs. Each batch (a range of user ids) is written in one
transaction together with the sweep's cursor, so a sweep that dies halfway leaves every
finished batch complete and the next firing resumes after the last one. Exactly one node runs
a firing: the first to insert the (kind, slot) row of that firing runs it, under a
session-level advisory lock per kind that a dead node's connection releases at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import psycopg
from psycopg.rows import DictRow, dict_row

from domain.ranking import (
    DEFAULT_PRIOR_LIKE_RATE,
    BehaviourStats,
    ProfileFeatures,
    behaviour_score,
    combined_score,
    decay_sql,
    primary_score,
)
from storage.db import Pool

BATCH_SIZE: Final = 20_000
# Distinct from the schema lock; one key per sweep kind.
SWEEP_LOCK_BASE: Final = 0x72617465  # "rate"
SWEEP_KINDS: Final = ("incremental", "full", "maintenance")

_DECAY = decay_sql("i.created_at")
_MATCH_DECAY = decay_sql("m.created_at")

_FEATURES_SQL = """
SELECT u.id AS user_id, p.age, p.gender, p.seeking, p.age_min, p.age_max, p.city_key,
       p.latitude, p.longitude, p.radius_km, p.interests,
       coalesce(char_length(p.about), 0) AS about_len, p.name IS NOT NULL AS has_name,
       u.created_at, u.last_active_at,
       (p.completed_at IS NOT NULL AND u.onboarding_step IS NULL) AS is_complete,
       u.is_paused, u.is_banned, u.is_inactive, u.is_hidden,
       (SELECT count(*) FROM photos ph WHERE ph.user_id = u.id) AS photo_count
FROM users u JOIN profiles p ON p.user_id = u.id
WHERE u.id = ANY(%(ids)s)
"""

_RECEIVED_SQL = f"""
SELECT i.target_id AS user_id,
       sum({_DECAY}) FILTER (WHERE i.kind = 'view') AS views_received,
       sum({_DECAY}) FILTER (WHERE i.kind = 'like') AS likes_received,
       sum({_DECAY}) FILTER (WHERE i.kind = 'skip') AS skips_received
FROM interactions i WHERE i.target_id = ANY(%(ids)s) GROUP BY i.target_id
"""

_GIVEN_SQL = f"""
SELECT i.actor_id AS user_id,
       sum({_DECAY}) FILTER (WHERE i.kind = 'like') AS likes_given,
       sum({_DECAY}) FILTER (WHERE i.kind = 'skip') AS skips_given,
       sum({_DECAY}) FILTER (WHERE i.kind = 'like' AND EXISTS (
           SELECT 1 FROM matches m WHERE m.user_low = least(i.actor_id, i.target_id)
                                      AND m.user_high = greatest(i.actor_id, i.target_id)))
           AS likes_given_matched
FROM interactions i WHERE i.actor_id = ANY(%(ids)s) AND i.kind IN ('like', 'skip')
GROUP BY i.actor_id
"""

_MATCHES_SQL = f"""
SELECT side.user_id,
       sum({_MATCH_DECAY}) AS matches,
       sum({_MATCH_DECAY}) FILTER (WHERE m.started_by = side.user_id
                                    AND m.conversation <> 'none') AS conversations_started,
       sum({_MATCH_DECAY}) FILTER (WHERE m.started_by <> side.user_id
                                    AND m.conversation = 'replied') AS conversations_replied
FROM (SELECT id, user_low AS user_id FROM matches WHERE user_low = ANY(%(ids)s)
      UNION ALL
      SELECT id, user_high FROM matches WHERE user_high = ANY(%(ids)s)) side
JOIN matches m ON m.id = side.id
GROUP BY side.user_id
"""

# Mean like rate received, and given, per gender: the priors the behaviour rating shrinks to.
_PRIORS_SQL = """
SELECT p.gender, 'received' AS side,
       count(*) FILTER (WHERE i.kind = 'like')::float / nullif(count(*), 0) AS rate
FROM interactions i JOIN profiles p ON p.user_id = i.target_id
WHERE i.kind IN ('like', 'skip') GROUP BY p.gender
UNION ALL
SELECT p.gender, 'given',
       count(*) FILTER (WHERE i.kind = 'like')::float / nullif(count(*), 0)
FROM interactions i JOIN profiles p ON p.user_id = i.actor_id
WHERE i.kind IN ('like', 'skip') GROUP BY p.gender
"""


@dataclass(frozen=True)
class Priors:
    received: dict[str, float]
    given: dict[str, float]

    def like_rate(self, gender: str | None) -> float:
        return self.received.get(gender or "", DEFAULT_PRIOR_LIKE_RATE)

    def give_rate(self, gender: str | None) -> float:
        return self.given.get(gender or "", DEFAULT_PRIOR_LIKE_RATE)


@dataclass(frozen=True)
class Rated:
    user_id: int
    primary: float
    behaviour: float
    combined: float
    components: dict[str, Any]


@dataclass(frozen=True)
class SweepOutcome:
    sweep_id: int | None  # None: another node ran (or is running) this firing
    processed: int
    resumed: bool


def _features(row: DictRow) -> ProfileFeatures:
    return ProfileFeatures(
        user_id=int(row["user_id"]), age=row["age"], gender=row["gender"],
        seeking=row["seeking"], age_min=row["age_min"], age_max=row["age_max"],
        city_key=row["city_key"], latitude=row["latitude"], longitude=row["longitude"],
        radius_km=int(row["radius_km"]), interests=frozenset(row["interests"] or ()),
        about_len=int(row["about_len"]), photo_count=int(row["photo_count"]),
        has_name=bool(row["has_name"]), created_at=row["created_at"],
        last_active_at=row["last_active_at"], is_complete=bool(row["is_complete"]),
        is_paused=row["is_paused"], is_banned=row["is_banned"],
        is_inactive=row["is_inactive"], is_hidden=row["is_hidden"])


def score(features: ProfileFeatures, stats: BehaviourStats, priors: Priors,
          now: datetime) -> Rated:
    """All three levels for one user, with the components stored beside them."""
    primary, primary_parts = primary_score(features)
    behaviour, behaviour_parts = behaviour_score(
        stats, prior_like_rate=priors.like_rate(features.gender),
        prior_give_rate=priors.give_rate(features.gender))
    combined, combined_parts = combined_score(
        primary, behaviour, stats.evidence, created_at=features.created_at,
        last_active_at=features.last_active_at, now=now)
    return Rated(features.user_id, primary, behaviour, combined, {
        "primary": primary_parts, "behaviour": behaviour_parts, "combined": combined_parts,
        # Read back by the feed (storage.discovery) for reciprocity and evidence.
        "evidence": behaviour_parts["evidence"], "give_rate": behaviour_parts["give_rate"],
    })


@dataclass(frozen=True)
class Firing:
    """A sweep this node has claimed: its row, where it stopped, and the lock's connection."""

    conn: psycopg.Connection[DictRow]
    sweep_id: int
    cursor: int
    processed: int
    resumed: bool


@contextmanager
def claim_firing(database_url: str, kind: str, slot: datetime,
                 node_id: str) -> Iterator[Firing | None]:
    """Claim the firing of `kind` for `slot` (or an unfinished sweep of that kind, to resume
    it); None when another node holds the kind or already ran this firing. The claim is a
    session-level advisory lock on a dedicated connection, so it dies with the node, and the
    sweep is marked done when the block ends without an error."""
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        key = SWEEP_LOCK_BASE + SWEEP_KINDS.index(kind)
        held = conn.execute("SELECT pg_try_advisory_lock(%s) AS held", (key,)).fetchone()
        if not held or not held["held"]:
            yield None
            return
        try:
            row = conn.execute(
                """SELECT id, cursor_user, processed FROM sweep_runs
                   WHERE kind = %s AND status = 'running' ORDER BY id LIMIT 1""",
                (kind,)).fetchone()
            resumed = row is not None
            if row is None:
                row = conn.execute(
                    """INSERT INTO sweep_runs (kind, slot, node_id) VALUES (%s, %s, %s)
                       ON CONFLICT (kind, slot) DO NOTHING
                       RETURNING id, cursor_user, processed""",
                    (kind, slot, node_id)).fetchone()
            if row is None:  # this firing already ran on another node
                yield None
                return
            yield Firing(conn, int(row["id"]), int(row["cursor_user"] or 0),
                         int(row["processed"]), resumed)
            conn.execute("""UPDATE sweep_runs SET status = 'done', finished_at = now()
                            WHERE id = %s""", (row["id"],))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


class Ratings:
    def __init__(self, pool: Pool, database_url: str) -> None:
        self._pool = pool
        self._database_url = database_url

    # -- reading ---------------------------------------------------------------------------

    def priors(self) -> Priors:
        received: dict[str, float] = {}
        given: dict[str, float] = {}
        with self._pool.connection() as conn:
            for row in conn.execute(_PRIORS_SQL):
                if row["gender"] and row["rate"] is not None:
                    (received if row["side"] == "received" else given)[row["gender"]] = float(
                        row["rate"])
        return Priors(received, given)

    def rate(self, conn: psycopg.Connection[DictRow], user_ids: Sequence[int], priors: Priors,
             now: datetime) -> list[Rated]:
        params = {"ids": list(user_ids)}
        stats: dict[int, dict[str, float]] = {}
        for query in (_RECEIVED_SQL, _GIVEN_SQL, _MATCHES_SQL):
            for row in conn.execute(query, params):
                values = stats.setdefault(int(row["user_id"]), {})
                values.update({key: float(value or 0.0) for key, value in row.items()
                               if key != "user_id"})
        return [score(_features(row), BehaviourStats(**stats.get(int(row["user_id"]), {})),
                      priors, now)
                for row in conn.execute(_FEATURES_SQL, params)]

    # -- writing ---------------------------------------------------------------------------

    @staticmethod
    def write(conn: psycopg.Connection[DictRow], rated: Sequence[Rated],
              sweep_id: int | None) -> None:
        """Store ratings, their history (when part of a sweep) and the feed order key, set-based:
        one COPY into a temporary table, then one statement per target table."""
        conn.execute("""CREATE TEMPORARY TABLE IF NOT EXISTS rated_batch (
                            user_id bigint PRIMARY KEY, primary_score double precision,
                            behaviour_score double precision, combined_score double precision,
                            components jsonb) ON COMMIT DELETE ROWS""")
        with conn.cursor().copy("COPY rated_batch FROM STDIN") as copy:
            for item in rated:
                copy.write_row((item.user_id, item.primary, item.behaviour, item.combined,
                                json.dumps(item.components, separators=(",", ":"))))
        # The per-row trigger that copies combined_score to profiles.feed_score is skipped for
        # bulk writes (see schema.sql); the copy is done below in one statement instead.
        conn.execute("SET LOCAL dating.bulk_ratings = 'on'")
        conn.execute("""
            INSERT INTO ratings AS r (user_id, primary_score, behaviour_score, combined_score,
                                      components, dirty, computed_at)
            SELECT user_id, primary_score, behaviour_score, combined_score, components, false,
                   now()
            FROM rated_batch
            ON CONFLICT (user_id) DO UPDATE SET
                primary_score = excluded.primary_score,
                behaviour_score = excluded.behaviour_score,
                combined_score = excluded.combined_score, components = excluded.components,
                dirty = false, computed_at = excluded.computed_at""")
        conn.execute("""UPDATE profiles p SET feed_score = b.combined_score
                        FROM rated_batch b
                        WHERE p.user_id = b.user_id
                          AND p.feed_score IS DISTINCT FROM b.combined_score""")
        if sweep_id is not None:
            conn.execute("""
                INSERT INTO rating_history (sweep_id, user_id, primary_score, behaviour_score,
                                            combined_score, components)
                SELECT %s, user_id, primary_score, behaviour_score, combined_score, components
                FROM rated_batch ON CONFLICT (sweep_id, user_id) DO NOTHING""", (sweep_id,))

    def recompute(self, user_ids: Sequence[int], now: datetime | None = None) -> list[Rated]:
        """Rate a few users at once (a profile just changed); no history row."""
        if not user_ids:
            return []
        priors = self.priors()
        with self._pool.connection() as conn:
            rated = self.rate(conn, user_ids, priors, now or datetime.now(UTC))
            self.write(conn, rated, None)
        return rated

    # -- sweeps ----------------------------------------------------------------------------

    def sweep(self, kind: str, slot: datetime, node_id: str, *,
              after_batch: Callable[[int], None] | None = None) -> SweepOutcome:
        """Run the firing of `kind` scheduled for `slot`, or resume an unfinished sweep of that
        kind, unless another node has it. after_batch(processed) runs after each commit."""
        with claim_firing(self._database_url, kind, slot, node_id) as firing:
            if firing is None:
                return SweepOutcome(None, 0, resumed=False)
            since = self._previous_start(firing.conn, kind, firing.sweep_id)
            processed = self._run_batches(firing.sweep_id, kind, firing.cursor,
                                          firing.processed, since, after_batch)
            return SweepOutcome(firing.sweep_id, processed, firing.resumed)

    @staticmethod
    def _previous_start(conn: psycopg.Connection[DictRow], kind: str,
                        sweep_id: int) -> datetime | None:
        row = conn.execute("""SELECT max(started_at) AS at FROM sweep_runs
                              WHERE kind = %s AND status = 'done' AND id <> %s""",
                           (kind, sweep_id)).fetchone()
        return row["at"] if row else None

    def _run_batches(self, sweep_id: int, kind: str, cursor: int, processed: int,
                     since: datetime | None, after_batch: Callable[[int], None] | None) -> int:
        priors = self.priors()
        while True:
            with self._pool.connection() as conn:
                ids = self._next_ids(conn, kind, cursor, since)
                if not ids:
                    return processed
                rated = self.rate(conn, ids, priors, datetime.now(UTC))
                self.write(conn, rated, sweep_id)
                cursor = ids[-1]
                processed += len(rated)
                conn.execute("""UPDATE sweep_runs SET cursor_user = %s, processed = %s
                                WHERE id = %s""", (cursor, processed, sweep_id))
            if after_batch is not None:
                after_batch(processed)

    @staticmethod
    def _next_ids(conn: psycopg.Connection[DictRow], kind: str, cursor: int,
                  since: datetime | None) -> list[int]:
        """The next batch of users to rate after `cursor`: everyone for a full sweep; for an
        incremental one, profiles marked dirty and people in interactions or matches since
        the previous incremental sweep started."""
        if kind == "full" or since is None:
            rows = conn.execute("""SELECT user_id FROM profiles WHERE user_id > %s
                                   ORDER BY user_id LIMIT %s""", (cursor, BATCH_SIZE))
        else:
            rows = conn.execute("""
                SELECT user_id FROM (
                    SELECT user_id FROM ratings WHERE dirty AND user_id > %(cursor)s
                    UNION SELECT actor_id FROM interactions
                          WHERE created_at >= %(since)s AND actor_id > %(cursor)s
                    UNION SELECT target_id FROM interactions
                          WHERE created_at >= %(since)s AND target_id > %(cursor)s
                    UNION SELECT user_low FROM matches
                          WHERE last_activity_at >= %(since)s AND user_low > %(cursor)s
                    UNION SELECT user_high FROM matches
                          WHERE last_activity_at >= %(since)s AND user_high > %(cursor)s
                ) changed
                WHERE EXISTS (SELECT 1 FROM profiles p WHERE p.user_id = changed.user_id)
                ORDER BY user_id LIMIT %(limit)s""",
                {"cursor": cursor, "since": since, "limit": BATCH_SIZE})
        return [int(row["user_id"]) for row in rows]
