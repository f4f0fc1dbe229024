"""Feed benchmark: time to the next card with 100,000 and 1,000,000 profiles.

Run from the repository root (needs the local PostgreSQL; makes and drops its own database,
or keeps the one named by ``--db`` so that a population is generated once):

    python -m bench.feed --sizes 100000 1000000 --viewers 30 --cards 60 --seen 10000
    python -m bench.feed --db feed_bench --sizes 1000000 --per-viewer --plans

A population is generated in SQL (seeded): 100 cities of Zipf-like sizes, 40 % of people
sharing coordinates scattered around their city instead of naming it, ages skewed young,
mostly heterosexual wishes, a few paused / banned / inactive / hidden, one photo each and a
random rating. Viewers are drawn from all kinds of places; each has already seen 10,000
people — the top of their own feed first (skipped or liked, as they would have been; never
the people who could not be shown, who therefore stay at its top), then random others — and
their pass's cursor stands after what they saw.

Measured through storage.feed.Feed, exactly as the matcher actor calls it, for each shape of
the feed's reads (``--shapes``): ``current`` (what production runs), ``baseline``
(storage.feed_batch.BASELINE, the reads before issue 13: one place per viewer, decisions
hashed, no fresh read) and, when asked, ``unfixed`` (the current reads before the fixes for
these targets: decisions hashed, no ``listed``, one-page counts, the fresh read planned per
card, JIT on); one viewer after the other from the same prepared state, so that the ratios
come from one run under the same load:
- next card: ``next_card`` then ``skip``, card after card (refills included), timed per card;
- newcomer served (current only): mid-pass, a compatible newcomer finishes their profile
  (through storage.accounts, as onboarding does); the time from that commit until a
  ``next_card`` of the viewer returns them;
- pass start: the first card of a new pass (a day later, or after changing filters), which
  chooses the radius and has to pass over everything the viewer already decided on;
then each row's p99 against the baseline's, the load average before and after, and with
``--plans`` the plans (EXPLAIN ANALYZE) of one ranked page and of the first page of a new
pass for a city viewer and a coordinates viewer.
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
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Final, TypeVar

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from psycopg import sql

from domain.feed_pass import START
from domain.interests import INTERESTS
from storage import _rules as rules
from storage import db, feed_batch
from storage.accounts import Account, Accounts
from storage.feed import Feed

T = TypeVar("T")

ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CITIES = 100
COORDINATE_SHARE = 0.4

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
ALTER TABLE photos DISABLE TRIGGER photos_visible_again;
ALTER TABLE photos DISABLE TRIGGER photos_listed;
INSERT INTO photos (user_id, position, object_key, telegram_file_id, file_unique_id,
                    content_type, size_bytes)
SELECT g, 0, 'bench/' || g, 'file' || g, 'unique' || g, 'image/jpeg', 1000
FROM generate_series(%(first)s::bigint, %(last)s::bigint) g;
ALTER TABLE photos ENABLE TRIGGER photos_visible_again;
ALTER TABLE photos ENABLE TRIGGER photos_listed;
UPDATE profiles SET listed = account_listed(user_id)
WHERE user_id BETWEEN %(first)s AND %(last)s;
ALTER TABLE ratings DISABLE TRIGGER ratings_copy_feed_score;
INSERT INTO ratings (user_id, combined_score, dirty)
SELECT user_id, feed_score, false FROM profiles WHERE user_id BETWEEN %(first)s AND %(last)s;
ALTER TABLE ratings ENABLE TRIGGER ratings_copy_feed_score;
"""


# Newcomers' ids, far above any population's.
NEWCOMER_IDS: Final = 10**12
_newcomer_ids = itertools.count(NEWCOMER_IDS)


SHAPES: Final = {
    "baseline": feed_batch.BASELINE,
    # The current reads as main had them before the decisions were probed and the feed indexes
    # left out unlisted people: what the fixes of bench/feed's 1,000,000 targets changed.
    "unfixed": replace(
        feed_batch.CURRENT,
        undecided=rules.UNDECIDED_HASHED,
        work_mem="32MB",
        listed=False,
        count_pages=1,
        jit=True,
        fresh_generic=False,
    ),
    "current": feed_batch.CURRENT,
}


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
        cursor.execute("SET LOCAL statement_timeout = 0")
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
        conn.execute("SET statement_timeout = 0")
        conn.execute("VACUUM ANALYZE")
        conn.execute("RESET statement_timeout")


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
            conn,
            feed_batch.Page(viewer, state.radius_km, START, state.state.started_at, 2 * seen),
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


def vacuum_interactions(pool: db.Pool) -> None:
    """The decisions just inserted all-visible, as autovacuum keeps them on a live database (an
    index-only probe of a page not yet vacuumed visits the heap)."""
    with pool.connection() as conn:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE interactions")


def measure_viewer(
    pool: db.Pool,
    feed: Feed,
    accounts: Accounts,
    viewer: Account,
    args: argparse.Namespace,
    timings: Timings,
    label: str = "",
) -> None:
    """One viewer's cards (skipping each), newcomers (when the shape reads them) and new
    passes, from the state prepare_viewer left."""
    for _ in range(args.cards):
        elapsed, found = timed(partial(feed.next_card, viewer))
        if found is None:
            break
        timings.next_card_ms.append(elapsed)
        feed.skip(viewer.id, found.card.user_id)
    for _ in range(args.newcomers if feed.shape.fresh else 0):
        served = newcomer_served(feed, accounts, viewer, next(_newcomer_ids))
        timings.newcomer_ms.append(served)
    starts = []
    for _ in range(args.restarts):
        with pool.connection() as conn:
            conn.execute("DELETE FROM feed_passes WHERE viewer_id = %s", (viewer.id,))
        elapsed, _ = timed(partial(feed.next_card, viewer))
        starts.append(elapsed)
    timings.pass_start_ms.extend(starts)
    if args.per_viewer:
        radius = feed.current_pass(viewer).radius_km if viewer.has_location else None
        times = ", ".join(f"{ms:.1f}" for ms in starts)
        at = f" at {radius} km" if radius is not None else ""
        print(f"    [{label}] {describe(viewer)}: new pass {times} ms{at}")


