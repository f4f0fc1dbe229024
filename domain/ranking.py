"""The three-level rating and the feed order, as pure functions (no I/O, no database).

Level 1, ``primary_score``: how complete a profile is (viewer-independent). The profile's own
data (age, gender, interests, location) enters through ``pair_fit`` against a given viewer.
Level 2, ``behaviour_score``: how others treat the profile, from time-decayed counts.
Level 3, ``combined_score``: primary and behaviour blended by a weight that grows with the
evidence behind the behaviour, plus recent activity, a boost for new profiles and one for
people whose invitations brought someone in lately.
``order_feed`` orders already-filtered candidates for one viewer by combined score, pair fit,
reciprocity and a cap on impressions. docs/ranking.md gives every formula and why.

Every score is in [0, 1]; the ``*_score`` functions also return their named components, meant
for ``ratings.components`` (jsonb). All constants are module-level and named.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from domain.geo import haversine_km

SECONDS_PER_DAY: Final = 86400.0

# ---------------------------------------------------------------------------------------------
# Time decay of behaviour
# ---------------------------------------------------------------------------------------------

# An interaction two weeks old counts half as much as one from today. Two weeks is long enough
# that a profile seen by a few dozen people a day has hundreds of decisions behind its rate,
# and short enough that a new photo or text shows in the rating within a week or two.
BEHAVIOUR_HALF_LIFE_DAYS: Final = 14.0

# Impressions received count for the popularity cap with a one-day half-life: the cap is about
# "how much of today's attention does this profile already get", not about last month.
IMPRESSION_HALF_LIFE_DAYS: Final = 1.0


def decay_weight(age: timedelta, half_life_days: float = BEHAVIOUR_HALF_LIFE_DAYS) -> float:
    """Weight of an event ``age`` old: 1 now, 1/2 after one half-life; future events count 1."""
    days = age.total_seconds() / SECONDS_PER_DAY
    if days <= 0.0:
        return 1.0
    return math.pow(0.5, days / half_life_days)


def decayed_count(
    times: Iterable[datetime], now: datetime, half_life_days: float = BEHAVIOUR_HALF_LIFE_DAYS
) -> float:
    """Sum of ``decay_weight`` over event times: what the SQL aggregate below computes."""
    return sum(decay_weight(now - t, half_life_days) for t in times)


def decay_sql(
    column: str, now_sql: str = "now()", half_life_days: float = BEHAVIOUR_HALF_LIFE_DAYS
) -> str:
    """The SQL expression of ``decay_weight`` for a timestamptz column; wrap it in ``sum()``.

    ``column`` and ``now_sql`` are spliced verbatim, so pass only code constants.
    Example: ``sum(<expr>) FILTER (WHERE kind = 'like')`` over ``interactions``.
    """
    seconds = half_life_days * SECONDS_PER_DAY
    return f"power(0.5, greatest(0, date_part('epoch', {now_sql} - {column})) / {seconds:g})"


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileFeatures:
    """What ranking and filtering read of one user: a row of users JOIN profiles plus the
    photo count. Fields a user has not given yet are None (an incomplete profile)."""

    user_id: int
    age: int | None
    gender: str | None  # 'm' | 'f'
    seeking: str | None  # 'm' | 'f' | 'any'
    age_min: int | None
    age_max: int | None
    city_key: str | None
    latitude: float | None
    longitude: float | None
    radius_km: int
    interests: frozenset[str]
    about_len: int
    photo_count: int
    has_name: bool
    created_at: datetime
    last_active_at: datetime
    # Account state (users.*): the candidate filter's visibility rules read these.
    is_complete: bool = True  # profiles.completed_at IS NOT NULL and onboarding finished
    is_paused: bool = False
    is_banned: bool = False
    is_inactive: bool = False  # blocked the bot
    is_hidden: bool = False  # reported by enough people, pending review
    is_deleted: bool = False  # a row read just before the account's removal committed
    is_verified: bool = False  # users.verified_at is set: a moderator checked the video note

    @property
    def has_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True, slots=True)
class BehaviourStats:
    """Time-decayed counts (each event weighted by ``decay_weight``) about one user.

    Each field is one SQL aggregate ``sum(decay(created_at))``:
    likes/skips_received: interactions WHERE target_id = user, by kind (views are not
    counted: a view without a decision says nothing about the card, and the popularity cap
    reads recent views separately);
    likes/skips_given: interactions WHERE actor_id = user, by kind;
    likes_given_matched: the user's likes whose pair has a row in matches;
    matches: matches the user is in (by matches.created_at);
    conversations_started: matches with started_by = user and conversation <> 'none';
    conversations_replied: matches with started_by <> user and conversation = 'replied';
    invitations: invitations WHERE inviter_id = user that counted (counted_at), each weighted
    by ``invitation_weight`` instead (it feeds the invitation boost, not the behaviour score).
    """

    likes_received: float = 0.0
    skips_received: float = 0.0
    likes_given: float = 0.0
    skips_given: float = 0.0
    likes_given_matched: float = 0.0
    matches: float = 0.0
    conversations_started: float = 0.0
    conversations_replied: float = 0.0
    invitations: float = 0.0

    @property
    def evidence(self) -> float:
        """How many (decayed) decisions others made about this profile."""
        return self.likes_received + self.skips_received


Scored = tuple[float, dict[str, float]]


def _clamp01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


# ---------------------------------------------------------------------------------------------
# Level 1: primary rating (completeness)
# ---------------------------------------------------------------------------------------------

# Weights of the completeness parts (sum 1). Photos weigh most: a card is mostly its photo, and
# a second and third photo are what people ask for before liking. "About" and interests give
# the other side something to start a conversation with; a name is nearly always there.
PRIMARY_W_NAME: Final = 0.10
PRIMARY_W_ABOUT: Final = 0.20
PRIMARY_W_PHOTOS: Final = 0.35
PRIMARY_W_INTERESTS: Final = 0.20
PRIMARY_W_LOCATION: Final = 0.15

# "About" earns full credit at this many characters (two or three sentences); longer text is
# not better, so the credit saturates instead of growing.
ABOUT_FULL_CHARS: Final = 150

# Credit by photo count (index = count, capped at 3, the schema's maximum): diminishing
# returns, and no photo at all is worth nothing (such a profile is not shown anyway).
PHOTO_CREDIT: Final[tuple[float, ...]] = (0.0, 0.6, 0.85, 1.0)

# Interests earn full credit at this many (of up to 10): enough to find something in common.
INTERESTS_FULL: Final = 5

# Shared coordinates allow distance ranking and radius search; a city alone allows only city
# equality, so it earns part of the credit.
LOCATION_CREDIT_COORDS: Final = 1.0
LOCATION_CREDIT_CITY: Final = 0.6


def primary_score(profile: ProfileFeatures) -> Scored:
    """Level 1: completeness of the profile in [0, 1] with its components."""
    name = 1.0 if profile.has_name else 0.0
    about = min(1.0, max(0, profile.about_len) / ABOUT_FULL_CHARS)
    photos = PHOTO_CREDIT[max(0, min(len(PHOTO_CREDIT) - 1, profile.photo_count))]
    interests = min(1.0, len(profile.interests) / INTERESTS_FULL)
    if profile.has_location:
        location = LOCATION_CREDIT_COORDS
    elif profile.city_key:
        location = LOCATION_CREDIT_CITY
    else:
        location = 0.0
    score = (
        PRIMARY_W_NAME * name
        + PRIMARY_W_ABOUT * about
        + PRIMARY_W_PHOTOS * photos
        + PRIMARY_W_INTERESTS * interests
        + PRIMARY_W_LOCATION * location
    )
    return _clamp01(score), {
        "name": name,
        "about": about,
        "photos": photos,
        "interests": interests,
        "location": location,
    }


# ---------------------------------------------------------------------------------------------
# Level 2: behavioural rating
# ---------------------------------------------------------------------------------------------

# The like rate everyone starts from until evidence arrives. Callers should pass the measured
# mean for the profile's gender (women and men receive likes at very different rates); this
# default is only the fallback for an empty platform.
DEFAULT_PRIOR_LIKE_RATE: Final = 0.3

# Pseudo-decisions of the Beta prior on the like rate: with 3 real views the rate moves less
# than a quarter of the way from the prior, with 30 it is 3/4 its own.
LIKE_RATE_PRIOR_WEIGHT: Final = 10.0

# Likes received earn half the volume credit at this (decayed) count. Small weight, because
# volume also rewards mere exposure.
LIKES_HALF_SATURATION: Final = 20.0

# Prior of the share of one's likes that became matches, and its pseudo-count.
PRIOR_MATCH_RATE: Final = 0.2
MATCH_RATE_PRIOR_WEIGHT: Final = 5.0

# Prior of the share of one's matches where one wrote first or answered, and its pseudo-count.
PRIOR_CONVERSATION_RATE: Final = 0.5
CONVERSATION_PRIOR_WEIGHT: Final = 3.0

# Weights of the behaviour parts (sum 1). The like rate is the most direct and most plentiful
# signal of how others see the profile; match and conversation rates are scarcer (a few per
# week) but say whether showing this person leads anywhere.
BEHAVIOUR_W_LIKE_RATE: Final = 0.60
BEHAVIOUR_W_VOLUME: Final = 0.10
BEHAVIOUR_W_MATCH_RATE: Final = 0.15
BEHAVIOUR_W_CONVERSATION: Final = 0.15

# Rates are clipped into this band before taking odds and logits.
RATE_EPSILON: Final = 0.01


def smoothed_rate(successes: float, trials: float, prior: float, prior_weight: float) -> float:
    """Posterior mean of a rate under a Beta prior with mean ``prior`` and ``prior_weight``
    pseudo-trials: the prior when there are no trials, the raw rate as trials grow."""
    return (max(0.0, successes) + prior * prior_weight) / (max(0.0, trials) + prior_weight)


def relative_to_prior(rate: float, prior: float) -> float:
    """Map a rate to (0, 1) by its odds against the prior's odds: the prior maps to 1/2,
    twice the prior's odds to 2/3, half to 1/3."""
    r = min(1.0 - RATE_EPSILON, max(RATE_EPSILON, rate))
    p = min(1.0 - RATE_EPSILON, max(RATE_EPSILON, prior))
    odds = r / (1.0 - r)
    prior_odds = p / (1.0 - p)
    return odds / (odds + prior_odds)


