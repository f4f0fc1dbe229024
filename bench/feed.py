"""Feed benchmark: time to the next card with 100,000 and 1,000,000 profiles.

Run from the repository root (needs the local PostgreSQL; makes and drops its own database):

    python -m bench.feed --sizes 100000 1000000 --viewers 30 --cards 60 --seen 10000

A population is generated in SQL (seeded): 100 cities of Zipf-like sizes, 40 % of people
sharing coordinates scattered around their city instead of naming it, ages skewed young,
mostly heterosexual wishes, a few paused / banned / inactive / hidden, one photo each and a
random rating. Viewers are drawn from all kinds of places; each has already seen 10,000
people — the top of their own feed first (skipped or liked, as they would have been), then
random others — and their pass's cursor stands after what they saw.

Measured through storage.feed.Feed, exactly as the matcher actor calls it:
- next card: ``next_card`` then ``skip``, card after card (refills included), timed per card;
- newcomer served: mid-pass, a compatible newcomer finishes their profile (through
  storage.accounts, as onboarding does); the time from that commit until a ``next_card`` of
  the viewer returns them;
- pass start: the first card of a new pass (a day later, or after changing filters), which
  chooses the radius and has to pass over everything the viewer already decided on;
and the plans (EXPLAIN ANALYZE) of one ranked page and of the first page of a new pass for a
city viewer and a coordinates viewer.
The population grows in place from one size to the next.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from psycopg import sql

from domain.feed_pass import START
from storage import db, feed_batch
from storage.accounts import Account, Accounts
from storage.feed import FEED_WORK_MEM, Feed

T = TypeVar("T")

ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CITIES = 100
COORDINATE_SHARE = 0.4
INTERESTS = (
    "music",
    "movies",
    "books",
    "travel",
    "sport",
    "gym",
    "cooking",
    "games",
    "art",
    "photography",
    "dancing",
    "hiking",
    "pets",
    "tech",
    "science",
    "fashion",
    "cars",
    "yoga",
    "theatre",
    "volunteering",
)

_POPULATION_SQL = """
SELECT setseed(%(seed)s::float8);
CREATE TABLE IF NOT EXISTS bench_cities AS
    SELECT c AS n, 'city' || c AS key, 'City ' || c AS name,
           50 + random() * 6 AS lat, 30 + random() * 12 AS lon
    FROM generate_series(1, {cities}) c;
INSERT INTO users (id, chat_id, onboarding_step, is_paused, is_banned, is_inactive, is_hidden,
                   created_at, last_active_at)
SELECT g, g, NULL, random() < 0.02, random() < 0.005, random() < 0.01, random() < 0.002,
       now() - random() * interval '365 days', now() - random() * interval '30 days'
FROM generate_series(%(first)s::bigint, %(last)s::bigint) g;
INSERT INTO profiles (user_id, name, age, gender, seeking, age_min, age_max, city, city_key,
                      latitude, longitude, radius_km, interests, completed_at, feed_score)
SELECT s.g, 'P' || s.g, s.age, s.gender,
       CASE WHEN s.r_seek < 0.90 THEN (CASE s.gender WHEN 'm' THEN 'f' ELSE 'm' END)
            WHEN s.r_seek < 0.97 THEN 'any' ELSE s.gender END,
       greatest(18, s.age - 2 - floor(s.r_lo * 8)::int),
       least(100, s.age + 2 + floor(s.r_hi * 10)::int),
       CASE WHEN s.coords THEN NULL ELSE c.name END,
       CASE WHEN s.coords THEN NULL ELSE c.key END,
       CASE WHEN s.coords THEN c.lat + (random() - 0.5) * 0.3 END,
       CASE WHEN s.coords THEN c.lon + (random() - 0.5) * 0.5 END,
       (ARRAY[10, 25, 50, 100])[1 + floor(random() * 4)::int],
       ARRAY[(%(interests)s::text[])[1 + floor(random() * 20)::int],
             (%(interests)s::text[])[1 + floor(random() * 20)::int],
             (%(interests)s::text[])[1 + floor(random() * 20)::int]],
       now(), s.score
FROM (SELECT g, least(70, 18 + floor(-ln(1 - random()) * 9)::int) AS age,
             CASE WHEN random() < 0.5 THEN 'm' ELSE 'f' END AS gender,
             random() AS r_seek, random() AS r_lo, random() AS r_hi,
             least({cities}, greatest(1, floor(power({cities}, random()))::int)) AS city,
             random() < {coordinate_share} AS coords, random() AS score
      FROM generate_series(%(first)s::bigint, %(last)s::bigint) g) s
JOIN bench_cities c ON c.n = s.city;
INSERT INTO photos (user_id, position, object_key, telegram_file_id, file_unique_id,
                    content_type, size_bytes)
