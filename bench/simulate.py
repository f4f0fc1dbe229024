"""Seeded simulation of the production feed: random, popularity, likers-first and ours.

Run from the repository root:

    python -m bench.simulate --users 5000 --days 14 --seed 1

A population is generated once (gender, age, city and maybe coordinates, interests, age and
gender wishes, plus a hidden appeal, pickiness and activity per person), with:

- dormant profiles: SHARE_DORMANT of the people present at the start are visible but never
  open the bot again (gone DORMANT_IDLE_DAYS before the run); they never like back;
- churn: each day an active user leaves for good with CHURN_DAILY; the profile stays
  visible and counts as dormant from then on;
- bursty activity: each person is engaged or lukewarm, switching with BURST_SWITCH a day,
  opening the bot with BURST_HIGH or BURST_LOW times their activity; an opening day has one
  to three sessions (EXTRA_SESSION) at random times 08:00-22:00;
- joining and resuming: SHARE_NEW join during the run and SHARE_PAUSED resume from a pause,
  each at a moment of a day, visible from then on (the pass's fresh read sees them).
- invitations: SHARE_INVITED of those who join came through the link of someone present in
  their city (an active person, chosen by activity); it counts for the inviter when the
  newcomer has a photo (finished a profile) and the inviter is under the cap per period, and
  then lifts the inviter by ``domain.ranking.invitation_boost`` (``--invitations off``: not).

Each session takes up to ``--cards-per-session`` cards from the viewer's pass, run by
``domain.feed_pass.next_candidate`` exactly as storage runs it: pages of 20 after a keyset
cursor in a stored order, reordered per viewer, likers first, newcomers let in on the next
card. The candidate rules are ``domain.filters``; for "ours" the stored order is the nightly
sweep's ``combined_score`` and pages are reordered by ``domain.ranking.order_feed`` (imported,
not copied). Each card is liked or skipped with a hidden probability; a like that meets a like
is a match.

Every policy sees the same population, the same sessions at the same times and the same
random draw for the same viewer, card and repeat (common random numbers), so the differences
in the table come from the order alone. The model is documented in docs/ranking.md.
"""

from __future__ import annotations

import argparse
import bisect
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from domain import feed_pass, filters, geo, ranking
from domain.filters import Relation
from domain.ranking import (
    BehaviourStats,
    CandidateRating,
    FeedCandidate,
    ProfileFeatures,
)

START = datetime(2025, 3, 3, tzinfo=UTC)
DAY = timedelta(days=1)

# ---------------------------------------------------------------------------------------------
# Population model (identical for every policy; see docs/ranking.md "Simulator")
# ---------------------------------------------------------------------------------------------

N_CITIES = 6  # one region: a large city, a few towns (pools of ~100-300; see docs)
CITY_ZIPF_EXPONENT = 1.0  # city sizes ~ 1 / rank
REGION_LAT = (50.0, 56.0)  # cities scattered over a ~650 x 800 km region
REGION_LON = (30.0, 42.0)
SHARE_COORDS = 0.6  # share of people who share their location
HOME_SPREAD_DEG = 0.06  # ~7 km: where people live around their city's centre
RADIUS_CHOICES = ((10, 0.2), (25, 0.3), (50, 0.35), (100, 0.15))
CITY_MARGIN_KM = 60.0  # a city's people live within this of its centre (for bucketing only)

SHARE_MEN = 0.6  # dating apps skew male
SEEKING_SAME = 0.05
SEEKING_ANY = 0.03
SHARE_NO_PHOTO = 0.03  # never finished uploading a photo: never shown
SHARE_PAUSED = 0.03  # paused when the run starts, resuming on a day of the run
SHARE_NEW = 0.15  # join during the run, spread evenly over days 1 .. days-1, 8:00 .. 22:00
# Dormant: visible profiles whose owners never open the bot again (gone 30 .. 180 days before
# the run). Every dating platform carries many: people rarely delete, they stop coming.
SHARE_DORMANT = 0.25
DORMANT_IDLE_DAYS = (30.0, 180.0)
# Churn: each day an active user leaves for good with this chance; their profile stays visible
# and from then on counts as dormant.
CHURN_DAILY = 0.015
# Bursty activity: each person is engaged or lukewarm, switching with BURST_SWITCH a day;
# engaged they open the bot with BURST_HIGH x their activity, lukewarm with BURST_LOW x. An
# opening day has 1 session, or 2 or 3 (EXTRA_SESSION each), spread over 8:00 .. 22:00.
BURST_SWITCH = 0.25
BURST_HIGH = 1.6
BURST_LOW = 0.3
EXTRA_SESSION = 0.35
DAY_OPENS_H = 8.0
DAY_HOURS = 14.0