def like_rate(stats: BehaviourStats, prior_like_rate: float = DEFAULT_PRIOR_LIKE_RATE) -> float:
    """Smoothed share of likes among the decisions others made on this profile."""
    return smoothed_rate(
        stats.likes_received,
        stats.likes_received + stats.skips_received,
        prior_like_rate,
        LIKE_RATE_PRIOR_WEIGHT,
    )


def give_rate(stats: BehaviourStats, prior_like_rate: float = DEFAULT_PRIOR_LIKE_RATE) -> float:
    """Smoothed share of likes among the decisions this user made on others (how easily
    they like: the candidate side of reciprocity)."""
    return smoothed_rate(
        stats.likes_given,
        stats.likes_given + stats.skips_given,
        prior_like_rate,
        LIKE_RATE_PRIOR_WEIGHT,
    )


def behaviour_score(
    stats: BehaviourStats,
    *,
    prior_like_rate: float = DEFAULT_PRIOR_LIKE_RATE,
    prior_give_rate: float = DEFAULT_PRIOR_LIKE_RATE,
) -> Scored:
    """Level 2: how others treat the profile, in [0, 1]; 1/2-ish with no evidence.

    ``prior_like_rate`` is the mean like rate received by profiles of this gender and
    ``prior_give_rate`` the mean rate at which people of this gender like others.
    """
    received = like_rate(stats, prior_like_rate)
    like_part = relative_to_prior(received, prior_like_rate)
    volume = stats.likes_received / (stats.likes_received + LIKES_HALF_SATURATION)
    match_rate = smoothed_rate(
        stats.likes_given_matched, stats.likes_given, PRIOR_MATCH_RATE, MATCH_RATE_PRIOR_WEIGHT
    )
    match_part = relative_to_prior(match_rate, PRIOR_MATCH_RATE)
    talk_rate = smoothed_rate(
        stats.conversations_started + stats.conversations_replied,
        stats.matches,
        PRIOR_CONVERSATION_RATE,
        CONVERSATION_PRIOR_WEIGHT,
    )
    talk_part = relative_to_prior(talk_rate, PRIOR_CONVERSATION_RATE)
    score = (
        BEHAVIOUR_W_LIKE_RATE * like_part
        + BEHAVIOUR_W_VOLUME * max(0.0, volume)
        + BEHAVIOUR_W_MATCH_RATE * match_part
        + BEHAVIOUR_W_CONVERSATION * talk_part
    )
    return _clamp01(score), {
        "like_rate": received,
        "like_part": like_part,
        "volume": max(0.0, volume),
        "match_rate": match_rate,
        "match_part": match_part,
        "conversation_rate": talk_rate,
        "conversation_part": talk_part,
        "give_rate": give_rate(stats, prior_give_rate),
        "evidence": stats.evidence,
    }


