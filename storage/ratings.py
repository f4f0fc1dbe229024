"""Rating sweeps in PostgreSQL: read features and decayed behaviour in batches, score them
with domain.ranking, write ratings, their history and the feed order key.

A sweep is a row of sweep_runs. Each batch (a range of user ids) is written in one
transaction together with the sweep's cursor, so a sweep that dies halfway leaves every
finished batch complete and the next firing resumes after the last one. Exactly one node runs
a firing: the first to insert the (kind, slot) row of that firing runs it, under a
session-level advisory lock per kind that a dead node's connection releases at once.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from typing import Any, Final

import psycopg
from psycopg.rows import DictRow, dict_row, tuple_row

from domain.ranking import (
    DEFAULT_PRIOR_LIKE_RATE,
    IMPRESSION_HALF_LIFE_DAYS,
    INVITATION_BOOST_DAYS,
    BehaviourStats,
    ProfileFeatures,
    behaviour_score,
    combined_score,
    decay_sql,
    invitation_weight_sql,
    primary_score,
)
from storage.db import Pool

BATCH_SIZE: Final = 20_000
# Worker processes that score batches during a sweep: scoring is pure Python, and one
# interpreter would leave the second core to PostgreSQL alone.
SCORING_PROCESSES: Final = 2
# Distinct from the schema lock; one key per sweep kind.
SWEEP_LOCK_BASE: Final = 0x72617465  # "rate"
SWEEP_KINDS: Final = ("incremental", "full", "maintenance", "prefetch")

_DECAY = decay_sql("i.created_at")
_MATCH_DECAY = decay_sql("m.created_at")
_INVITATION_WEIGHT = invitation_weight_sql("v.counted_at")
# An invitation's boost lasts this long: the incremental sweep re-rates inviters with one
# that counted within it (or just ended), so the boost fades and ends on time.
_INVITATION_WINDOW = f"interval '{INVITATION_BOOST_DAYS * 86400:g} seconds'"

# Each query reads one batch of users, chosen by {which}: a range of ids for sweeps (an index
# range scan) or a list for a few users rated at once. Each row's decay weight is computed
# once, in double precision, then summed per kind.
_FEATURES_SQL = """
SELECT u.id AS user_id, p.age, p.gender, p.seeking, p.age_min, p.age_max, p.city_key,
       p.latitude, p.longitude, p.radius_km, p.interests,
       coalesce(char_length(p.about), 0) AS about_len, p.name IS NOT NULL AS has_name,
       u.created_at, u.last_active_at,
       (p.completed_at IS NOT NULL AND u.onboarding_step IS NULL) AS is_complete,
       u.is_paused, u.is_banned, u.is_inactive, u.is_hidden,
       (SELECT count(*) FROM photos ph WHERE ph.user_id = u.id) AS photo_count
FROM users u JOIN profiles p ON p.user_id = u.id
WHERE {which}
"""

_RECEIVED_SQL = f"""
SELECT user_id,
       sum(weight) FILTER (WHERE kind = 'like') AS likes_received,
       sum(weight) FILTER (WHERE kind = 'skip') AS skips_received
FROM (SELECT i.target_id AS user_id, i.kind, {_DECAY} AS weight
      FROM interactions i WHERE {{which}} AND i.kind IN ('like', 'skip')) weighted
GROUP BY user_id
"""

_GIVEN_SQL = f"""
SELECT user_id,
       sum(weight) FILTER (WHERE kind = 'like') AS likes_given,
       sum(weight) FILTER (WHERE kind = 'skip') AS skips_given,
       sum(weight) FILTER (WHERE kind = 'like' AND EXISTS (
           SELECT 1 FROM matches m WHERE m.user_low = least(user_id, target_id)
                                      AND m.user_high = greatest(user_id, target_id)))
           AS likes_given_matched
FROM (SELECT i.actor_id AS user_id, i.target_id, i.kind, {_DECAY} AS weight
      FROM interactions i WHERE {{which}} AND i.kind IN ('like', 'skip')) weighted
GROUP BY user_id
"""

_MATCHES_SQL = f"""
SELECT user_id,
       sum(weight) AS matches,
       sum(weight) FILTER (WHERE started_by = user_id
                           AND conversation <> 'none') AS conversations_started,
       sum(weight) FILTER (WHERE started_by <> user_id
                           AND conversation = 'replied') AS conversations_replied