INTEREST_COUNT_MAX = 7
INTERESTS = (
    "music", "movies", "books", "travel", "sport", "gym", "cooking", "games", "art",
    "photography", "dancing", "hiking", "pets", "tech", "science", "fashion", "cars", "yoga",
    "theatre", "volunteering",
)  # fmt: skip

# Hidden like probability: sigmoid(BASE[viewer gender] + APPEAL_W * card appeal
#   + INTEREST_W * min(shared, 3) / 3 + AGE_W * age closeness to the viewer's ideal
#   - viewer pickiness). Men like ~40 % of cards, women ~15 %, as reported for swipe apps.
LIKE_BASE = {"m": -1.4, "f": -2.9}
APPEAL_W = 1.2
INTEREST_W = 1.0
AGE_W = 1.0
PICKINESS_SD = 0.6

# Share of newcomers who joined through a friend's invitation link (Leomatch-style growth).
SHARE_INVITED = 0.3

# Verification (issue 14): a person has the ✅ badge with VERIFY_RATE x their activity (about
# 30 % of people; those who open the bot often are the ones who bother), half that for the
# dormant. The badge changes nobody's hidden like probability: what the trust signal can gain
# comes only from verified people being the ones who come back and answer.
VERIFY_RATE = 0.6

# Daily probability of opening the bot: 0.1 .. 0.95, mean ~0.52.
ACTIVITY_MIN = 0.1
ACTIVITY_SPAN = 0.85


@dataclass(slots=True)
class Person:
    """The hidden truth about one simulated user."""

    appeal: float
    pickiness: float
    activity: float
    join_day: int
    visible_from: datetime  # joined, or resumed from a pause
    leaves_at: datetime | None  # never opens the bot from then on (dormant or churned)
    ideal_age: float
    age_sigma: float
    city: int


@dataclass(slots=True)
class Population:
    profiles: list[ProfileFeatures]
    people: list[Person]
    city_centres: list[tuple[float, float]]


def _weighted_choice(rng: random.Random, options: Sequence[tuple[int, float]]) -> int:
    x = rng.random() * sum(w for _, w in options)
    for value, weight in options:
        x -= weight
        if x <= 0:
            return value
    return options[-1][0]


def _timeline(
    rng: random.Random, activity: float, days: int
) -> tuple[int, datetime, datetime, datetime, datetime | None]:
    """When one person joined, was last active, became visible and leaves for good."""
    leaves_at: datetime | None = None
    if rng.random() < SHARE_NEW and days > 1:
        join_day = rng.randint(1, days - 1)
        created = START + join_day * DAY + timedelta(hours=DAY_OPENS_H + rng.uniform(0, 13))
        last_active = visible_from = created
    else:
        join_day = 0
        created = START - timedelta(days=rng.uniform(14, 365))
        last_active = START - timedelta(days=rng.expovariate(activity))
        visible_from = START - DAY
        if rng.random() < SHARE_DORMANT:
            last_active = START - timedelta(days=rng.uniform(*DORMANT_IDLE_DAYS))
            leaves_at = last_active
        elif rng.random() < SHARE_PAUSED and days > 1:
            visible_from = (
                START
                + rng.randint(1, days - 1) * DAY
                + timedelta(hours=DAY_OPENS_H + rng.uniform(0, 13))
            )
            last_active = START - timedelta(days=rng.uniform(3, 60))
    if leaves_at is None:
        stays = int(rng.expovariate(CHURN_DAILY))
        if join_day + stays < days:
            leaves_at = START + (join_day + stays) * DAY
    return join_day, created, last_active, visible_from, leaves_at