# ---------------------------------------------------------------------------------------------
# Level 3: combined rating
# ---------------------------------------------------------------------------------------------

# The behaviour part weighs evidence / (evidence + EVIDENCE_HALF) of BEHAVIOUR_WEIGHT_MAX: a
# third of the way at 10 decisions, most of it past 100. Never all: completeness still matters
# to the person who sees the card, and a profile improved today has old behaviour behind it.
BEHAVIOUR_WEIGHT_MAX: Final = 0.8
EVIDENCE_HALF: Final = 20.0

# Activity is the chance that the profile's owner comes back to the bot soon, from how long
# they have been away: return_probability = 1 / (1 + (idle / RETURN_HALF_DAYS)^RETURN_SHAPE).
# Return rates of consumer apps fall like a power of the time away (someone gone a day is
# nearly sure to come back, someone gone three months nearly never does): 1/2 at a week,
# 0.87 at two days, 0.02 at 90 days. Someone who will not come back can neither like back nor
# answer, so showing them spends the viewer's attention on nothing.
RETURN_HALF_DAYS: Final = 7.0
RETURN_SHAPE: Final = 1.5
# Quality (the blend above) is multiplied by DORMANCY_FLOOR + (1 - DORMANCY_FLOOR) * activity:
# a profile idle for 90 days keeps about a fifth of an identical active one's score (the
# model may be wrong about one person, so they are demoted, not removed).
DORMANCY_FLOOR: Final = 0.2

