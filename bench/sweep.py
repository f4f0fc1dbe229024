"""Duration of a full rating sweep over generated data.

    .venv/bin/python -m bench.sweep --profiles 1000000 --interactions 10000000

Makes a fresh database, fills it with SQL (generate_series: completed profiles with a photo,
interactions and matches spread over 60 days), then times one full sweep (storage.ratings,
the code the nodes run) and, as the baseline in the same run, a bare read of the same
aggregates (the sweep's SQL without scoring or writing), so the ratio shows what rating and
writing add on top of reading. Target on this machine: < 60 s for 1,000,000 profiles and
10,000,000 interactions.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from storage import db
from storage.ratings import _BY_RANGE, BATCH_SIZE, Ratings
from tests.support.services import postgres_database

# Indexes dropped while loading and built afterwards: one sort beats ten million insertions.
LOAD_TIME_INDEXES = (
    "interactions_target_idx",
    "interactions_actor_time_idx",
    "interactions_created_idx",
)


def populate(pool: db.Pool, profiles: int, interactions: int) -> None:
    with pool.connection() as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(
            """
            INSERT INTO users (id, chat_id, language, created_at, last_active_at)
            SELECT g, g, 'en', now() - (g %% 90) * interval '1 day',
                   now() - (g %% 14) * interval '1 day'
            FROM generate_series(1, %(n)s) g""",
            {"n": profiles},
        )
        conn.execute(
            """
            INSERT INTO profiles (user_id, name, age, gender, seeking, age_min, age_max, city,
                                  city_key, about, interests, completed_at)
            SELECT g, 'Person ' || g, 18 + g %% 40, CASE WHEN g %% 2 = 0 THEN 'f' ELSE 'm' END,
                   CASE WHEN g %% 2 = 0 THEN 'm' ELSE 'f' END, 18 + g %% 10, 40 + g %% 30,
                   'City ' || g %% 50, 'city ' || g %% 50, repeat('about ', g %% 40),
                   (ARRAY['music','books','travel','art','yoga'])[1:(g %% 6)], now()
            FROM generate_series(1, %(n)s) g""",
            {"n": profiles},
        )
        conn.execute(
            """
            INSERT INTO photos (user_id, position, object_key, telegram_file_id, file_unique_id,
                                content_type, size_bytes)
            SELECT g, 0, 'photos/bench-' || g, 'file-' || g, 'unique-' || g, 'image/jpeg', 1000
            FROM generate_series(1, %(n)s) g""",
            {"n": profiles},
        )
        conn.execute(
            "INSERT INTO ratings (user_id) SELECT g FROM generate_series(1, %(n)s) g",
            {"n": profiles},
        )
        for name in LOAD_TIME_INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
    per_actor = max(1, interactions // profiles)
    step = 100_000
    for first in range(1, profiles + 1, step):
        last = min(profiles, first + step - 1)
        with pool.connection() as conn:
            conn.execute("SET synchronous_commit = off")
            # Each actor rates per_actor people of the other gender, ~30 % likes.
            # Parity is gender (even ids are women): with an even number of profiles,
            # 1 + (a + 2k * 7919) mod n always has the other parity, so the other gender.
            conn.execute(
                """
                INSERT INTO interactions (actor_id, target_id, kind, created_at)
                SELECT a, 1 + (a + 2 * k * 7919) %% %(n)s,
                       CASE WHEN (a * 7 + k) %% 10 < 3 THEN 'like' ELSE 'skip' END,
                       now() - ((a + k) %% 60) * interval '1 day'
                FROM generate_series(%(first)s, %(last)s) a, generate_series(1, %(k)s) k
                ON CONFLICT DO NOTHING""",
                {"first": first, "last": last, "k": per_actor, "n": profiles},
            )
    with pool.connection() as conn:
        conn.execute("""CREATE INDEX IF NOT EXISTS interactions_target_idx
                        ON interactions (target_id, kind, created_at)""")
        conn.execute("""CREATE INDEX IF NOT EXISTS interactions_actor_time_idx
                        ON interactions (actor_id, kind, created_at)""")
        conn.execute(
            "CREATE INDEX IF NOT EXISTS interactions_created_idx ON interactions (created_at)"
        )
        conn.execute("""
            INSERT INTO matches (user_low, user_high, created_at)
            SELECT least(a.actor_id, a.target_id), greatest(a.actor_id, a.target_id),
                   max(a.created_at)
            FROM interactions a JOIN interactions b
              ON b.actor_id = a.target_id AND b.target_id = a.actor_id AND b.kind = 'like'
            WHERE a.kind = 'like' AND a.actor_id < a.target_id
            GROUP BY 1, 2 ON CONFLICT DO NOTHING""")
    with pool.connection() as conn:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def bare_read(pool: db.Pool) -> float:
    """The sweep's three aggregate queries over every batch, with nothing done to the rows."""
    started = time.perf_counter()
    cursor = 0
    while True:
        with pool.connection() as conn:
            ids = [
                int(row["user_id"])
                for row in conn.execute(
                    "SELECT user_id FROM profiles WHERE user_id > %s ORDER BY user_id LIMIT %s",
                    (cursor, BATCH_SIZE),
                )
            ]
            if not ids:
                return time.perf_counter() - started
            for query in _BY_RANGE[1:]:
                conn.execute(query, {"low": cursor, "high": ids[-1]}).fetchall()
            cursor = ids[-1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", type=int, default=1_000_000, help="an even number")
    parser.add_argument("--interactions", type=int, default=10_000_000)
    args = parser.parse_args()
    with postgres_database("dating_bench_sweep") as url:
        pool = db.create_pool(url, max_size=4, name="bench-sweep")
        db.apply_schema(pool)
        started = time.perf_counter()
        populate(pool, args.profiles, args.interactions)
        with pool.connection() as conn:
            counts = conn.execute("""SELECT (SELECT count(*) FROM profiles) AS profiles,
                                            (SELECT count(*) FROM interactions) AS interactions,
                                            (SELECT count(*) FROM matches) AS matches""").fetchone()
        assert counts is not None
        print(
            f"generated {counts['profiles']:,} profiles, {counts['interactions']:,} "
            f"interactions, {counts['matches']:,} matches in "
            f"{time.perf_counter() - started:.0f} s"
        )
        read_seconds = bare_read(pool)
        sweep_started = time.perf_counter()
        outcome = Ratings(pool, url).sweep("full", datetime.now(UTC), "bench")
        sweep_seconds = time.perf_counter() - sweep_started
        pool.close()
    print("\n| step | seconds | per 1000 profiles |\n| --- | ---: | ---: |")
    n = max(1, outcome.processed)
    print(
        f"| bare read of the aggregates (baseline) | {read_seconds:.1f} | "
        f"{read_seconds / n * 1000:.3f} |"
    )
    print(
        f"| full sweep: read, rate, write ratings + history + feed key | {sweep_seconds:.1f} | "
        f"{sweep_seconds / n * 1000:.3f} |"
    )
    print(
        f"\nprofiles rated: {outcome.processed:,}; sweep / bare read = "
        f"{sweep_seconds / read_seconds:.2f}; target < 60 s: "
        f"{'met' if sweep_seconds < 60 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