def generate_population(n: int, days: int, seed: int, cities: int = N_CITIES) -> Population:
    """The seeded population: profiles the code sees, and hidden traits it does not."""
    rng = random.Random(seed)
    centres = [(rng.uniform(*REGION_LAT), rng.uniform(*REGION_LON)) for _ in range(cities)]
    city_weights = [1.0 / (rank + 1) ** CITY_ZIPF_EXPONENT for rank in range(cities)]
    interest_weights = [1.0 / math.sqrt(i + 1) for i in range(len(INTERESTS))]
    profiles: list[ProfileFeatures] = []
    people: list[Person] = []
    for uid in range(n):
        gender = "m" if rng.random() < SHARE_MEN else "f"
        other = "f" if gender == "m" else "m"
        roll = rng.random()
        seeking = (
            gender if roll < SEEKING_SAME else "any" if roll < SEEKING_SAME + SEEKING_ANY else other
        )
        age = min(60, 18 + int(rng.gammavariate(2.0, 5.0)))
        if gender == "m":  # men tend to ask for younger partners, women for older ones
            lo, hi = age - rng.randint(4, 10), age + rng.randint(0, 5)
        else:
            lo, hi = age - rng.randint(0, 4), age + rng.randint(3, 10)
        lo, hi = max(18, lo), min(100, max(18, lo, hi))
        city = rng.choices(range(cities), weights=city_weights)[0]
        lat: float | None = None
        lon: float | None = None
        if rng.random() < SHARE_COORDS:
            lat = centres[city][0] + rng.gauss(0.0, HOME_SPREAD_DEG)
            lon = centres[city][1] + rng.gauss(0.0, HOME_SPREAD_DEG * 1.7)
        k = rng.randint(0, INTEREST_COUNT_MAX)
        picked: list[str] = []
        pool = list(INTERESTS)
        weights = list(interest_weights)
        for _ in range(k):
            j = rng.choices(range(len(pool)), weights=weights)[0]
            picked.append(pool.pop(j))
            weights.pop(j)
        about = 0 if rng.random() < 0.25 else min(1000, int(rng.expovariate(1 / 120)))
        photos = 0 if rng.random() < SHARE_NO_PHOTO else rng.choice((1, 2, 2, 3, 3))
        activity = ACTIVITY_MIN + ACTIVITY_SPAN * rng.betavariate(2.0, 2.0)
        join_day, created, last_active, visible_from, leaves_at = _timeline(rng, activity, days)
        profiles.append(
            ProfileFeatures(
                user_id=uid,
                age=age,
                gender=gender,
                seeking=seeking,
                age_min=lo,
                age_max=hi,
                city_key=f"city{city}",
                latitude=lat,
                longitude=lon,
                radius_km=_weighted_choice(rng, RADIUS_CHOICES),
                interests=frozenset(picked),
                about_len=about,
                photo_count=photos,
                has_name=True,
                created_at=created,
                last_active_at=last_active,
            )
        )
        people.append(
            Person(
                appeal=rng.gauss(0.0, 1.0),
                pickiness=rng.gauss(0.0, PICKINESS_SD),
                activity=activity,
                join_day=join_day,
                visible_from=visible_from,
                leaves_at=leaves_at,
                ideal_age=(lo + hi) / 2.0,
                age_sigma=max(2.0, (hi - lo) / 2.0),
                city=city,
            )
        )
    # A generator of its own: the badge leaves every other draw of the population as it was.
    badge_rng = random.Random(seed * 104729 + 3)
    for uid, person in enumerate(people):
        dormant = person.leaves_at is not None and person.leaves_at <= START
        chance = VERIFY_RATE * person.activity * (0.5 if dormant else 1.0)
        if badge_rng.random() < chance:
            profiles[uid] = replace(profiles[uid], is_verified=True)
    return Population(profiles, people, centres)


def schedule(pop: Population, days: int, seed: int) -> list[list[tuple[datetime, int]]]:
    """Each day's sessions (time, user) in time order, the same for every policy: bursty
    openings of everyone not gone, plus a session when one joins or resumes."""
    rng = random.Random(seed * 7919 + 17)
    days_sessions: list[list[tuple[datetime, int]]] = [[] for _ in range(days)]
    for u, person in enumerate(pop.people):
        engaged = rng.random() < 0.5
        for day in range(days):
            if rng.random() < BURST_SWITCH:
                engaged = not engaged
            opening = START + day * DAY + timedelta(hours=DAY_OPENS_H)
            if person.visible_from > opening + DAY:
                continue
            if person.visible_from >= opening:  # joined or resumed today: a first session
                days_sessions[day].append((person.visible_from, u))
                continue
            if person.leaves_at is not None and person.leaves_at <= opening:
                continue
            boost = BURST_HIGH if engaged else BURST_LOW
            if rng.random() >= min(0.95, person.activity * boost):
                continue
            count = 1 + (rng.random() < EXTRA_SESSION) + (rng.random() < EXTRA_SESSION / 2)
            for _ in range(count):
                at = opening + timedelta(hours=rng.uniform(0.0, DAY_HOURS))
                days_sessions[day].append((at, u))
    for todays in days_sessions:
        todays.sort()
    return days_sessions


def _gone(person: Person, at: datetime) -> bool:
    return person.leaves_at is not None and person.leaves_at <= at


def counted_invitations(pop: Population, seed: int) -> list[list[datetime]]:
    """When each user's invitations counted (a list per user, in time order), drawn with a
    random stream of their own so that the population and the sessions stay as without."""
    rng = random.Random(seed * 104729 + 23)
    people = pop.people
    by_city: dict[int, list[int]] = {}
    for u, person in enumerate(people):
        if person.join_day == 0:
            by_city.setdefault(person.city, []).append(u)
    joins = sorted(
        (person.visible_from, u)
        for u, person in enumerate(people)
        if person.join_day >= 1 and rng.random() < SHARE_INVITED
    )
    counted: list[list[datetime]] = [[] for _ in people]
    period = timedelta(days=ranking.INVITATION_PERIOD_DAYS)
    for at, invitee in joins:
        friends = [  # visible and not gone when the friend joins
            f
            for f in by_city.get(people[invitee].city, ())
            if people[f].visible_from <= at and not _gone(people[f], at)
        ]
        if not friends:
            continue
        inviter = rng.choices(friends, weights=[people[f].activity for f in friends])[0]
        recent = sum(1 for t in counted[inviter] if t > at - period)
        if pop.profiles[invitee].photo_count > 0 and ranking.invitation_counts(recent):
            counted[inviter].append(at)
    return counted