# New profiles get this much added for their first days (fading linearly to 0 over
# NEW_PROFILE_DAYS, and faster as evidence arrives) so they get their first impressions and
# their behaviour rating something to learn from.
NEW_PROFILE_BOOST: Final = 0.15
NEW_PROFILE_DAYS: Final = 3.0

# Someone whose invitation brought in a person who finished a profile gets INVITATION_BOOST
# added per such invitation, fading linearly to 0 over INVITATION_BOOST_DAYS (the "more
# impressions for a few days" the invitation promises), and never more than
# INVITATION_BOOST_MAX in all: two fresh invitations' worth, well under the new-profile boost,
# so that a crowd of invitations cannot buy a place above everyone. At most
# INVITATIONS_PER_PERIOD invitations of one inviter count within INVITATION_PERIOD_DAYS (the
# others are recorded, and earn nothing): accounts made to finish a profile and invite are
# work, and this bounds what a farm of them can buy to a small boost a few days a week.
INVITATION_BOOST: Final = 0.06
INVITATION_BOOST_DAYS: Final = 3.0
INVITATION_BOOST_MAX: Final = 0.12
INVITATIONS_PER_PERIOD: Final = 3
INVITATION_PERIOD_DAYS: Final = 7.0


def behaviour_weight(evidence: float) -> float:
    """Share of the behaviour rating in quality, growing with the evidence behind it."""
    e = max(0.0, evidence)
    return BEHAVIOUR_WEIGHT_MAX * e / (e + EVIDENCE_HALF)


def return_probability(idle_days: float) -> float:
    """The chance that someone away for ``idle_days`` comes back soon: 1 just now, 1/2 after
    RETURN_HALF_DAYS, falling towards 0 for months away."""
    if idle_days <= 0.0:
        return 1.0
    return 1.0 / (1.0 + math.pow(idle_days / RETURN_HALF_DAYS, RETURN_SHAPE))


def invitation_weight(age: timedelta) -> float:
    """Weight of an invitation that counted ``age`` ago: 1 now, falling linearly to 0 at
    INVITATION_BOOST_DAYS (one stamped in the future weighs 1)."""
    days = age.total_seconds() / SECONDS_PER_DAY
    return max(0.0, 1.0 - max(0.0, days) / INVITATION_BOOST_DAYS)


