"""The three-level rating, pair fit, reciprocity and feed order (domain.ranking)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from domain import ranking
from domain.ranking import (
    ABOUT_FULL_CHARS,
    BEHAVIOUR_HALF_LIFE_DAYS,
    BEHAVIOUR_WEIGHT_MAX,
    DEFAULT_PRIOR_LIKE_RATE,
    DORMANCY_FLOOR,
    EVIDENCE_HALF,
    LIKE_RATE_PRIOR_WEIGHT,
    NEW_PROFILE_BOOST,
    NEW_PROFILE_DAYS,
    PHOTO_CREDIT,
    RETURN_HALF_DAYS,
    SAME_CITY_CLOSENESS,
    UNKNOWN_CLOSENESS,
    BehaviourStats,
    CandidateRating,
    FeedCandidate,
    ProfileFeatures,
    age_fit,
    behaviour_score,
    behaviour_weight,
    closeness,
    combined_score,
    decay_sql,
    decay_weight,
    decayed_count,
    feed_scores,
    give_rate,
    interest_fit,
    like_rate,
    order_feed,
    pair_fit,
    pair_fit_components,
    primary_score,
    reciprocity,
    relative_to_prior,
    return_probability,
    smoothed_rate,
)

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
KYIV = (50.4501, 30.5234)


def profile(user_id: int = 1, **changes: Any) -> ProfileFeatures:
    base = ProfileFeatures(
        user_id=user_id,
        age=30,
        gender="m",
        seeking="f",
        age_min=25,
        age_max=35,
        city_key="kyiv",
        latitude=None,
        longitude=None,
        radius_km=50,
        interests=frozenset({"music", "books", "travel"}),
        about_len=200,
        photo_count=3,
        has_name=True,
        created_at=NOW - timedelta(days=60),
        last_active_at=NOW,
    )
    return replace(base, **changes)


def woman(user_id: int, **changes: Any) -> ProfileFeatures:
    values: dict[str, Any] = {
        "gender": "f",
        "seeking": "m",
        "age": 30,
        "age_min": 25,
        "age_max": 35,
    }
    values.update(changes)
    return profile(user_id, **values)


def combined(
    primary: float,
    behaviour: float,
    evidence: float,
    *,
    age_days: float = 60.0,
    idle_days: float = 0.0,
) -> float:
    return combined_score(
        primary,
        behaviour,
        evidence,
        created_at=NOW - timedelta(days=age_days),
        last_active_at=NOW - timedelta(days=idle_days),
        now=NOW,
    )[0]


# -- decay -------------------------------------------------------------------------------------


def test_decay_halves_per_half_life() -> None:
    """An event one half-life old counts 1/2, two half-lives 1/4, a fresh one 1."""
    assert decay_weight(timedelta(0)) == 1.0
    assert decay_weight(timedelta(days=BEHAVIOUR_HALF_LIFE_DAYS)) == pytest.approx(0.5)
    assert decay_weight(timedelta(days=2 * BEHAVIOUR_HALF_LIFE_DAYS)) == pytest.approx(0.25)
    assert decay_weight(timedelta(days=1), half_life_days=1.0) == pytest.approx(0.5)


def test_decay_of_future_events_is_one() -> None:
    """Clock skew (an event slightly in the future) never weighs more than a fresh event."""
    assert decay_weight(timedelta(seconds=-5)) == 1.0


def test_decayed_count_sums_the_weights() -> None:
    """A decayed count is the sum of each event's weight, as the SQL aggregate computes it."""
    times = [NOW, NOW - timedelta(days=14), NOW - timedelta(days=28)]
    assert decayed_count(times, NOW) == pytest.approx(1.75)
    assert decayed_count([], NOW) == 0.0


def test_decay_sql_expresses_the_same_half_life() -> None:
    """The SQL fragment is power(0.5, age in seconds / half-life in seconds)."""
    expr = decay_sql("i.created_at")
    assert expr.startswith("power(0.5, ")
    assert "i.created_at" in expr
    assert f"/ {BEHAVIOUR_HALF_LIFE_DAYS * 86400:g})" in expr