def like_probability(pop: Population, viewer: int, card: int) -> float:
    """The hidden chance that ``viewer`` likes ``card``'s card."""
    v = pop.people[viewer]
    c = pop.people[card]
    vp = pop.profiles[viewer]
    cp = pop.profiles[card]
    shared = min(3, len(vp.interests & cp.interests)) / 3.0
    z = ((cp.age or 0) - v.ideal_age) / v.age_sigma
    age_close = math.exp(-0.5 * z * z)
    x = (
        LIKE_BASE[vp.gender or "m"]
        + APPEAL_W * c.appeal
        + INTEREST_W * shared
        + AGE_W * age_close
        - v.pickiness
    )
    return 1.0 / (1.0 + math.exp(-x))


_MASK = (1 << 64) - 1


def draw(*keys: int) -> float:
    """A uniform number in [0, 1) fixed by ``keys`` (splitmix64 over the keys): the same
    viewer, card and repeat get the same draw under every policy."""
    x = 0x9E3779B97F4A7C15
    for key in keys:
        x = (x ^ (key & _MASK)) * 0xBF58476D1CE4E5B9 & _MASK
        x ^= x >> 31
        x = x * 0x94D049BB133111EB & _MASK
        x ^= x >> 29
    return x / 18446744073709551616.0


TAG_LIKE, TAG_TALK, TAG_POLICY = 3, 4, 5

# ---------------------------------------------------------------------------------------------
# Candidate pools (the profile-only rules, evaluated once: profiles do not change in the run)
# ---------------------------------------------------------------------------------------------


def _counter(same_city: int, distances: list[float]) -> Callable[[int], int]:
    def count_within(radius_km: int) -> int:
        return same_city + sum(1 for d in distances if d <= radius_km)

    return count_within


def build_pools(pop: Population) -> tuple[list[list[int]], int]:
    """Each user's candidates by ``domain.filters`` profile rules, with the radius widened by
    ``domain.geo.choose_radius``; also how many users had their radius widened."""
    profiles = pop.profiles
    buckets: dict[tuple[int, str], list[int]] = {}
    for uid, p in enumerate(profiles):
        buckets.setdefault((pop.people[uid].city, p.gender or "m"), []).append(uid)
    max_radius = max(geo.RADIUS_STEPS_KM)
    near: list[list[int]] = []
    for a in pop.city_centres:
        near.append(
            [
                j
                for j, b in enumerate(pop.city_centres)
                if geo.haversine_km(a[0], a[1], b[0], b[1]) <= max_radius + 2 * CITY_MARGIN_KM
            ]
        )
    pools: list[list[int]] = []
    widened = 0
    for uid, v in enumerate(profiles):
        genders = ("m", "f") if v.seeking == "any" else (v.seeking or "m",)
        city = pop.people[uid].city
        cities = near[city] if v.has_location else [city]
        base: list[int] = []
        for cc in cities:
            for g in genders:
                for cid in buckets.get((cc, g), ()):
                    c = profiles[cid]
                    if (
                        cid != uid
                        and filters.visibility_rejection(c) is None
                        and filters.preference_rejection(v, c) is None
                    ):
                        base.append(cid)
        radius: float = v.radius_km
        if v.latitude is not None and v.longitude is not None:
            same = 0
            dists: list[float] = []
            for cid in base:
                c = profiles[cid]
                if c.city_key == v.city_key:
                    same += 1
                elif c.latitude is not None and c.longitude is not None:
                    dists.append(geo.haversine_km(v.latitude, v.longitude, c.latitude, c.longitude))
            choice = geo.choose_radius(v.radius_km, _counter(same, dists))
            radius = choice.radius_km
            widened += choice.widened
        pools.append(
            [
                cid
                for cid in base
                if filters.profile_rejection(v, profiles[cid], radius_km=radius) is None
            ]
        )
    return pools, widened


# ---------------------------------------------------------------------------------------------
# One run of one policy
# ---------------------------------------------------------------------------------------------

# Index of each decayed counter, in BehaviourStats field order.
(LIKES_R, SKIPS_R, LIKES_G, SKIPS_G, LIKES_G_M, MATCHES, TALK_S, TALK_R) = range(8)
HOUR = timedelta(hours=1)