def invitation_weight_sql(column: str, now_sql: str = "now()") -> str:
    """The SQL expression of ``invitation_weight`` for a timestamptz column; wrap it in
    ``sum()``. ``column`` and ``now_sql`` are spliced verbatim: pass only code constants."""
    seconds = INVITATION_BOOST_DAYS * SECONDS_PER_DAY
    return f"greatest(0, 1 - greatest(0, date_part('epoch', {now_sql} - {column})) / {seconds:g})"


def invitation_boost(invitations: float) -> float:
    """What the combined rating gains from ``invitations``, the sum of ``invitation_weight``
    over one's counted invitations: INVITATION_BOOST each, at most INVITATION_BOOST_MAX."""
    return min(INVITATION_BOOST_MAX, INVITATION_BOOST * max(0.0, invitations))


def invitation_counts(counted_in_period: int) -> bool:
    """Whether one more invitation counts for an inviter with ``counted_in_period``
    invitations counted within the last INVITATION_PERIOD_DAYS."""
    return counted_in_period < INVITATIONS_PER_PERIOD


def _combined(
    primary: float,
    behaviour: float,
    evidence: float,
    age_days: float,
    idle_days: float,
    invitations: float = 0.0,
) -> float:
    """combined_score's score without its parts: it runs per candidate in the feed and per
    profile in a sweep, so it builds nothing and calls nothing (combined_score recomputes the
    parts for display and takes its score from here, so the two cannot disagree)."""
    e = evidence if evidence > 0.0 else 0.0
    w = BEHAVIOUR_WEIGHT_MAX * e / (e + EVIDENCE_HALF)
    quality = (1.0 - w) * primary + w * behaviour
    activity = return_probability(idle_days)
    score = quality * (DORMANCY_FLOOR + (1.0 - DORMANCY_FLOOR) * activity)
    if age_days < NEW_PROFILE_DAYS:
        fresh = 1.0 - (age_days if age_days > 0.0 else 0.0) / NEW_PROFILE_DAYS
        score += NEW_PROFILE_BOOST * fresh * EVIDENCE_HALF / (EVIDENCE_HALF + e)
    if invitations > 0.0:
        score += invitation_boost(invitations)
    return 0.0 if score < 0.0 else 1.0 if score > 1.0 else score


def combined_score(
    primary: float,
    behaviour: float,
    evidence: float,
    *,
    created_at: datetime,
    last_active_at: datetime,
    now: datetime,
    invitations: float = 0.0,
) -> Scored:
    """Level 3: quality (primary and behaviour blended by evidence), activity, the
    new-profile boost and the invitation boost (``invitations``: the sum of
    ``invitation_weight`` over counted invitations), in [0, 1] with its components."""
    age_days = (now - created_at).total_seconds() / SECONDS_PER_DAY
    idle_days = (now - last_active_at).total_seconds() / SECONDS_PER_DAY
    w = behaviour_weight(evidence)
    quality = (1.0 - w) * primary + w * behaviour
    activity = return_probability(idle_days)
    e = max(0.0, evidence)
    fresh = max(0.0, 1.0 - max(0.0, age_days) / NEW_PROFILE_DAYS)
    boost = NEW_PROFILE_BOOST * fresh * EVIDENCE_HALF / (EVIDENCE_HALF + e)
    score = _combined(primary, behaviour, evidence, age_days, idle_days, invitations)
    return score, {
        "primary": primary,
        "behaviour": behaviour,
        "behaviour_weight": w,
        "quality": quality,
        "activity": activity,
        "new_boost": boost,
        "invitation_boost": invitation_boost(invitations),
    }


# ---------------------------------------------------------------------------------------------
# Pair fit
# ---------------------------------------------------------------------------------------------

# Pair fit = weighted age fit (both ways), shared interests and closeness (weights sum 1).
FIT_W_AGE: Final = 0.40
FIT_W_INTERESTS: Final = 0.35
FIT_W_DISTANCE: Final = 0.25