def measure(
    pool: db.Pool,
    feeds: dict[str, Feed],
    accounts: Accounts,
    viewers: list[Account],
    args: argparse.Namespace,
    population: int,
) -> dict[str, Timings]:
    """Every shape for one viewer after the other (the first shape alternating from viewer to
    viewer), each from the same prepared state, so that a change of the machine's load
    weighs on both alike."""
    timings = {label: Timings([], [], []) for label in feeds}
    preparer = Feed(pool)
    for number, viewer in enumerate(viewers):
        labels = list(feeds)
        for label in labels[number % len(labels) :] + labels[: number % len(labels)]:
            prepare_viewer(pool, preparer, viewer, args.seen, population)
            vacuum_interactions(pool)
            measure_viewer(pool, feeds[label], accounts, viewer, args, timings[label], label)
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
    query, params = feed_batch.query(
        feed_batch.Page(viewer, state.radius_km, cursor, started, shape=feed.shape)
    )
    with pool.connection() as conn:
        if feed.shape.work_mem is not None:
            conn.execute(f"SET LOCAL work_mem = '{feed.shape.work_mem}'")
        if not feed.shape.jit:
            conn.execute("SET LOCAL jit = off")
        rows = conn.execute(
            sql.SQL("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ") + query, params
        ).fetchall()
    return "\n".join("    " + row["QUERY PLAN"] for row in rows)


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def report(timings: dict[str, Timings]) -> None:
    """Each shape's rows, then each row's p99 against the baseline's."""
    rows = (
        ("next card", "next_card_ms"),
        ("newcomer served mid-pass", "newcomer_ms"),
        ("first card of a new pass", "pass_start_ms"),
    )
    for label, timing in timings.items():
        print(f"  [{label}]")
        for title, name in rows:
            print(summary(title, getattr(timing, name)))
    base = timings.get("baseline")
    for label, timing in timings.items() if base is not None else ():
        for title, name in rows if label != "baseline" else ():
            before, after = getattr(base, name), getattr(timing, name)
            if before and after:
                ratio = percentile(after, 0.99) / percentile(before, 0.99)
                print(f"  {title:<26} p99 {label} / baseline = {ratio:.2f}")


def describe(viewer: Account) -> str:
    place = (
        f"coordinates, radius {viewer.radius_km} km"
        if viewer.has_location
        else f"city {viewer.city}"
    )
    return f"viewer {viewer.id} ({viewer.gender} seeking {viewer.seeking}, {place})"


def population_of(pool: db.Pool) -> int:
    """The highest id of the generated population the database holds (0: none yet); the
    newcomers of an earlier run are removed, so that each run starts from the population."""
    with pool.connection() as conn:
        conn.execute("DELETE FROM users WHERE id >= %s", (NEWCOMER_IDS,))
        row = conn.execute("SELECT coalesce(max(user_id), 0) AS n FROM profiles").fetchone()
    return int(row["n"]) if row else 0


def run(args: argparse.Namespace) -> None:
    name = args.db or f"feed_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    pool = db.create_pool(f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}", max_size=4, name="bench")
    try:
        db.apply_schema(pool)
        feeds = {label: Feed(pool, SHAPES[label]) for label in args.shapes}
        accounts = Accounts(pool)
        population = population_of(pool)
        for size in sorted(args.sizes):
            started = time.perf_counter()
            if size > population:
                grow(pool, population + 1, size, args.seed)
                population = size
                took = time.perf_counter() - started
                print(f"\n== {size:,} profiles (generated in {took:.0f} s)")
            elif size == population:
                print(f"\n== {size:,} profiles (kept in {name})")
            else:
                print(f"\n== {size:,} profiles: left out, {name} holds {population:,}")
                continue
            viewers = [
                account
                for user_id in choose_viewers(pool, args.viewers, size)
                if (account := accounts.get(user_id)) is not None
            ]
            print(f"  load average before: {load()}")
            timings = measure(pool, feeds, accounts, viewers, args, size)
            print(f"  load average after: {load()}")
            report(timings)
            for label, feed in feeds.items() if args.plans else ():
                for viewer in (
                    next(v for v in viewers if not v.has_location),
                    next(v for v in viewers if v.has_location),
                ):
                    prepare_viewer(pool, Feed(pool), viewer, args.seen, size)
                    vacuum_interactions(pool)
                    print(f"  [{label}] plan of one ranked page, {describe(viewer)}:")
                    print(explain(pool, feed, viewer, new_pass=False))
                    print(f"  [{label}] plan of the first page of a new pass, {describe(viewer)}:")
                    print(explain(pool, feed, viewer, new_pass=True))
    finally:
        pool.close()
        if not (args.keep or args.db):
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
    parser.add_argument(
        "--shapes",
        nargs="+",
        choices=list(SHAPES),
        default=["baseline", "current"],
        help="the feed shapes measured back to back (baseline: before issue 13; unfixed: the"
        " current reads before the fixes for the 1,000,000 targets)",
    )
    parser.add_argument("--plans", action="store_true", help="print the EXPLAIN ANALYZE plans")
    parser.add_argument("--per-viewer", action="store_true", help="print each viewer's new passes")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--db",
        help="use (and keep) this database: made when missing, its population grown only past"
        " the size it already holds, so a 1,000,000 population is generated once",
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