@dataclass(slots=True)
class Result:
    policy: str
    impressions: int
    matches: int
    share_matched: float
    gini: float
    dormant_share: float
    hours_to_first_impression: float
    hours_to_first_like: float
    seconds: float


class Reads:
    """The pass's reads (domain.feed_pass.PassReads) over the run's lists, for one viewer at
    one moment: what storage reads with SQL, with the same rules."""

    def __init__(self, run: Run, viewer: int, now: datetime) -> None:
        self.run = run
        self.viewer = viewer
        self.now = now

    def _open(self, c: int) -> bool:
        """Visible now, and neither liked nor skipped by the viewer (the pages' rules)."""
        run = self.run
        if not run.visible_at(c, self.now):
            return False
        r = run.relations[self.viewer].get(c)
        return r is None or not (
            r.viewer_liked_candidate or r.matched or r.viewer_skipped_at is not None
        )

    def likers(self, started_at: datetime, limit: int) -> Sequence[int]:
        run = self.run
        if run.policy in ("random", "popularity"):
            return []
        shown = run.last_shown
        out = [
            c
            for c in run.incoming[self.viewer]
            if self._open(c) and shown.get((self.viewer, c), START - DAY) < started_at
        ]
        return out[:limit]

    def page(self, after: feed_pass.Cursor, limit: int) -> Sequence[feed_pass.PageRow]:
        keys, ids = self.run.ranked_pool(self.viewer, self.now)
        i = bisect.bisect_right(keys, (-after.score, -after.user_id))
        rows: list[feed_pass.PageRow] = []
        while i < len(ids) and len(rows) < limit:
            c = ids[i]
            if self._open(c):
                rows.append(feed_pass.PageRow(c, -keys[i][0]))
            i += 1
        return rows

    def fresh(self, since: datetime) -> Sequence[int]:
        run = self.run
        lo = bisect.bisect_left(run.visible_times, since)
        hi = bisect.bisect_right(run.visible_times, self.now)
        pool = run.pool_sets[self.viewer]
        return [c for c in run.visible_order[lo:hi] if c in pool and self._open(c)]

    def recycled(self, limit: int) -> Sequence[int]:
        run = self.run
        rel = run.relations[self.viewer]
        back = [
            (r.viewer_skipped_at, c)
            for c, r in rel.items()
            if r.viewer_skipped_at is not None
            and not (r.viewer_liked_candidate or r.matched)
            and not filters.skipped_recently(r.viewer_skipped_at, self.now)
            and run.visible_at(c, self.now)
        ]
        back.sort()
        return [c for _, c in back[:limit]]

    def rank(self, candidates: Sequence[int]) -> list[int]:
        return self.run.rank(self.viewer, list(candidates), self.now)