# -- level 1 -------------------------------------------------------------------------------------


def test_a_full_profile_scores_one() -> None:
    """Name, full about, three photos, five interests and coordinates give the maximum."""
    full = profile(
        interests=frozenset({"a", "b", "c", "d", "e"}),
        latitude=KYIV[0],
        longitude=KYIV[1],
        about_len=ABOUT_FULL_CHARS,
    )
    score, parts = primary_score(full)
    assert score == pytest.approx(1.0)
    assert set(parts) == {"name", "about", "photos", "interests", "location"}


def test_no_photos_earn_nothing_for_photos() -> None:
    """A profile without photos gets 0 for photos and scores below the same with one photo."""
    none, parts = primary_score(profile(photo_count=0))
    one, _ = primary_score(profile(photo_count=1))
    assert parts["photos"] == 0.0
    assert none < one


def test_photo_credit_has_diminishing_returns() -> None:
    """Each extra photo adds less than the previous one, and more than three adds nothing."""
    scores = [primary_score(profile(photo_count=n))[0] for n in range(5)]
    gains = [b - a for a, b in pairwise(scores)]
    assert gains[0] > gains[1] > gains[2] > 0
    assert gains[3] == 0.0
    assert PHOTO_CREDIT[0] == 0.0


def test_about_saturates() -> None:
    """A longer 'about' helps up to ABOUT_FULL_CHARS and not beyond."""
    empty = primary_score(profile(about_len=0))[0]
    half = primary_score(profile(about_len=ABOUT_FULL_CHARS // 2))[0]
    full = primary_score(profile(about_len=ABOUT_FULL_CHARS))[0]
    huge = primary_score(profile(about_len=1000))[0]
    assert empty < half < full == huge


def test_coordinates_beat_a_city_which_beats_nothing() -> None:
    """Sharing a location earns more than a city alone; no place at all earns nothing."""
    coords = primary_score(profile(latitude=KYIV[0], longitude=KYIV[1]))[1]["location"]
    city = primary_score(profile())[1]["location"]
    nothing = primary_score(profile(city_key=None))[1]["location"]
    assert coords > city > nothing == 0.0


def test_an_empty_profile_scores_zero() -> None:
    """Nothing filled in gives 0, not an error."""
    empty = profile(
        has_name=False, about_len=0, photo_count=0, interests=frozenset(), city_key=None
    )
    assert primary_score(empty)[0] == 0.0


# -- level 2 -------------------------------------------------------------------------------------


def test_smoothed_rate_is_the_prior_without_trials() -> None:
    """With no trials the rate is the prior; with many it approaches the observed rate."""
    assert smoothed_rate(0, 0, 0.3, 10) == pytest.approx(0.3)
    assert smoothed_rate(900, 1000, 0.3, 10) == pytest.approx(0.8932, abs=1e-3)


def test_relative_to_prior_maps_the_prior_to_one_half() -> None:
    """A rate equal to the prior maps to 1/2; higher rates above, lower below."""
    assert relative_to_prior(0.3, 0.3) == pytest.approx(0.5)
    assert relative_to_prior(0.6, 0.3) > 0.5 > relative_to_prior(0.1, 0.3)
    assert 0.0 < relative_to_prior(0.0, 0.3) < relative_to_prior(1.0, 0.3) < 1.0


def test_no_views_give_a_neutral_behaviour_score() -> None:
    """A profile nobody has seen gets the prior for every rate and no evidence."""
    score, parts = behaviour_score(BehaviourStats())
    assert parts["like_rate"] == pytest.approx(DEFAULT_PRIOR_LIKE_RATE)
    assert parts["like_part"] == pytest.approx(0.5)
    assert parts["volume"] == 0.0
    assert parts["evidence"] == 0.0
    assert score == pytest.approx(0.45)


def test_three_views_are_not_ranked_on_noise() -> None:
    """3 likes out of 3 views rate below 80 likes out of 100: the prior outweighs tiny counts."""
    lucky = BehaviourStats(likes_received=3)
    proven = BehaviourStats(likes_received=80, skips_received=20)
    assert like_rate(lucky) < like_rate(proven)
    assert like_rate(lucky) == pytest.approx(
        (3 + DEFAULT_PRIOR_LIKE_RATE * LIKE_RATE_PRIOR_WEIGHT) / (3 + LIKE_RATE_PRIOR_WEIGHT)
    )
    assert behaviour_score(lucky)[0] < behaviour_score(proven)[0]


def test_only_skips_rate_below_no_views() -> None:
    """A profile that was only ever skipped scores below an unseen one, but above zero."""
    skipped = BehaviourStats(skips_received=50)
    score, parts = behaviour_score(skipped)
    assert 0.0 < score < behaviour_score(BehaviourStats())[0]
    assert parts["like_rate"] < DEFAULT_PRIOR_LIKE_RATE
    assert parts["evidence"] == 50


def test_matches_and_conversations_raise_the_behaviour_score() -> None:
    """Likes that become matches and matches that become conversations count in favour."""
    base = BehaviourStats(
        likes_received=20,
        skips_received=20,
        likes_given=20,
        likes_given_matched=4,
        matches=4,
        conversations_started=1,
        conversations_replied=1,
    )
    talkative = replace(
        base, likes_given_matched=10, matches=10, conversations_started=5, conversations_replied=4
    )
    silent = replace(
        base, likes_given_matched=0, matches=4, conversations_started=0, conversations_replied=0
    )
    assert behaviour_score(talkative)[0] > behaviour_score(base)[0] > behaviour_score(silent)[0]
    assert (
        behaviour_score(talkative)[1]["match_part"] > 0.5 > behaviour_score(silent)[1]["match_part"]
    )
    assert behaviour_score(talkative)[1]["conversation_part"] > 0.5


def test_the_prior_is_per_gender() -> None:
    """The same counts score higher against a lower prior (e.g. men, who get fewer likes)."""
    stats = BehaviourStats(likes_received=20, skips_received=80)
    assert (
        behaviour_score(stats, prior_like_rate=0.15)[0]
        > behaviour_score(stats, prior_like_rate=0.45)[0]
    )


def test_give_rate_is_how_easily_someone_likes() -> None:
    """The give rate is the smoothed share of likes among decisions the user made."""
    easy = BehaviourStats(likes_given=80, skips_given=20)
    picky = BehaviourStats(likes_given=5, skips_given=95)
    assert give_rate(easy) > DEFAULT_PRIOR_LIKE_RATE > give_rate(picky)
    assert behaviour_score(easy)[1]["give_rate"] == pytest.approx(give_rate(easy))


# -- level 3 -------------------------------------------------------------------------------------


def test_behaviour_weight_grows_with_evidence_but_never_takes_all() -> None:
    """No evidence: primary only; EVIDENCE_HALF decisions: half the maximum; never above it."""
    assert behaviour_weight(0) == 0.0
    assert behaviour_weight(EVIDENCE_HALF) == pytest.approx(BEHAVIOUR_WEIGHT_MAX / 2)
    assert behaviour_weight(1e9) < BEHAVIOUR_WEIGHT_MAX
    assert behaviour_weight(-3) == 0.0


def test_without_evidence_quality_is_the_primary_score() -> None:
    """An unseen, established profile is rated on its completeness alone."""
    _, parts = combined_score(
        0.8, 0.1, 0.0, created_at=NOW - timedelta(days=60), last_active_at=NOW, now=NOW
    )
    assert parts["quality"] == pytest.approx(0.8)
    assert parts["new_boost"] == 0.0


def test_combined_components_add_up_to_the_score() -> None:
    """combined = quality * (floor + (1 - floor) * activity) + new-profile boost (clamped)."""
    score, parts = combined_score(
        0.6,
        0.7,
        12.0,
        created_at=NOW - timedelta(days=1),
        last_active_at=NOW - timedelta(hours=30),
        now=NOW,
    )
    expected = (
        parts["quality"] * (DORMANCY_FLOOR + (1.0 - DORMANCY_FLOOR) * parts["activity"])
        + parts["new_boost"]
    )
    assert score == pytest.approx(min(1.0, expected))
    assert parts["behaviour_weight"] == pytest.approx(behaviour_weight(12.0))


def test_strong_evidence_lets_behaviour_outrank_completeness() -> None:
    """With much evidence a well-liked sparse profile outranks a poorly liked complete one."""
    assert combined(0.4, 0.9, 200) > combined(1.0, 0.2, 200)
    assert combined(0.4, 0.9, 0) < combined(1.0, 0.2, 0)


def test_recently_active_people_rank_first() -> None:
    """The same profile scores less the longer its owner is away; a week away halves activity."""
    now_active = combined(0.7, 0.5, 10)
    away = combined(0.7, 0.5, 10, idle_days=2)
    gone = combined(0.7, 0.5, 10, idle_days=60)
    assert now_active > away > gone
    assert return_probability(RETURN_HALF_DAYS) == pytest.approx(0.5)


def test_a_dormant_profile_keeps_little_of_an_active_ones_score() -> None:
    """Idle for 90 days, an identical profile scores under a third of the active one's rating.

    Fails on the old formula (0.75 * quality + 0.25 * activity), where it kept 84 %."""
    assert combined(0.7, 0.5, 10, idle_days=90) < combined(0.7, 0.5, 10) / 3.0
    assert combined(0.7, 0.5, 10, idle_days=1) > 0.9 * combined(0.7, 0.5, 10)


def test_reciprocity_weighs_the_candidates_chance_to_return() -> None:
    """A candidate away for 90 days is far less likely to like back than the same one active;
    a like they already gave still counts in full. Fails on the old reciprocity, blind to it."""
    active = reciprocity(0.3, 0.3, False, 0.5, prior_like_rate=0.3)
    gone = reciprocity(0.3, 0.3, False, 0.5, prior_like_rate=0.3, candidate_idle_days=90)
    assert gone < 0.1 * active
    assert reciprocity(0.3, 0.3, True, 0.5, candidate_idle_days=90) == 1.0


def test_the_feed_puts_a_dormant_twin_far_below_an_active_one() -> None:
    """Of two identical candidates the one away for 90 days gets under a fifth of the feed
    score. Fails on the old formulas, where it kept about 84 %."""
    rating = CandidateRating(0.7, 0.5, 10.0)
    active = FeedCandidate(woman(2), rating)
    dormant = FeedCandidate(woman(3, last_active_at=NOW - timedelta(days=90)), rating)
    scores = feed_scores(profile(), [active, dormant], NOW)
    assert scores[1] < 0.2 * scores[0]


def test_a_brand_new_profile_gets_the_new_profile_boost() -> None:
    """A profile created now with no evidence gets the full boost; after NEW_PROFILE_DAYS none."""
    _, fresh = combined_score(0.7, 0.45, 0.0, created_at=NOW, last_active_at=NOW, now=NOW)
    _, later = combined_score(
        0.7,
        0.45,
        0.0,
        created_at=NOW - timedelta(days=NEW_PROFILE_DAYS),
        last_active_at=NOW,
        now=NOW,
    )
    assert fresh["new_boost"] == pytest.approx(NEW_PROFILE_BOOST)
    assert later["new_boost"] == 0.0
    assert combined(0.7, 0.45, 0, age_days=0) > combined(0.7, 0.45, 0, age_days=30)


def test_the_new_profile_boost_fades_with_evidence() -> None:
    """Once people have decided on a new profile its boost shrinks: it has been seen."""
    _, seen = combined_score(0.7, 0.45, EVIDENCE_HALF, created_at=NOW, last_active_at=NOW, now=NOW)
    assert seen["new_boost"] == pytest.approx(NEW_PROFILE_BOOST / 2)


def test_a_paused_profile_keeps_its_quality_and_only_loses_activity() -> None:
    """Pausing changes no rating input but time away: on return the profile is rated as before."""
    stats = BehaviourStats(likes_received=30, skips_received=30)
    active = profile()
    paused = replace(active, is_paused=True, last_active_at=NOW - timedelta(days=10))
    assert primary_score(paused) == primary_score(active)
    b = behaviour_score(stats)[0]
    _, p_parts = combined_score(
        primary_score(paused)[0],
        b,
        stats.evidence,
        created_at=paused.created_at,
        last_active_at=paused.last_active_at,
        now=NOW,
    )
    _, a_parts = combined_score(
        primary_score(active)[0],
        b,
        stats.evidence,
        created_at=active.created_at,
        last_active_at=active.last_active_at,
        now=NOW,
    )
    assert p_parts["quality"] == a_parts["quality"]
    assert p_parts["activity"] < a_parts["activity"]


def test_scores_stay_in_the_unit_interval() -> None:
    """Extreme inputs still give scores within [0, 1]."""
    assert 0.0 <= combined(1.0, 1.0, 0, age_days=0) <= 1.0
    assert 0.0 <= combined(0.0, 0.0, 1e6, idle_days=1e4) <= 1.0
    huge = BehaviourStats(1e9, 0, 1e9, 0, 1e9, 1e9, 1e9, 1e9)
    assert 0.0 <= behaviour_score(huge)[0] <= 1.0


# -- pair fit ------------------------------------------------------------------------------------


def test_pair_fit_is_zero_unless_the_gender_wishes_are_mutual() -> None:
    """Each one must be what the other seeks; otherwise the pair does not fit at all."""
    viewer = profile()
    assert pair_fit(viewer, woman(2)) > 0.0
    assert pair_fit(viewer, woman(2, seeking="f")) == 0.0
    assert pair_fit(viewer, profile(2)) == 0.0
    assert pair_fit(replace(viewer, seeking="any"), profile(2, seeking="any")) > 0.0


def test_age_fit_is_best_in_the_middle_of_both_ranges() -> None:
    """Ages in the middle of each other's range fit best, at the edges less, outside least."""
    viewer = profile(age=30, age_min=26, age_max=34)
    middle = woman(2, age=30, age_min=26, age_max=34)
    edge = woman(3, age=34, age_min=26, age_max=34)
    outside = woman(4, age=40, age_min=26, age_max=34)
    assert age_fit(viewer, middle) == pytest.approx(1.0)
    assert age_fit(viewer, middle) > age_fit(viewer, edge) > age_fit(viewer, outside)


def test_shared_interests_add_with_diminishing_returns() -> None:
    """No shared interest gives 0, one 1/2, two 3/4; an empty list shares nothing."""
    a = frozenset({"x", "y", "z"})
    assert interest_fit(a, frozenset({"q"})) == 0.0
    assert interest_fit(a, frozenset({"x"})) == pytest.approx(0.5)
    assert interest_fit(a, frozenset({"x", "y"})) == pytest.approx(0.75)
    assert interest_fit(frozenset(), a) == 0.0


def test_closeness_uses_distance_then_city_then_a_guess() -> None:
    """Coordinates give 1/(1 + km/10); same city without them a fixed credit; else the least."""
    here = profile(latitude=KYIV[0], longitude=KYIV[1])
    assert closeness(here, woman(2, latitude=KYIV[0], longitude=KYIV[1])) == pytest.approx(1.0)
    near = closeness(here, woman(2, city_key="irpin", latitude=KYIV[0] + 0.09, longitude=KYIV[1]))
    assert near == pytest.approx(0.5, abs=0.01)
    assert closeness(profile(), woman(2)) == SAME_CITY_CLOSENESS
    assert closeness(profile(), woman(2, city_key="lviv")) == UNKNOWN_CLOSENESS


def test_sharing_a_location_never_lowers_closeness_in_ones_own_city() -> None:
    """A same-city candidate 25 km away with coordinates is at least as close as one without.

    Fails on the old formula: 0.286 with coordinates against a flat 0.6 without."""
    here = profile(latitude=KYIV[0], longitude=KYIV[1])
    far_side = woman(2, latitude=KYIV[0] + 0.225, longitude=KYIV[1])  # about 25 km
    assert closeness(here, far_side) >= closeness(here, woman(3))
    assert closeness(profile(), far_side) == closeness(here, woman(3)) == SAME_CITY_CLOSENESS


def test_same_city_without_coordinates_is_as_close_as_a_typical_city_distance() -> None:
    """Without coordinates a same-city pair counts as TYPICAL_CITY_KM apart, not more.

    Fails on the old constant 0.6, above the 0.588 of 7 km."""
    here = profile(latitude=KYIV[0], longitude=KYIV[1])
    typical = woman(2, city_key="irpin", latitude=KYIV[0] + 0.063, longitude=KYIV[1])  # ~7 km
    assert closeness(profile(), woman(3)) == pytest.approx(closeness(here, typical), abs=0.005)


def test_pair_fit_components_reconstruct_the_fit() -> None:
    """The logged components are the same numbers pair_fit combines."""
    parts = pair_fit_components(profile(), woman(2, interests=frozenset({"music"})))
    expected = (
        ranking.FIT_W_AGE * parts["age"]
        + ranking.FIT_W_INTERESTS * parts["interests"]
        + ranking.FIT_W_DISTANCE * parts["closeness"]
    )
    assert parts["fit"] == pytest.approx(expected)
    assert parts["gender"] == 1.0


# -- reciprocity ---------------------------------------------------------------------------------


def test_reciprocity_is_certain_when_the_candidate_already_liked_the_viewer() -> None:
    """Someone who liked the viewer will like back with probability 1."""
    assert reciprocity(0.01, 0.01, True, 0.0) == 1.0


def test_reciprocity_of_an_average_pair_is_the_candidates_own_rate() -> None:
    """An average viewer and an average fit give the candidate's own like rate."""
    assert reciprocity(0.3, 0.2, False, 0.5, prior_like_rate=0.3) == pytest.approx(0.2)


def test_reciprocity_grows_with_each_input() -> None:
    """A more liked viewer, an easier-liking candidate and a better fit each raise it."""
    base = reciprocity(0.3, 0.2, False, 0.5)
    assert reciprocity(0.6, 0.2, False, 0.5) > base
    assert reciprocity(0.3, 0.5, False, 0.5) > base
    assert reciprocity(0.3, 0.2, False, 0.9) > base
    assert 0.0 < reciprocity(0.0, 0.0, False, 0.0) < reciprocity(1.0, 1.0, False, 1.0) < 1.0


# -- feed order ----------------------------------------------------------------------------------


def feed_candidate(
    user_id: int,
    *,
    primary: float = 0.7,
    behaviour: float = 0.5,
    evidence: float = 30.0,
    give: float = 0.3,
    liked: bool = False,
    impressions: float = 0.0,
    **changes: Any,
) -> FeedCandidate:
    return FeedCandidate(
        woman(user_id, **changes),
        CandidateRating(primary, behaviour, evidence, give),
        liked,
        impressions,
    )


def ids(candidates: list[FeedCandidate]) -> list[int]:
    return [c.profile.user_id for c in candidates]


def test_people_who_liked_the_viewer_come_early() -> None:
    """A candidate who already liked the viewer is shown before better-rated ones who did not."""
    feed = [feed_candidate(i, primary=0.9, behaviour=0.8) for i in range(2, 8)]
    feed.append(feed_candidate(20, primary=0.6, behaviour=0.45, liked=True))
    assert ids(order_feed(profile(), feed, NOW))[0] == 20


def test_better_rated_and_better_fitting_candidates_come_first() -> None:
    """All else equal, a higher combined rating and a higher pair fit each move a card up."""
    viewer = profile()
    low = feed_candidate(2, behaviour=0.3)
    high = feed_candidate(3, behaviour=0.8)
    assert ids(order_feed(viewer, [low, high], NOW)) == [3, 2]
    far = feed_candidate(4, interests=frozenset({"cars"}), age=34)
    close = feed_candidate(5, interests=frozenset({"music", "books"}), age=30)
    assert ids(order_feed(viewer, [far, close], NOW)) == [5, 4]


def test_candidates_likely_to_like_back_come_first() -> None:
    """Between two equal cards, the one who likes people more easily is shown first."""
    picky = feed_candidate(2, give=0.05)
    easy = feed_candidate(3, give=0.6)
    assert ids(order_feed(profile(), [picky, easy], NOW)) == [3, 2]


def test_inactive_candidates_sink() -> None:
    """Someone away for weeks is shown after an otherwise identical active candidate."""
    away = feed_candidate(2, last_active_at=NOW - timedelta(days=20))
    here = feed_candidate(3)
    assert ids(order_feed(profile(), [away, here], NOW)) == [3, 2]


def test_a_brand_new_profile_is_lifted_for_its_first_impressions() -> None:
    """A new profile with no evidence outranks an equal established profile with no evidence."""
    old = feed_candidate(2, evidence=0.0, behaviour=0.45)
    new = feed_candidate(3, evidence=0.0, behaviour=0.45, created_at=NOW - timedelta(hours=2))
    assert ids(order_feed(profile(), [old, new], NOW)) == [3, 2]


def test_the_popularity_cap_damps_over_exposed_profiles() -> None:
    """Past POPULARITY_CAP_RATIO x the mean impressions, a card's score falls in proportion."""
    star = feed_candidate(2, behaviour=0.9, impressions=60.0)
    other = feed_candidate(3, behaviour=0.6, impressions=5.0)
    assert ids(order_feed(profile(), [star, other], NOW)) == [2, 3]  # cap off by default
    assert ids(order_feed(profile(), [star, other], NOW, mean_recent_impressions=5.0)) == [3, 2]
    capped, free = feed_scores(
        profile(), [star, replace(star, recent_impressions=0.0)], NOW, mean_recent_impressions=5.0
    )
    assert capped == pytest.approx(free * (ranking.POPULARITY_CAP_RATIO * 5.0) / 60.0)


def test_order_is_deterministic_with_ties_by_user_id() -> None:
    """Equal scores keep a stable order by user id, whatever order they arrive in."""
    feed = [feed_candidate(i) for i in (9, 4, 7)]
    assert ids(order_feed(profile(), feed, NOW)) == [4, 7, 9]


def test_limit_returns_the_first_cards_and_empty_input_is_fine() -> None:
    """limit=n gives the same first n cards as the full order; no candidates give none."""
    feed = [feed_candidate(i, behaviour=i / 40) for i in range(2, 30)]
    full = ids(order_feed(profile(), feed, NOW))
    assert ids(order_feed(profile(), feed, NOW, limit=5)) == full[:5]
    assert order_feed(profile(), [], NOW) == []


def test_feed_scores_match_the_documented_formula() -> None:
    """score = (W_C * combined + W_F * fit) * (RECIPROCITY_FLOOR + reciprocity)."""
    viewer = profile()
    c = feed_candidate(2, give=0.25, evidence=12.0, behaviour=0.6)
    (score,) = feed_scores(viewer, [c], NOW, viewer_like_rate=0.4, prior_like_rate=0.3)
    comb = combined_score(
        0.7,
        0.6,
        12.0,
        created_at=c.profile.created_at,
        last_active_at=c.profile.last_active_at,
        now=NOW,
    )[0]
    fit = pair_fit(viewer, c.profile)
    recip = reciprocity(0.4, 0.25, False, fit, prior_like_rate=0.3)
    expected = (ranking.FEED_W_COMBINED * comb + ranking.FEED_W_FIT * fit) * (
        ranking.RECIPROCITY_FLOOR + recip
    )
    assert score == pytest.approx(expected)


# -- invitations ---------------------------------------------------------------------------------


def test_an_invitation_weighs_one_then_fades_to_nothing_in_its_window() -> None:
    """Linear over INVITATION_BOOST_DAYS: 1 at once, 1/2 halfway, 0 at the end and after."""
    days = ranking.INVITATION_BOOST_DAYS
    assert ranking.invitation_weight(timedelta(0)) == 1.0
    assert ranking.invitation_weight(timedelta(seconds=-5)) == 1.0
    assert ranking.invitation_weight(timedelta(days=days / 2)) == pytest.approx(0.5)
    assert ranking.invitation_weight(timedelta(days=days)) == 0.0
    assert ranking.invitation_weight(timedelta(days=days + 10)) == 0.0


def test_invitation_weight_sql_expresses_the_same_window() -> None:
    """The SQL fragment is 1 - age in seconds / the window in seconds, floored at 0."""
    expr = ranking.invitation_weight_sql("v.counted_at")
    assert expr.startswith("greatest(0, 1 - ")
    assert "now() - v.counted_at" in expr
    assert f"/ {ranking.INVITATION_BOOST_DAYS * 86400:g})" in expr


def test_the_invitation_boost_grows_per_invitation_up_to_its_cap() -> None:
    """INVITATION_BOOST per fresh invitation, never above INVITATION_BOOST_MAX."""
    assert ranking.invitation_boost(0.0) == 0.0
    assert ranking.invitation_boost(1.0) == pytest.approx(ranking.INVITATION_BOOST)
    assert ranking.invitation_boost(0.5) == pytest.approx(ranking.INVITATION_BOOST / 2)
    assert ranking.invitation_boost(100.0) == ranking.INVITATION_BOOST_MAX
    assert ranking.INVITATION_BOOST_MAX < NEW_PROFILE_BOOST


def test_only_so_many_invitations_count_per_period() -> None:
    """The INVITATIONS_PER_PERIOD-th counted invitation is the last one that counts."""
    assert ranking.invitation_counts(0)
    assert ranking.invitation_counts(ranking.INVITATIONS_PER_PERIOD - 1)
    assert not ranking.invitation_counts(ranking.INVITATIONS_PER_PERIOD)


def test_a_counted_invitation_lifts_the_combined_rating_by_its_boost() -> None:
    """The boost is added to the combined rating, shows in its components, and is 0 without
    invitations (the rating of everyone else is unchanged)."""
    base, parts = combined_score(
        0.6, 0.5, 30.0, created_at=NOW - timedelta(days=60), last_active_at=NOW, now=NOW
    )
    lifted, lifted_parts = combined_score(
        0.6,
        0.5,
        30.0,
        created_at=NOW - timedelta(days=60),
        last_active_at=NOW,
        now=NOW,
        invitations=1.0,
    )
    assert parts["invitation_boost"] == 0.0
    assert lifted == pytest.approx(base + ranking.INVITATION_BOOST)
    assert lifted_parts["invitation_boost"] == pytest.approx(ranking.INVITATION_BOOST)


def test_an_inviter_is_shown_before_an_equal_candidate_while_the_boost_lasts() -> None:
    """With a fresh counted invitation a slightly weaker card outranks a stronger one; with
    the boost over (weight 0) it does not; many invitations lift no more than the cap."""
    viewer = profile()
    stronger = feed_candidate(2, behaviour=0.52)
    weaker = feed_candidate(3, behaviour=0.5)
    assert ids(order_feed(viewer, [stronger, weaker], NOW)) == [2, 3]
    invited = replace(weaker, rating=replace(weaker.rating, invitations=1.0))
    assert ids(order_feed(viewer, [stronger, invited], NOW)) == [3, 2]
    ended = replace(weaker, rating=replace(weaker.rating, invitations=0.0))
    assert ids(order_feed(viewer, [stronger, ended], NOW)) == [2, 3]
    many = replace(weaker, rating=replace(weaker.rating, invitations=50.0))
    capped = replace(weaker, rating=replace(weaker.rating, invitations=2.0))
    assert feed_scores(viewer, [many], NOW) == feed_scores(viewer, [capped], NOW)