FROM (SELECT side.user_id, m.started_by, m.conversation, {_MATCH_DECAY} AS weight
      FROM (SELECT id, user_low AS user_id FROM matches WHERE {{which_low}}
            UNION ALL
            SELECT id, user_high FROM matches WHERE {{which_high}}) side
      JOIN matches m ON m.id = side.id) weighted
GROUP BY user_id
"""


# Invitations that counted for the user (as inviter) within the boost's window.
_INVITATIONS_SQL = f"""
SELECT v.inviter_id AS user_id, sum({_INVITATION_WEIGHT}) AS invitations
FROM invitations v
WHERE {{which}} AND v.counted_at > now() - {_INVITATION_WINDOW}
GROUP BY v.inviter_id
"""


def _batch_queries(column_of: dict[str, str], by_range: bool) -> list[str]:
    """The five batch queries with their user condition filled in."""

    def which(column: str) -> str:
        return (
            f"{column} > %(low)s AND {column} <= %(high)s"
            if by_range
            else f"{column} = ANY(%(ids)s)"
        )

    return [
        _FEATURES_SQL.format(which=which(column_of["features"])),
        _RECEIVED_SQL.format(which=which("i.target_id")),
        _GIVEN_SQL.format(which=which("i.actor_id")),
        _MATCHES_SQL.format(which_low=which("user_low"), which_high=which("user_high")),
        _INVITATIONS_SQL.format(which=which("v.inviter_id")),
    ]


_BY_RANGE = _batch_queries({"features": "u.id"}, by_range=True)
_BY_LIST = _batch_queries({"features": "u.id"}, by_range=False)

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
    components_json: str = ""  # filled where the rating is made, off the writer's thread

    @property
    def row(self) -> RatedRow:
        return (self.user_id, self.primary, self.behaviour, self.combined, self.components_json)


@dataclass(frozen=True)
class SweepOutcome:
    sweep_id: int | None  # None: another node ran (or is running) this firing
    processed: int
    resumed: bool


def _features(row: tuple[Any, ...]) -> ProfileFeatures:
    """A row of _FEATURES_SQL, by position: tuples are much cheaper than dicts per row."""
    (
        user_id,
        age,
        gender,
        seeking,
        age_min,
        age_max,
        city_key,
        latitude,
        longitude,
        radius_km,
        interests,
        about_len,
        has_name,
        created_at,
        last_active_at,
        is_complete,
        is_paused,
        is_banned,
        is_inactive,
        is_hidden,
        photo_count,
    ) = row
    return ProfileFeatures(
        user_id=user_id,
        age=age,
        gender=gender,
        seeking=seeking,
        age_min=age_min,
        age_max=age_max,
        city_key=city_key,
        latitude=latitude,
        longitude=longitude,
        radius_km=radius_km,
        interests=frozenset(interests or ()),
        about_len=about_len,
        photo_count=photo_count,
        has_name=has_name,
        created_at=created_at,
        last_active_at=last_active_at,
        is_complete=is_complete,
        is_paused=is_paused,
        is_banned=is_banned,
        is_inactive=is_inactive,
        is_hidden=is_hidden,
    )


def _json_numbers(parts: dict[str, float]) -> str:
    """A flat dict of finite numbers as a JSON object, each to four significant digits (all
    they mean): several times faster than rounding and json.dumps, once per profile."""
    return "{" + ",".join(f'"{name}":{value:.4g}' for name, value in parts.items()) + "}"


def score(features: ProfileFeatures, stats: BehaviourStats, priors: Priors, now: datetime) -> Rated:
    """All three levels for one user, with the components stored beside them."""
    primary, primary_parts = primary_score(features)
    behaviour, behaviour_parts = behaviour_score(
        stats,
        prior_like_rate=priors.like_rate(features.gender),
        prior_give_rate=priors.give_rate(features.gender),
    )
    combined, combined_parts = combined_score(
        primary,
        behaviour,
        stats.evidence,
        created_at=features.created_at,
        last_active_at=features.last_active_at,
        now=now,
        invitations=stats.invitations,
    )
    extra = {
        # Read back by the feed (storage.feed_batch) for reciprocity, evidence and the prior.
        "evidence": behaviour_parts["evidence"],
        "give_rate": behaviour_parts["give_rate"],
        "like_rate": behaviour_parts["like_rate"],
        "prior_like_rate": priors.like_rate(features.gender),
        "invitations": stats.invitations,
    }
    components: dict[str, Any] = {
        "primary": primary_parts,
        "behaviour": behaviour_parts,
        "combined": combined_parts,
        **extra,
    }
    as_json = (
        f'{{"primary":{_json_numbers(primary_parts)},'
        f'"behaviour":{_json_numbers(behaviour_parts)},'
        f'"combined":{_json_numbers(combined_parts)},{_json_numbers(extra)[1:]}'
    )
    return Rated(features.user_id, primary, behaviour, combined, components, as_json)


# Feature rows, and per behaviour query its column names and rows (user_id first).
Batch = tuple[list[tuple[Any, ...]], list[tuple[list[str], list[tuple[Any, ...]]]]]


RatedRow = tuple[int, float, float, float, str]


def score_batch(batch: Batch, priors: Priors, now: datetime) -> list[Rated]:
    """Rate one batch as read by Ratings.read."""
    feature_rows, stats_rows = batch
    stats: dict[int, dict[str, float]] = {}
    for names, rows in stats_rows:
        for user_id, *values in rows:
            stats.setdefault(user_id, {}).update(
                zip(names, (float(value or 0.0) for value in values), strict=True)
            )
    return [
        score(_features(row), BehaviourStats(**stats.get(row[0], {})), priors, now)
        for row in feature_rows
    ]


def score_rows(batch: Batch, priors: Priors, now: datetime) -> list[RatedRow]:
    """score_batch for a worker process: only what Ratings.write stores goes back, as plain
    tuples, because unpickling thousands of objects would cost the sweep's main process more
    than the scoring it hands out."""
    return [rated.row for rated in score_batch(batch, priors, now)]


def scoring_processes() -> ProcessPoolExecutor:
    """The worker processes a sweep scores with. Each dies with the process that started
    it: a SIGKILLed node cannot shut its pool down, and its workers would otherwise wait on
    their task queue (whose ends they hold themselves) for ever."""
    return ProcessPoolExecutor(
        SCORING_PROCESSES,
        mp_context=get_context("spawn"),
        initializer=_die_with_parent,
        initargs=(os.getpid(),),
    )


PARENT_CHECK_SECONDS: Final = 0.5


def _die_with_parent(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@dataclass(frozen=True)
class Firing:
    """A sweep this node has claimed: its row, where it stopped, and the lock's connection."""

    conn: psycopg.Connection[DictRow]
    sweep_id: int
    cursor: int
    processed: int
    resumed: bool