class Run:
    """The mutable state of one policy's run."""

    def __init__(
        self,
        pop: Population,
        pools: list[list[int]],
        policy: str,
        seed: int,
        verified_trust: float = ranking.VERIFIED_TRUST,
        label: str | None = None,
        invitations: list[list[datetime]] | None = None,
    ) -> None:
        n = len(pop.profiles)
        # When each user's invitations counted; None: the invitation signal is off.
        self.invitations = invitations
        self.pop = pop
        self.policy = policy
        self.label = label or policy
        self.verified_trust = verified_trust
        self.seed = seed
        self.pool_sets = [set(p) for p in pools]
        self.pools = pools
        self.profiles = list(pop.profiles)
        self.counters = [[0.0] * 8 for _ in range(n)]
        self.likes_total = [0] * n  # all-time likes received (popularity order)
        self.likes_snapshot = [0] * n  # as of the last nightly sweep
        self.stored = [0.0] * n  # the stored combined rating (profiles.feed_score)
        self.impressions = [0] * n
        self.recent_impressions = [0.0] * n
        self.mean_recent = 0.0
        self.relations: list[dict[int, Relation]] = [{} for _ in range(n)]
        self.incoming: list[list[int]] = [[] for _ in range(n)]  # likers, oldest like first
        self.last_shown: dict[tuple[int, int], datetime] = {}
        self.seen: dict[tuple[int, int], int] = {}
        self.passes: dict[int, feed_pass.PassState] = {}
        self.ranked: dict[int, tuple[int, list[tuple[float, int]], list[int]]] = {}
        self.first_match_day = [-1] * n
        self.first_impression: list[datetime | None] = [None] * n
        self.first_like: list[datetime | None] = [None] * n
        self.match_count = 0
        self.impression_count = 0
        self.dormant_impressions = 0
        self.day = 0
        self.primary = [ranking.primary_score(p)[0] for p in pop.profiles]
        self.ratings = [CandidateRating(self.primary[i], 0.5, 0.0) for i in range(n)]
        self.like_rate = [ranking.DEFAULT_PRIOR_LIKE_RATE] * n
        self.prior_received = {
            "m": ranking.DEFAULT_PRIOR_LIKE_RATE,
            "f": ranking.DEFAULT_PRIOR_LIKE_RATE,
        }
        people = pop.people
        self.shown_ever = [filters.visibility_rejection(p) is None for p in pop.profiles]
        events = sorted((people[u].visible_from, u) for u in range(n) if self.shown_ever[u])
        self.visible_times = [t for t, _ in events]
        self.visible_order = [u for _, u in events]

    def visible_at(self, u: int, now: datetime) -> bool:
        return self.shown_ever[u] and self.pop.people[u].visible_from <= now

    def gone_at(self, u: int, now: datetime) -> bool:
        """Whether ``u`` will never open the bot again (dormant, or churned before ``now``)."""
        return _gone(self.pop.people[u], now)

    # -- the nightly sweep -------------------------------------------------------------------

    def sweep(self, day: int) -> None:
        """Decay the counters by one day and recompute every present user's rating."""
        self.day = day
        now = START + day * DAY
        factor = ranking.decay_weight(DAY)
        imp_factor = ranking.decay_weight(DAY, ranking.IMPRESSION_HALF_LIFE_DAYS)
        for row in self.counters:
            for k in range(8):
                row[k] *= factor
        self.recent_impressions = [x * imp_factor for x in self.recent_impressions]
        received = {"m": [0.0, 0.0], "f": [0.0, 0.0]}
        given = {"m": [0.0, 0.0], "f": [0.0, 0.0]}
        for uid, p in enumerate(self.profiles):
            row = self.counters[uid]
            g = p.gender or "m"
            received[g][0] += row[LIKES_R]
            received[g][1] += row[LIKES_R] + row[SKIPS_R]
            given[g][0] += row[LIKES_G]
            given[g][1] += row[LIKES_G] + row[SKIPS_G]

        def mean(pair: list[float]) -> float:
            return pair[0] / pair[1] if pair[1] >= 1.0 else ranking.DEFAULT_PRIOR_LIKE_RATE

        self.prior_received = {g: mean(received[g]) for g in received}
        prior_given = {g: mean(given[g]) for g in given}
        present = 0
        total_recent = 0.0
        for uid, p in enumerate(self.profiles):
            if self.pop.people[uid].visible_from > now + DAY:
                continue
            g = p.gender or "m"
            invited = 0.0
            if self.invitations is not None:
                invited = sum(
                    ranking.invitation_weight(now - t) for t in self.invitations[uid] if t <= now
                )
            stats = BehaviourStats(*self.counters[uid])
            score, parts = ranking.behaviour_score(
                stats, prior_like_rate=self.prior_received[g], prior_give_rate=prior_given[g]
            )
            rating = CandidateRating(
                self.primary[uid], score, stats.evidence, parts["give_rate"], invited
            )
            self.ratings[uid] = rating
            self.stored[uid] = ranking.combined_score(
                rating.primary,
                rating.behaviour,
                rating.evidence,
                created_at=p.created_at,
                last_active_at=p.last_active_at,
                now=now,
                invitations=invited,
            )[0]
            self.like_rate[uid] = parts["like_rate"]
            self.likes_snapshot[uid] = self.likes_total[uid]
            if self.visible_at(uid, now):
                present += 1
                total_recent += self.recent_impressions[uid]
        self.mean_recent = total_recent / present if present else 0.0

    # -- the policy's stored order and its reordering of a page -------------------------------

    def page_key(self, viewer: int, c: int) -> float:
        """The order pages are read in: the stored rating for ours, as production."""
        if self.policy == "ours":
            return self.stored[c]
        if self.policy == "popularity":
            return float(self.likes_snapshot[c]) + draw(self.seed, TAG_POLICY, viewer, c)
        return draw(self.seed, TAG_POLICY, viewer, c, self.day)

    def ranked_pool(self, viewer: int, now: datetime) -> tuple[list[tuple[float, int]], list[int]]:
        """The viewer's pool in page order as of the last sweep (the index the pages scan)."""
        cached = self.ranked.get(viewer)
        if cached is not None and cached[0] == self.day:
            return cached[1], cached[2]
        entries = sorted((-self.page_key(viewer, c), -c) for c in self.pools[viewer])
        ids = [-i for _, i in entries]
        self.ranked[viewer] = (self.day, entries, ids)
        return entries, ids

    def rank(self, viewer: int, ids: list[int], now: datetime) -> list[int]:
        if self.policy != "ours":
            return ids  # a page is already in the policy's order
        rel = self.relations[viewer]
        profiles = self.profiles
        feed = [
            FeedCandidate(
                profiles[c],
                self.ratings[c],
                c in rel and rel[c].candidate_liked_viewer,
                self.recent_impressions[c],
            )
            for c in ids
        ]
        vp = profiles[viewer]
        ordered = ranking.order_feed(
            vp,
            feed,
            now,
            viewer_like_rate=self.like_rate[viewer],
            prior_like_rate=self.prior_received[vp.gender or "m"],
            mean_recent_impressions=self.mean_recent,
            verified_trust=self.verified_trust,
        )
        return [f.profile.user_id for f in ordered]

    # -- one session -------------------------------------------------------------------------

    def session(self, viewer: int, now: datetime, cards: int) -> None:
        self.profiles[viewer] = replace(self.profiles[viewer], last_active_at=now)
        state = self.passes.get(viewer)
        if state is None or not feed_pass.is_current(state, "", now):
            state = feed_pass.start_pass("", now)
        reads = Reads(self, viewer, now)
        rel = self.relations[viewer]
        shown = 0
        for _ in range(cards * 3):
            if shown >= cards:
                break
            c, state = feed_pass.next_candidate(state, reads, now)
            if c is None:
                break
            r = rel.get(c, filters.NO_RELATION)
            if not self.visible_at(c, now) or filters.relation_rejection(r, now) is not None:
                continue  # checked again before showing, as storage does
            shown += 1
            self.show(viewer, c, now)
        self.passes[viewer] = state

    def show(self, viewer: int, c: int, now: datetime) -> None:
        pop = self.pop
        rel = self.relations[viewer]
        self.impression_count += 1
        self.impressions[c] += 1
        self.recent_impressions[c] += 1.0
        self.last_shown[(viewer, c)] = now
        if self.first_impression[c] is None:
            self.first_impression[c] = now
        if self.gone_at(c, now):
            self.dormant_impressions += 1
        vrow = self.counters[viewer]
        crow = self.counters[c]
        key = (viewer, c)
        repeat = self.seen.get(key, 0)
        self.seen[key] = repeat + 1
        old = rel.get(c, filters.NO_RELATION)
        if draw(self.seed, TAG_LIKE, viewer, c, repeat) < like_probability(pop, viewer, c):
            vrow[LIKES_G] += 1.0
            crow[LIKES_R] += 1.0
            self.likes_total[c] += 1
            if self.first_like[c] is None:
                self.first_like[c] = now
            back = self.relations[c].get(viewer, filters.NO_RELATION)
            if back.viewer_liked_candidate:
                self.match(viewer, c)
            else:
                rel[c] = replace(old, viewer_liked_candidate=True)
                self.relations[c][viewer] = replace(back, candidate_liked_viewer=True)
                self.incoming[c].append(viewer)
        else:
            vrow[SKIPS_G] += 1.0
            crow[SKIPS_R] += 1.0
            rel[c] = replace(old, viewer_skipped_at=now)

    def match(self, a: int, b: int) -> None:
        self.match_count += 1
        ra = self.relations[a]
        rb = self.relations[b]
        ra[b] = replace(ra.get(b, filters.NO_RELATION), viewer_liked_candidate=True, matched=True)
        rb[a] = replace(rb.get(a, filters.NO_RELATION), matched=True)
        for u in (a, b):
            row = self.counters[u]
            row[MATCHES] += 1.0
            row[LIKES_G_M] += 1.0
            if self.first_match_day[u] < 0:
                self.first_match_day[u] = self.day
        # Who writes first and whether the other answers follows each one's activity.
        people = self.pop.people
        first, second = (a, b) if draw(self.seed, TAG_TALK, a, b, 0) < 0.5 else (b, a)
        starter = -1
        if draw(self.seed, TAG_TALK, first, second, 1) < people[first].activity:
            starter = first
        elif draw(self.seed, TAG_TALK, second, first, 2) < people[second].activity:
            starter = second
        if starter >= 0:
            self.counters[starter][TALK_S] += 1.0
            other = b if starter == a else a
            if draw(self.seed, TAG_TALK, other, starter, 3) < people[other].activity:
                self.counters[other][TALK_R] += 1.0

    # -- the whole run -----------------------------------------------------------------------

    def run(self, sessions: list[list[tuple[datetime, int]]], cards: int) -> Result:
        started = time.perf_counter()
        for day, todays in enumerate(sessions):
            self.sweep(day)
            for now, u in todays:
                self.session(u, now, cards)
        return self.result(time.perf_counter() - started)

    def result(self, seconds: float) -> Result:
        people = self.pop.people
        n = len(people)
        matched = sum(1 for d in self.first_match_day if d >= 0)
        shown = sorted(self.impressions[u] for u in range(n) if self.shown_ever[u])

        def median_hours(firsts: list[datetime | None]) -> float:
            waits = sorted(
                math.inf if t is None else (t - people[u].visible_from) / HOUR
                for u, t in enumerate(firsts)
                if people[u].join_day >= 1 and self.shown_ever[u]
            )
            return _median(waits)

        return Result(
            self.label,
            self.impression_count,
            self.match_count,
            matched / n,
            gini(shown),
            self.dormant_impressions / max(1, self.impression_count),
            median_hours(self.first_impression),
            median_hours(self.first_like),
            seconds,
        )