# Inside someone's age range the fit falls from 1 at its middle to AGE_EDGE_FIT at its edges
# (people set ranges wider than what they mostly like); outside it falls by AGE_OUTSIDE_STEP
# a year (the filter normally keeps those out; this only keeps the function total).
AGE_EDGE_FIT: Final = 0.5
AGE_OUTSIDE_STEP: Final = 0.1
DEFAULT_AGE_MIN: Final = 18
DEFAULT_AGE_MAX: Final = 100

# Each shared interest halves the remaining distance to full credit: 1 -> 0.5, 2 -> 0.75, ...
# A first shared interest is what starts a conversation; the fifth adds little.
INTEREST_SHARE_DECAY: Final = 0.5

# Closeness with coordinates: 1 / (1 + km / DISTANCE_SCALE_KM), 1/2 at 10 km. Two people of
# the same city are as close as a typical distance between homes in one city
# (TYPICAL_CITY_KM) when either has not shared a location, and never less than that when both
# have: sharing a location may only help (a big city's far side is still the same city, and
# the filter lets same-city people in whatever their distance). Otherwise we know nothing.
DISTANCE_SCALE_KM: Final = 10.0
TYPICAL_CITY_KM: Final = 7.0
SAME_CITY_CLOSENESS: Final = 1.0 / (1.0 + TYPICAL_CITY_KM / DISTANCE_SCALE_KM)
UNKNOWN_CLOSENESS: Final = 0.2


def wants(seeking: str | None, gender: str | None) -> bool:
    """Whether someone seeking ``seeking`` wants to see a person of ``gender``."""
    if seeking is None or gender is None:
        return False
    return seeking in ("any", gender)


def _age_fit(age: int | None, lo: int | None, hi: int | None) -> float:
    if age is None:
        return 0.0
    low = DEFAULT_AGE_MIN if lo is None else lo
    high = DEFAULT_AGE_MAX if hi is None else hi
    if age < low:
        return max(0.0, AGE_EDGE_FIT - AGE_OUTSIDE_STEP * (low - age))
    if age > high:
        return max(0.0, AGE_EDGE_FIT - AGE_OUTSIDE_STEP * (age - high))
    half = (high - low) / 2.0
    if half <= 0.0:
        return 1.0
    d = (age - (low + high) / 2.0) / half
    return 1.0 - (1.0 - AGE_EDGE_FIT) * d * d


def age_fit(viewer: ProfileFeatures, candidate: ProfileFeatures) -> float:
    """Mean of how well each one's age sits in the other's preferred range."""
    return 0.5 * (
        _age_fit(candidate.age, viewer.age_min, viewer.age_max)
        + _age_fit(viewer.age, candidate.age_min, candidate.age_max)
    )


def interest_fit(a: frozenset[str], b: frozenset[str]) -> float:
    """Credit for shared interests: 0 with none shared, approaching 1 with many."""
    shared = len(a & b) if a and b else 0
    return 1.0 - INTEREST_SHARE_DECAY**shared


def closeness(viewer: ProfileFeatures, candidate: ProfileFeatures) -> float:
    """1 next door, 1/2 at DISTANCE_SCALE_KM, lower further away, but never below
    SAME_CITY_CLOSENESS within one city; a guess without coordinates."""
    same_city = viewer.city_key is not None and viewer.city_key == candidate.city_key
    if (
        viewer.latitude is not None
        and viewer.longitude is not None
        and candidate.latitude is not None
        and candidate.longitude is not None
    ):
        km = haversine_km(
            viewer.latitude, viewer.longitude, candidate.latitude, candidate.longitude
        )
        near = 1.0 / (1.0 + km / DISTANCE_SCALE_KM)
        return max(near, SAME_CITY_CLOSENESS) if same_city else near
    if same_city:
        return SAME_CITY_CLOSENESS
    return UNKNOWN_CLOSENESS


def pair_fit(viewer: ProfileFeatures, candidate: ProfileFeatures) -> float:
    """How well two profiles fit each other in [0, 1]: 0 unless each one's gender is what the
    other seeks; else age fit both ways, shared interests and closeness."""
    if not (wants(viewer.seeking, candidate.gender) and wants(candidate.seeking, viewer.gender)):
        return 0.0
    return (
        FIT_W_AGE * age_fit(viewer, candidate)
        + FIT_W_INTERESTS * interest_fit(viewer.interests, candidate.interests)
        + FIT_W_DISTANCE * closeness(viewer, candidate)
    )