SELECT g, 0, 'bench/' || g, 'file' || g, 'unique' || g, 'image/jpeg', 1000
FROM generate_series(%(first)s::bigint, %(last)s::bigint) g;
ALTER TABLE ratings DISABLE TRIGGER ratings_copy_feed_score;
INSERT INTO ratings (user_id, combined_score, dirty)
SELECT user_id, feed_score, false FROM profiles WHERE user_id BETWEEN %(first)s AND %(last)s;
ALTER TABLE ratings ENABLE TRIGGER ratings_copy_feed_score;
"""


# Newcomers' ids, far above any population's.
_newcomer_ids = itertools.count(10**12)


@dataclass
class Timings:
    next_card_ms: list[float]
    newcomer_ms: list[float]
    pass_start_ms: list[float]


def grow(pool: db.Pool, first: int, last: int, seed: float) -> None:
    """Add people first..last (ids) to the population."""
    statement = _POPULATION_SQL.format(cities=CITIES, coordinate_share=COORDINATE_SHARE)
    with pool.connection() as conn:
        cursor = conn.cursor()
        for part in statement.split(";\n"):
            if part.strip():
                cursor.execute(
                    part, {"seed": seed, "first": first, "last": last, "interests": list(INTERESTS)}
                )
    analyze(pool)


def analyze(pool: db.Pool) -> None:
    """Fresh statistics, as autovacuum keeps them on a live database."""
    with pool.connection() as conn:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def choose_viewers(pool: db.Pool, count: int, population: int) -> list[int]:
    """Visible people spread over big and small cities and over coordinates."""
    with pool.connection() as conn:
        rows = conn.execute(
            """SELECT p.user_id FROM profiles p JOIN users u ON u.id = p.user_id
               WHERE NOT (u.is_paused OR u.is_banned OR u.is_inactive OR u.is_hidden)
                 AND p.user_id <= %s
               ORDER BY md5(p.user_id::text) LIMIT %s""",
            (population, count),
        ).fetchall()
    return [int(row["user_id"]) for row in rows]


def prepare_viewer(pool: db.Pool, feed: Feed, viewer: Account, seen: int, population: int) -> None:
    """The viewer has seen ``seen`` people: the top of their feed (80 % skipped, 20 % liked;
    at most half of it, so that cards are left) and then random others; their pass's cursor
    stands after the top part."""
    with pool.connection() as conn:
        conn.execute("DELETE FROM interactions WHERE actor_id = %s", (viewer.id,))
        conn.execute("DELETE FROM feed_passes WHERE viewer_id = %s", (viewer.id,))
    state = feed.current_pass(viewer)
    with pool.connection() as conn:
        pool_top = feed_batch.read(
            conn, viewer, state.radius_km, START, state.state.started_at, limit=2 * seen
        )
        top = pool_top[: min(seen, len(pool_top) // 2)]  # some are always left to show
        ids = [row.user_id for row in top if row.visible]
        decided = {"like": ids[::5], "skip": [t for n, t in enumerate(ids) if n % 5]}
        for kind, targets in decided.items():
            conn.execute(
                """INSERT INTO interactions (actor_id, target_id, kind, created_at)
                   SELECT %(viewer)s, t, k, now() - interval '1 day'
                   FROM unnest(%(ids)s::bigint[]) t, unnest(ARRAY['view', %(kind)s]) k
                   ON CONFLICT DO NOTHING""",
                {"viewer": viewer.id, "ids": targets, "kind": kind},
            )
        conn.execute(
            """INSERT INTO interactions (actor_id, target_id, kind, created_at)
               SELECT %(viewer)s, t, k, now() - interval '2 days'
               FROM (SELECT DISTINCT (1 + floor(random() * %(population)s))::bigint AS t
                     FROM generate_series(1, %(rest)s)) random_people,
                    unnest(ARRAY['view', 'skip']) k
               WHERE t <> %(viewer)s
               ON CONFLICT DO NOTHING""",
            {"viewer": viewer.id, "rest": seen - len(ids), "population": population},
        )
        after_id, after_score = (
            (top[-1].user_id, top[-1].score) if top else (2**63 - 1, float("inf"))
        )
        conn.execute(
            """INSERT INTO feed_passes (viewer_id, filters, radius_km, widened, widened_told,
                                        after_score, after_id, started_at)
               VALUES (%s, %s, %s, %s, true, %s, %s, now())""",
            (viewer.id, state.state.filters, state.radius_km, state.widened, after_score, after_id),
        )


def timed(action: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = action()
    return (time.perf_counter() - started) * 1000, result


def join_for(accounts: Accounts, viewer: Account, user_id: int) -> None:
    """A newcomer who fits the viewer finishes their profile, step by step as onboarding
    saves it: the profile, the photo, then the onboarding over."""
    accounts.register(user_id, user_id, "en", None)
    place: dict[str, object] = (
        {"latitude": viewer.latitude, "longitude": viewer.longitude}
        if viewer.has_location
        else {"city": viewer.city, "city_key": viewer.city_key}
    )
    accounts.update_profile(
        user_id,
        name=f"N{user_id}",
        age=viewer.age_min or viewer.age,
        gender="f" if viewer.seeking == "f" else "m",
        seeking="any",
        age_min=18,
        age_max=99,
        **place,
    )
    accounts.add_photo(user_id, f"bench/{user_id}", f"f{user_id}", f"u{user_id}", "image/jpeg", 1)
    accounts.set_onboarding_step(user_id, None)


def newcomer_served(feed: Feed, accounts: Accounts, viewer: Account, user_id: int) -> float:
    """Milliseconds from the newcomer's profile finishing to a card of them for the viewer."""
    join_for(accounts, viewer, user_id)
    started = time.perf_counter()
    for _ in range(100):
        found = feed.next_card(viewer)
        if found is None or found.card.user_id == user_id:
            break
        feed.skip(viewer.id, found.card.user_id)
    assert found is not None and found.card.user_id == user_id, f"never served to {viewer.id}"
    return (time.perf_counter() - started) * 1000