@contextmanager
def claim_firing(
    database_url: str, kind: str, slot: datetime, node_id: str
) -> Iterator[Firing | None]:
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
                (kind,),
            ).fetchone()
            resumed = row is not None
            if row is None:
                row = conn.execute(
                    """INSERT INTO sweep_runs (kind, slot, node_id) VALUES (%s, %s, %s)
                       ON CONFLICT (kind, slot) DO NOTHING
                       RETURNING id, cursor_user, processed""",
                    (kind, slot, node_id),
                ).fetchone()
            if row is None:  # this firing already ran on another node
                yield None
                return
            yield Firing(
                conn, int(row["id"]), int(row["cursor_user"] or 0), int(row["processed"]), resumed
            )
            conn.execute(
                """UPDATE sweep_runs SET status = 'done', finished_at = now()
                            WHERE id = %s""",
                (row["id"],),
            )
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


class Ratings:
    def __init__(self, pool: Pool, database_url: str) -> None:
        self._pool = pool
        self._database_url = database_url

    # -- reading ---------------------------------------------------------------------------

    def priors(self) -> Priors:
        """The priors as the last sweep measured them (neutral defaults before any)."""
        received: dict[str, float] = {}
        given: dict[str, float] = {}
        with self._pool.connection() as conn:
            for row in conn.execute("SELECT name, value FROM ranking_stats"):
                side, _, gender = str(row["name"]).partition(":")
                if side in ("received", "given") and gender:
                    (received if side == "received" else given)[gender] = float(row["value"])
        return Priors(received, given)

    def measure(self) -> Priors:
        """Measure the priors and the mean recent impressions and keep them for the feed."""
        impressions = decay_sql("i.created_at", half_life_days=IMPRESSION_HALF_LIFE_DAYS)
        with self._pool.connection() as conn:
            rows = [
                (f"{row['side']}:{row['gender']}", float(row["rate"]))
                for row in conn.execute(_PRIORS_SQL)
                if row["gender"] and row["rate"] is not None
            ]
            mean = conn.execute(
                f"""SELECT coalesce(sum({impressions}), 0)
                           / greatest(1, (SELECT count(*) FROM profiles
                                          WHERE completed_at IS NOT NULL)) AS value
                    FROM interactions i
                    WHERE i.kind = 'view' AND i.created_at > now() - interval '7 days'""",
            ).fetchone()
            rows.append(("mean_recent_impressions", float(mean["value"]) if mean else 0.0))
            conn.cursor().executemany(
                """INSERT INTO ranking_stats (name, value) VALUES (%s, %s)
                   ON CONFLICT (name) DO UPDATE SET value = excluded.value,
                                                    computed_at = now()""",
                rows,
            )
        return self.priors()

    @staticmethod
    def read(
        conn: psycopg.Connection[DictRow], user_ids: Sequence[int], after: int | None = None
    ) -> Batch:
        """Features and decayed behaviour of these users, as the rows PostgreSQL returned
        (turning them into objects is the scorer's work, in a worker process for sweeps).
        With `after`, user_ids is a whole range of ids (after, last] in order, read by range
        scans; otherwise any list."""
        if after is None:
            features_sql, *stats_sql = _BY_LIST
            params: dict[str, Any] = {"ids": list(user_ids)}
        else:
            features_sql, *stats_sql = _BY_RANGE
            params = {"low": after, "high": user_ids[-1]}
        stats: list[tuple[list[str], list[tuple[Any, ...]]]] = []
        with conn.cursor(row_factory=tuple_row) as cursor:
            for query in stats_sql:
                cursor.execute(query, params)
                names = [column.name for column in cursor.description or ()][1:]
                stats.append((names, cursor.fetchall()))
            wanted = set(user_ids)
            cursor.execute(features_sql, params)
            return [row for row in cursor if row[0] in wanted], stats

    def rate(
        self,
        conn: psycopg.Connection[DictRow],
        user_ids: Sequence[int],
        priors: Priors,
        now: datetime,
    ) -> list[Rated]:
        return score_batch(self.read(conn, user_ids), priors, now)

    # -- writing ---------------------------------------------------------------------------

    @staticmethod
    def write(
        conn: psycopg.Connection[DictRow], rated: Sequence[RatedRow], sweep_id: int | None
    ) -> None:
        """Store ratings, their history (when part of a sweep) and the feed order key, set-based:
        one COPY into a temporary table, then one statement per target table."""
        conn.execute("""CREATE TEMPORARY TABLE IF NOT EXISTS rated_batch (
                            user_id bigint PRIMARY KEY, primary_score double precision,
                            behaviour_score double precision, combined_score double precision,
                            components jsonb) ON COMMIT DELETE ROWS""")
        with conn.cursor().copy("COPY rated_batch FROM STDIN") as copy:
            for row in rated:
                copy.write_row(row)
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
            conn.execute(
                """
                INSERT INTO rating_history (sweep_id, user_id, primary_score, behaviour_score,
                                            combined_score, components)
                SELECT %s, user_id, primary_score, behaviour_score, combined_score,
                       jsonb_build_object('evidence', components -> 'evidence',
                                          'give_rate', components -> 'give_rate')
                FROM rated_batch ON CONFLICT (sweep_id, user_id) DO NOTHING""",
                (sweep_id,),
            )

    def recompute(self, user_ids: Sequence[int], now: datetime | None = None) -> list[Rated]:
        """Rate a few users at once (a profile just changed); no history row."""
        if not user_ids:
            return []
        priors = self.priors()
        with self._pool.connection() as conn:
            rated = self.rate(conn, user_ids, priors, now or datetime.now(UTC))
            self.write(conn, [item.row for item in rated], None)
        return rated

    # -- sweeps ----------------------------------------------------------------------------

    def sweep(
        self,
        kind: str,
        slot: datetime,
        node_id: str,
        *,
        after_batch: Callable[[int], None] | None = None,
    ) -> SweepOutcome:
        """Run the firing of `kind` scheduled for `slot`, or resume an unfinished sweep of that
        kind, unless another node has it. after_batch(processed) runs after each commit."""
        with claim_firing(self._database_url, kind, slot, node_id) as firing:
            if firing is None:
                return SweepOutcome(None, 0, resumed=False)
            since = self._previous_start(firing.conn, kind, firing.sweep_id)
            processed = self._run_batches(
                firing.sweep_id, kind, firing.cursor, firing.processed, since, after_batch
            )
            return SweepOutcome(firing.sweep_id, processed, firing.resumed)

    @staticmethod
    def _previous_start(
        conn: psycopg.Connection[DictRow], kind: str, sweep_id: int
    ) -> datetime | None:
        row = conn.execute(
            """SELECT max(started_at) AS at FROM sweep_runs
                              WHERE kind = %s AND status = 'done' AND id <> %s""",
            (kind, sweep_id),
        ).fetchone()
        return row["at"] if row else None

    def _run_batches(
        self,
        sweep_id: int,
        kind: str,
        cursor: int,
        processed: int,
        since: datetime | None,
        after_batch: Callable[[int], None] | None,
    ) -> int:
        """A pipeline: this thread reads batches, worker processes score them (Python's share
        of the work, spread over the cores), a writer thread commits them in order, each with
        the sweep's cursor, so a death leaves only whole batches behind."""
        priors = self.measure()
        scored: queue.Queue[tuple[int, Future[list[RatedRow]]] | None] = queue.Queue(
            maxsize=SCORING_PROCESSES + 1
        )
        failure: list[BaseException] = []
        totals = [processed]

        def writer() -> None:
            try:
                while (item := scored.get()) is not None:
                    last_id, future = item
                    rated = future.result()
                    with self._pool.connection() as conn:
                        # Safe without waiting for the disk: a batch lost in a crash loses
                        # its cursor with it, and the resumed sweep rates it again.
                        conn.execute("SET LOCAL synchronous_commit = off")
                        self.write(conn, rated, sweep_id)
                        totals[0] += len(rated)
                        conn.execute(
                            """UPDATE sweep_runs SET cursor_user = %s, processed = %s
                                        WHERE id = %s""",
                            (last_id, totals[0], sweep_id),
                        )
                    if after_batch is not None:
                        after_batch(totals[0])
            except BaseException as error:
                failure.append(error)
                while scored.get() is not None:  # let the reader finish and see the failure
                    pass

        contiguous = kind == "full" or since is None
        with scoring_processes() as scorers:
            thread = threading.Thread(target=writer, name=f"sweep-{kind}-writer", daemon=True)
            thread.start()
            try:
                while not failure:
                    with self._pool.connection() as conn:
                        ids = self._next_ids(conn, kind, cursor, since)
                        if not ids:
                            break
                        batch = self.read(conn, ids, after=cursor if contiguous else None)
                    cursor = ids[-1]
                    scored.put(
                        (cursor, scorers.submit(score_rows, batch, priors, datetime.now(UTC)))
                    )
            finally:
                scored.put(None)
                thread.join()
        if failure:
            raise failure[0]
        return totals[0]

    @staticmethod
    def _next_ids(
        conn: psycopg.Connection[DictRow], kind: str, cursor: int, since: datetime | None
    ) -> list[int]:
        """The next batch of users to rate after `cursor`: everyone for a full sweep; for an
        incremental one, profiles marked dirty, people in interactions or matches since
        the previous incremental sweep started, and inviters whose invitation boost was
        running since then (so that it fades and ends)."""
        if kind == "full" or since is None:
            rows = conn.execute(
                """SELECT user_id FROM profiles WHERE user_id > %s
                                   ORDER BY user_id LIMIT %s""",
                (cursor, BATCH_SIZE),
            )
        else:
            rows = conn.execute(
                f"""
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
                    UNION SELECT inviter_id FROM invitations
                          WHERE counted_at >= %(since)s - {_INVITATION_WINDOW}
                            AND inviter_id > %(cursor)s
                ) changed
                WHERE EXISTS (SELECT 1 FROM profiles p WHERE p.user_id = changed.user_id)
                ORDER BY user_id LIMIT %(limit)s""",
                {"cursor": cursor, "since": since, "limit": BATCH_SIZE},
            )
        return [int(row["user_id"]) for row in rows]