def _median(sorted_values: list[float]) -> float:
    if not sorted_values:
        return math.nan
    m = len(sorted_values)
    if m % 2:
        return sorted_values[m // 2]
    return (sorted_values[m // 2 - 1] + sorted_values[m // 2]) / 2.0


def gini(values: Sequence[float]) -> float:
    """Gini coefficient of non-negative values (0 all equal, ->1 one takes all)."""
    xs = sorted(values)
    total = sum(xs)
    if not xs or total <= 0:
        return 0.0
    m = len(xs)
    weighted = sum((i + 1) * x for i, x in enumerate(xs))
    return (2.0 * weighted) / (m * total) - (m + 1.0) / m


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

POLICIES = ("random", "popularity", "likers-first", "ours")
OURS_WITHOUT_BADGE = "ours, no ✅ signal"


def match_rate(result: Result) -> float:
    """Matches per impression."""
    return result.matches / max(1, result.impressions)


def _hours(value: float) -> str:
    return "not reached" if math.isinf(value) else f"{value:.2f}"


def table(results: Sequence[Result]) -> str:
    """The results as one markdown table (deterministic for a given seed and arguments)."""
    lines = [
        "| policy | impressions | matches | matches / 100 impressions | users with >= 1 match "
        "| Gini of impressions | impressions on dormant | median h to a new user's first "
        "impression | ... first like |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.policy} | {r.impressions} | {r.matches} "
            f"| {100.0 * match_rate(r):.2f} "
            f"| {100.0 * r.share_matched:.1f} % | {r.gini:.3f} "
            f"| {100.0 * r.dormant_share:.1f} % | {_hours(r.hours_to_first_impression)} "
            f"| {_hours(r.hours_to_first_like)} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cards-per-session", type=int, default=15)
    parser.add_argument("--cities", type=int, default=N_CITIES)
    parser.add_argument(
        "--policies",
        default=",".join(POLICIES),
        help=f"comma-separated, from {', '.join(POLICIES)}",
    )
    parser.add_argument(
        "--invitations",
        choices=("on", "off"),
        default="on",
        help="whether counted invitations lift the inviter (ours only; docs/ranking.md)",
    )
    parser.add_argument(
        "--verified-signal",
        choices=("on", "off", "both"),
        default="on",
        help="the ✅ trust factor in ours (domain.ranking.VERIFIED_TRUST); both: ours twice",
    )
    args = parser.parse_args(argv)
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        parser.error(f"unknown policies: {', '.join(unknown)}")
    t0 = time.perf_counter()
    pop = generate_population(args.users, args.days, args.seed, args.cities)
    pools, widened = build_pools(pop)
    sessions = schedule(pop, args.days, args.seed)
    invitations = counted_invitations(pop, args.seed) if args.invitations == "on" else None
    sizes = sorted(len(p) for p in pools)
    print(
        f"population: {args.users} users, {args.days} days, seed {args.seed}, "
        f"{sum(map(len, sessions))} sessions of up to {args.cards_per_session} cards; "
        f"candidate pool median {sizes[len(sizes) // 2]}, radius widened for {widened}; "
        f"invitations counted: {sum(map(len, invitations)) if invitations else 'off'}; "
        f"setup {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )
    runs: list[tuple[str, float, str]] = []
    for policy in policies:
        if policy == "ours" and args.verified_signal in ("off", "both"):
            runs.append((policy, 1.0, OURS_WITHOUT_BADGE))
        if policy != "ours" or args.verified_signal in ("on", "both"):
            runs.append((policy, ranking.VERIFIED_TRUST, policy))
    results: list[Result] = []
    for policy, trust, label in runs:
        run = Run(
            pop,
            pools,
            policy,
            args.seed,
            verified_trust=trust,
            label=label,
            invitations=invitations,
        )
        result = run.run(sessions, args.cards_per_session)
        print(f"{label}: {result.seconds:.1f} s", file=sys.stderr)
        results.append(result)
    print(table(results))
    by_name = {r.policy: r for r in results}
    ours = by_name.get("ours")
    for base in ("random", "likers-first", OURS_WITHOUT_BADGE):
        other = by_name.get(base)
        if ours is not None and other is not None and other.matches > 0:
            ratio = match_rate(ours) / match_rate(other)
            print(f"ours / {base}, matches per 100 impressions: {ratio:.2f}x")
    print(f"total run time: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