def measure(
    pool: db.Pool,
    feed: Feed,
    accounts: Accounts,
    viewers: list[Account],
    cards: int,
    restarts: int,
    newcomers: int,
) -> Timings:
    timings = Timings([], [], [])
    for viewer in viewers:
        for _ in range(cards):
            elapsed, found = timed(partial(feed.next_card, viewer))
            if found is None:
                break
            timings.next_card_ms.append(elapsed)
            feed.skip(viewer.id, found.card.user_id)
        for _ in range(newcomers):
            served = newcomer_served(feed, accounts, viewer, next(_newcomer_ids))
            timings.newcomer_ms.append(served)
    for viewer in viewers:
        for _ in range(restarts):
            with pool.connection() as conn:
                conn.execute("DELETE FROM feed_passes WHERE viewer_id = %s", (viewer.id,))
            elapsed, _ = timed(partial(feed.next_card, viewer))
            timings.pass_start_ms.append(elapsed)
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(label: str, values: list[float]) -> str:
    if not values:
        return f"  {label:<26} no samples"
    return (
        f"  {label:<26} n={len(values):<5} p50={statistics.median(values):7.2f} ms  "
        f"p99={percentile(values, 0.99):7.2f} ms  max={max(values):7.2f} ms"
    )


def explain(pool: db.Pool, feed: Feed, viewer: Account, *, new_pass: bool) -> str:
    """The plan of the viewer's next ranked page, or of the first page of a new pass."""
    state = feed.current_pass(viewer)
    cursor = START if new_pass else state.state.cursor
    started = datetime.now(UTC) if new_pass else state.state.started_at
    query, params = feed_batch.query(viewer, state.radius_km, cursor, started)
    with pool.connection() as conn:
        conn.execute(f"SET LOCAL work_mem = '{FEED_WORK_MEM}'")
        rows = conn.execute(
            sql.SQL("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ") + query, params
        ).fetchall()
    return "\n".join("    " + row["QUERY PLAN"] for row in rows)


def describe(viewer: Account) -> str:
    place = (
        f"coordinates, radius {viewer.radius_km} km"
        if viewer.has_location
        else f"city {viewer.city}"
    )
    return f"viewer {viewer.id} ({viewer.gender} seeking {viewer.seeking}, {place})"


def run(args: argparse.Namespace) -> None:
    name = f"feed_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    pool = db.create_pool(f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}", max_size=4, name="bench")
    try:
        db.apply_schema(pool)
        feed, accounts = Feed(pool), Accounts(pool)
        population = 0
        for size in sorted(args.sizes):
            started = time.perf_counter()
            grow(pool, population + 1, size, args.seed)
            population = size
            print(f"\n== {size:,} profiles (generated in {time.perf_counter() - started:.0f} s)")
            viewers = [
                account
                for user_id in choose_viewers(pool, args.viewers, size)
                if (account := accounts.get(user_id)) is not None
            ]
            for viewer in viewers:
                prepare_viewer(pool, feed, viewer, args.seen, size)
            analyze(pool)
            timings = measure(
                pool, feed, accounts, viewers, args.cards, args.restarts, args.newcomers
            )
            print(summary("next card", timings.next_card_ms))
            print(summary("newcomer served mid-pass", timings.newcomer_ms))
            print(summary("first card of a new pass", timings.pass_start_ms))
            for viewer in (
                next(v for v in viewers if not v.has_location),
                next(v for v in viewers if v.has_location),
            ):
                prepare_viewer(pool, feed, viewer, args.seen, size)
                print(f"  plan of one ranked page, {describe(viewer)}:")
                print(explain(pool, feed, viewer, new_pass=False))
                print(f"  plan of the first page of a new pass, {describe(viewer)}:")
                print(explain(pool, feed, viewer, new_pass=True))
    finally:
        pool.close()
        if not args.keep:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--viewers", type=int, default=30)
    parser.add_argument("--cards", type=int, default=60, help="cards per viewer")
    parser.add_argument("--seen", type=int, default=10_000)
    parser.add_argument("--restarts", type=int, default=3, help="new passes per viewer")
    parser.add_argument("--newcomers", type=int, default=2, help="newcomers per viewer")
    parser.add_argument("--seed", type=float, default=0.42)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