def pair_fit_components(viewer: ProfileFeatures, candidate: ProfileFeatures) -> dict[str, float]:
    """The parts of ``pair_fit`` by name, for logs and tests."""
    return {
        "gender": 1.0
        if wants(viewer.seeking, candidate.gender) and wants(candidate.seeking, viewer.gender)
        else 0.0,
        "age": age_fit(viewer, candidate),
        "interests": interest_fit(viewer.interests, candidate.interests),
        "closeness": closeness(viewer, candidate),
        "fit": pair_fit(viewer, candidate),
    }


# ---------------------------------------------------------------------------------------------
# Reciprocity
# ---------------------------------------------------------------------------------------------

# How much pair fit moves the odds that the candidate likes the viewer: from fit 0.3 to 0.7
# the odds grow by e^(0.4 * 2.5) ~ 2.7. Fit is what both sides see on the card (age,
# interests, distance), so it acts on the candidate's decision as on the viewer's.
RECIPROCITY_FIT_SLOPE: Final = 2.5
RECIPROCITY_FIT_CENTRE: Final = 0.5


def _logit(p: float) -> float:
    q = RATE_EPSILON if p < RATE_EPSILON else 1.0 - RATE_EPSILON if p > 1.0 - RATE_EPSILON else p
    return math.log(q / (1.0 - q))


def _sigmoid(x: float) -> float:
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def reciprocity(
    viewer_like_rate: float,
    candidate_give_rate: float,
    liked_viewer: bool,
    fit: float = RECIPROCITY_FIT_CENTRE,
    *,
    prior_like_rate: float = DEFAULT_PRIOR_LIKE_RATE,
    candidate_idle_days: float = 0.0,
) -> float:
    """Estimated probability that the candidate likes the viewer, in [0, 1].

    1 when the candidate already did (the like is there whether they come back or not).
    Otherwise the chance that they come back (``return_probability`` of their days away)
    times a logistic (Bradley-Terry-like) model of liking once they see the card: the
    candidate's own smoothed like rate (how easily they like anyone), shifted by how much more
    or less than average the viewer is liked (``viewer_like_rate`` against
    ``prior_like_rate``, the mean for the viewer's gender), shifted by pair fit.
    """
    if liked_viewer:
        return 1.0
    x = (
        _logit(candidate_give_rate)
        + _logit(viewer_like_rate)
        - _logit(prior_like_rate)
        + RECIPROCITY_FIT_SLOPE * (fit - RECIPROCITY_FIT_CENTRE)
    )
    return return_probability(candidate_idle_days) * _sigmoid(x)


# ---------------------------------------------------------------------------------------------
# Feed order
# ---------------------------------------------------------------------------------------------

# The estimated chance that the viewer likes the card: combined rating and pair fit.
FEED_W_COMBINED: Final = 0.5
FEED_W_FIT: Final = 0.5

# The feed score is like_estimate * (RECIPROCITY_FLOOR + reciprocity): an estimate of the chance
# of a match. The floor keeps people unlikely to like back from vanishing entirely (the
# estimate is noisy and people change their minds).
RECIPROCITY_FLOOR: Final = 0.1

# Nobody's card is shown much more than POPULARITY_CAP_RATIO times the platform's mean recent
# impressions before it is damped: past that the score is multiplied by cap / impressions,
# so attention flows on to others instead of piling onto the most liked.
POPULARITY_CAP_RATIO: Final = 3.0

# Trust (issue 14): a verified profile's like estimate is multiplied by this. A moderator saw
# the person do a gesture the bot picked, in front of the camera, and matched them with the
# photos: the card is a real person who opens the bot, so showing it leads to an answer more
# often. Modest on purpose, so that it reorders near-equals and never buries the unverified
# (most people); bench/simulate.py --verified-signal both measures it (docs/ranking.md).
VERIFIED_TRUST: Final = 1.15


@dataclass(frozen=True, slots=True)
class CandidateRating:
    """A candidate's stored ratings (ratings row and its components), shared by every viewer."""

    primary: float
    behaviour: float
    evidence: float
    give_rate: float = DEFAULT_PRIOR_LIKE_RATE
    invitations: float = 0.0  # BehaviourStats.invitations when it was rated


@dataclass(frozen=True, slots=True)
class FeedCandidate:
    """One already-filtered candidate for one viewer."""

    profile: ProfileFeatures
    rating: CandidateRating
    liked_viewer: bool = False
    recent_impressions: float = 0.0  # decayed with IMPRESSION_HALF_LIFE_DAYS


class _Viewer:
    """What the feed score needs of the viewer, computed once per feed."""

    __slots__ = ("profile", "recip_base")

    def __init__(
        self, viewer: ProfileFeatures, viewer_like_rate: float, prior_like_rate: float
    ) -> None:
        self.profile = viewer
        # The viewer's part of the reciprocity logit: how much more than average they are liked.
        self.recip_base = _logit(viewer_like_rate) - _logit(prior_like_rate)


def _feed_score(
    v: _Viewer, c: FeedCandidate, now: datetime, impression_cap: float, verified_trust: float
) -> float:
    p = c.profile
    r = c.rating
    age_days = (now - p.created_at).total_seconds() / SECONDS_PER_DAY
    idle_days = (now - p.last_active_at).total_seconds() / SECONDS_PER_DAY
    combined = _combined(r.primary, r.behaviour, r.evidence, age_days, idle_days, r.invitations)
    fit = pair_fit(v.profile, p)
    like_estimate = FEED_W_COMBINED * combined + FEED_W_FIT * fit
    if p.is_verified:
        like_estimate *= verified_trust
    if c.liked_viewer:
        recip = 1.0
    else:
        recip = return_probability(idle_days) * _sigmoid(
            _logit(r.give_rate)
            + v.recip_base
            + RECIPROCITY_FIT_SLOPE * (fit - RECIPROCITY_FIT_CENTRE)
        )
    score = like_estimate * (RECIPROCITY_FLOOR + recip)
    if impression_cap > 0.0 and c.recent_impressions > impression_cap:
        score *= impression_cap / c.recent_impressions
    return score


def feed_scores(
    viewer: ProfileFeatures,
    candidates: Sequence[FeedCandidate],
    now: datetime,
    *,
    viewer_like_rate: float = DEFAULT_PRIOR_LIKE_RATE,
    prior_like_rate: float = DEFAULT_PRIOR_LIKE_RATE,
    mean_recent_impressions: float = 0.0,
    verified_trust: float = VERIFIED_TRUST,
) -> list[float]:
    """The feed score of each candidate (higher is shown earlier), in input order;
    ``verified_trust`` 1 turns the verification signal off."""
    v = _Viewer(viewer, viewer_like_rate, prior_like_rate)
    cap = POPULARITY_CAP_RATIO * mean_recent_impressions
    return [_feed_score(v, c, now, cap, verified_trust) for c in candidates]


def order_feed(
    viewer: ProfileFeatures,
    candidates: Sequence[FeedCandidate],
    now: datetime,
    *,
    viewer_like_rate: float = DEFAULT_PRIOR_LIKE_RATE,
    prior_like_rate: float = DEFAULT_PRIOR_LIKE_RATE,
    mean_recent_impressions: float = 0.0,
    limit: int | None = None,
    verified_trust: float = VERIFIED_TRUST,
) -> list[FeedCandidate]:
    """Already-filtered candidates in display order (best first; ties by user id).

    ``viewer_like_rate`` is the viewer's smoothed received like rate and ``prior_like_rate``
    the mean for the viewer's gender (together: how much more or less than average the viewer
    is liked). ``mean_recent_impressions`` is the platform's mean of
    ``FeedCandidate.recent_impressions``; 0 turns the popularity cap off. ``limit`` returns
    only the first cards.
    """
    scores = feed_scores(
        viewer,
        candidates,
        now,
        viewer_like_rate=viewer_like_rate,
        prior_like_rate=prior_like_rate,
        mean_recent_impressions=mean_recent_impressions,
        verified_trust=verified_trust,
    )
    keyed = [
        (-score, c.profile.user_id, i)
        for i, (score, c) in enumerate(zip(scores, candidates, strict=True))
    ]
    chosen = heapq.nsmallest(limit, keyed) if limit is not None else sorted(keyed)
    return [candidates[i] for _, _, i in chosen]
