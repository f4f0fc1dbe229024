"""The candidate rules (domain.filters): each rule alone keeps a candidate out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.filters import (
    NO_RELATION,
    SKIP_COOLDOWN,
    Relation,
    Rule,
    age_in_range,
    feed_sequence,
    is_candidate,
    location_ok,
    partition_by_skip,
    profile_rejection,
    recycle_order,
    rejection_reason,
    relation_rejection,
    skipped_recently,
    visibility_rejection,
)
from domain.geo import haversine_km
from domain.ranking import ProfileFeatures

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
KYIV = (50.4501, 30.5234)
BROVARY = (50.5110, 30.7909)  # ~20 km from Kyiv's centre
LVIV = (49.8397, 24.0297)


def profile(user_id: int, **changes: Any) -> ProfileFeatures:
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
        interests=frozenset({"music"}),
        about_len=80,
        photo_count=2,
        has_name=True,
        created_at=NOW - timedelta(days=30),
        last_active_at=NOW - timedelta(hours=1),
    )
    return replace(base, **changes)


VIEWER = profile(1)
# Passes every rule for VIEWER; each test changes exactly one thing.
GOOD = profile(2, gender="f", seeking="m", age=28, age_min=27, age_max=40)


def reason(
    candidate: ProfileFeatures = GOOD,
    relation: Relation = NO_RELATION,
    viewer: ProfileFeatures = VIEWER,
    radius_km: float | None = None,
) -> Rule | None:
    return rejection_reason(viewer, candidate, relation, now=NOW, radius_km=radius_km)


def test_the_reference_candidate_passes_every_rule() -> None:
    """The pair every other test breaks in one place is a valid candidate to start with."""
    assert reason() is None
    assert is_candidate(VIEWER, GOOD, NO_RELATION, now=NOW)


def test_viewer_is_never_their_own_candidate() -> None:
    """A profile is not shown to itself even when it would match its own wishes."""
    me = profile(7, seeking="any", age_min=18, age_max=99)
    assert reason(me, viewer=me) is Rule.SELF
    assert not is_candidate(me, me, NO_RELATION, now=NOW)


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"is_complete": False}, Rule.INCOMPLETE),
        ({"is_deleted": True}, Rule.DELETED),
        ({"is_banned": True}, Rule.BANNED),
        ({"is_paused": True}, Rule.PAUSED),
        ({"is_inactive": True}, Rule.INACTIVE),
        ({"is_hidden": True}, Rule.HIDDEN),
        ({"photo_count": 0}, Rule.NO_PHOTO),
    ],
)
def test_invisible_profiles_are_never_shown(change: dict[str, Any], rule: Rule) -> None:
    """Incomplete, deleted, banned, paused, bot-blocking, hidden or photo-less profiles are out."""
    candidate = replace(GOOD, **change)
    assert visibility_rejection(candidate) is rule
    assert reason(candidate) is rule
    assert not is_candidate(VIEWER, candidate, NO_RELATION, now=NOW)


def test_a_paused_profile_is_shown_again_when_resumed() -> None:
    """Pausing hides a profile only while the flag is set; nothing else about it changes."""
    paused = replace(GOOD, is_paused=True)
    assert not is_candidate(VIEWER, paused, NO_RELATION, now=NOW)
    assert is_candidate(VIEWER, replace(paused, is_paused=False), NO_RELATION, now=NOW)


@pytest.mark.parametrize(
    ("relation", "rule"),
    [
        (Relation(viewer_blocked_candidate=True), Rule.BLOCKED_BY_VIEWER),
        (Relation(candidate_blocked_viewer=True), Rule.BLOCKED_VIEWER),
        (Relation(viewer_liked_candidate=True), Rule.ALREADY_LIKED),
        (Relation(matched=True), Rule.MATCHED),
        (Relation(viewer_skipped_at=NOW - timedelta(days=1)), Rule.SKIPPED_RECENTLY),
    ],
)
def test_pair_history_rules_keep_a_candidate_out(relation: Relation, rule: Rule) -> None:
    """A block either way, a like already given, a match or a skip this week excludes the pair."""
    assert relation_rejection(relation, NOW) is rule
    assert reason(relation=relation) is rule
    assert not is_candidate(VIEWER, GOOD, relation, now=NOW)


def test_a_block_wins_over_a_like_from_the_candidate() -> None:
    """Someone who liked the viewer but was blocked by them is still never shown."""
    relation = Relation(viewer_blocked_candidate=True, candidate_liked_viewer=True)
    assert reason(relation=relation) is Rule.BLOCKED_BY_VIEWER


def test_a_like_from_the_candidate_does_not_exclude_them() -> None:
    """Having been liked by the candidate is an ordering signal, not a rule."""
    assert reason(relation=Relation(candidate_liked_viewer=True)) is None


def test_viewer_gender_wish_is_enforced() -> None:
    """A candidate of the gender the viewer does not seek is out."""
    candidate = replace(GOOD, gender="m")
    assert reason(candidate) is Rule.VIEWER_GENDER_WISH
    assert not is_candidate(VIEWER, candidate, NO_RELATION, now=NOW)


def test_candidate_gender_wish_is_enforced() -> None:
    """A candidate who does not seek the viewer's gender is out, even if the viewer wants them."""
    candidate = replace(GOOD, seeking="f")
    assert reason(candidate) is Rule.CANDIDATE_GENDER_WISH
    assert not is_candidate(VIEWER, candidate, NO_RELATION, now=NOW)


def test_seeking_any_accepts_both_genders() -> None:
    """'any' on both sides lets any gender pair through the gender rules."""
    viewer = replace(VIEWER, seeking="any")
    assert reason(replace(GOOD, gender="m", seeking="any"), viewer=viewer) is None
    assert reason(replace(GOOD, seeking="any"), viewer=viewer) is None


def test_viewer_age_range_is_enforced() -> None:
    """A candidate older than the viewer's maximum (or younger than the minimum) is out."""
    too_old = replace(GOOD, age=36)
    assert reason(too_old) is Rule.VIEWER_AGE_RANGE
    assert not is_candidate(VIEWER, too_old, NO_RELATION, now=NOW)
    assert reason(replace(GOOD, age=24, age_min=18)) is Rule.VIEWER_AGE_RANGE


def test_candidate_age_range_is_enforced() -> None:
    """A candidate whose range does not include the viewer's age is out."""
    candidate = replace(GOOD, age_max=29)
    assert reason(candidate) is Rule.CANDIDATE_AGE_RANGE
    assert not is_candidate(VIEWER, candidate, NO_RELATION, now=NOW)


def test_age_range_bounds_are_inclusive_and_missing_ones_are_open() -> None:
    """Ages at the bounds are inside; a missing bound is the schema's; a missing age never is."""
    assert age_in_range(25, 25, 35)
    assert age_in_range(35, 25, 35)
    assert age_in_range(99, 25, None)
    assert age_in_range(18, None, 30)
    assert not age_in_range(None, None, None)


def test_a_different_city_without_coordinates_is_out() -> None:
    """With no shared coordinates, only the same normalised city is near enough."""
    candidate = replace(GOOD, city_key="lviv")
    assert reason(candidate) is Rule.LOCATION
    assert not is_candidate(VIEWER, candidate, NO_RELATION, now=NOW)
    assert reason(replace(GOOD, city_key=None), viewer=replace(VIEWER, city_key=None)) is (
        Rule.LOCATION
    )


def test_coordinates_within_the_radius_pass_even_across_cities() -> None:
    """Both shared a location within the viewer's radius: near, whatever city each typed."""
    viewer = replace(VIEWER, latitude=KYIV[0], longitude=KYIV[1], radius_km=25)
    candidate = replace(GOOD, city_key="brovary", latitude=BROVARY[0], longitude=BROVARY[1])
    assert haversine_km(*KYIV, *BROVARY) < 25
    assert reason(candidate, viewer=viewer) is None


def test_coordinates_beyond_the_radius_are_out() -> None:
    """Both shared a location farther apart than the viewer's radius: not shown."""
    viewer = replace(VIEWER, latitude=KYIV[0], longitude=KYIV[1], radius_km=10)
    candidate = replace(GOOD, city_key="brovary", latitude=BROVARY[0], longitude=BROVARY[1])
    assert reason(candidate, viewer=viewer) is Rule.LOCATION
    assert not is_candidate(viewer, candidate, NO_RELATION, now=NOW)


def test_a_widened_radius_lets_farther_people_in() -> None:
    """The effective (widened) radius replaces the viewer's own one."""
    viewer = replace(VIEWER, latitude=KYIV[0], longitude=KYIV[1], radius_km=10)
    candidate = replace(GOOD, city_key="brovary", latitude=BROVARY[0], longitude=BROVARY[1])
    assert reason(candidate, viewer=viewer, radius_km=25) is None
    assert profile_rejection(viewer, candidate, radius_km=25) is None
    far = replace(candidate, latitude=LVIV[0], longitude=LVIV[1])
    assert reason(far, viewer=viewer, radius_km=250) is Rule.LOCATION


def test_the_same_city_passes_whatever_the_distance() -> None:
    """Same normalised city is near even if shared coordinates put them past the radius."""
    viewer = replace(VIEWER, latitude=KYIV[0], longitude=KYIV[1], radius_km=1)
    candidate = replace(GOOD, latitude=BROVARY[0], longitude=BROVARY[1])
    assert location_ok(viewer, candidate, 1)


def test_one_side_without_coordinates_falls_back_to_the_city() -> None:
    """When only one side shared a location, distance is unknown and the city decides."""
    viewer = replace(VIEWER, latitude=KYIV[0], longitude=KYIV[1], radius_km=500)
    assert not location_ok(viewer, replace(GOOD, city_key="lviv"), 500)
    assert location_ok(viewer, GOOD, 500)


def test_profile_rejection_applies_every_profile_rule() -> None:
    """profile_rejection (the part that needs no pair history) applies the same profile rules."""
    assert profile_rejection(VIEWER, GOOD) is None
    assert profile_rejection(VIEWER, VIEWER) is Rule.SELF
    assert profile_rejection(VIEWER, replace(GOOD, is_banned=True)) is Rule.BANNED
    assert profile_rejection(VIEWER, replace(GOOD, seeking="f")) is Rule.CANDIDATE_GENDER_WISH
    assert profile_rejection(VIEWER, replace(GOOD, age=40)) is Rule.VIEWER_AGE_RANGE
    assert profile_rejection(VIEWER, replace(GOOD, city_key="lviv")) is Rule.LOCATION


def test_a_skip_keeps_the_candidate_out_for_exactly_seven_days() -> None:
    """A skip less than 7 days old excludes; at 7 days the candidate may come back."""
    assert timedelta(days=7) == SKIP_COOLDOWN
    just_inside = NOW - SKIP_COOLDOWN + timedelta(seconds=1)
    assert skipped_recently(just_inside, NOW)
    assert not skipped_recently(NOW - SKIP_COOLDOWN, NOW)
    assert not skipped_recently(None, NOW)
    old_skip = Relation(viewer_skipped_at=NOW - SKIP_COOLDOWN)
    assert is_candidate(VIEWER, GOOD, old_skip, now=NOW)
    recent_skip = Relation(viewer_skipped_at=just_inside)
    assert not is_candidate(VIEWER, GOOD, recent_skip, now=NOW)


def test_skipped_people_are_split_from_fresh_ones_and_cooling_ones_dropped() -> None:
    """Never-skipped candidates are fresh, old skips recyclable, skips this week dropped."""
    skips = {"a": None, "b": NOW - timedelta(days=8), "c": NOW - timedelta(days=2), "d": None}
    fresh, recyclable = partition_by_skip(list(skips), skips.__getitem__, NOW)
    assert fresh == ["a", "d"]
    assert recyclable == [("b", NOW - timedelta(days=8))]


def test_skipped_people_come_back_only_after_everyone_else_longest_ago_first() -> None:
    """The feed shows every fresh candidate first, then old skips, the longest ago first."""
    recyclable = [
        ("x", NOW - timedelta(days=8)),
        ("y", NOW - timedelta(days=30)),
        ("z", NOW - timedelta(days=9)),
    ]
    assert recycle_order(recyclable) == ["y", "z", "x"]
    assert feed_sequence(["f1", "f2"], recyclable) == ["f1", "f2", "y", "z", "x"]
    assert feed_sequence([], recyclable) == ["y", "z", "x"]


def test_recycled_people_may_be_ranked_but_stay_after_fresh_ones() -> None:
    """A ranking for the skipped ones reorders them among themselves, never before fresh ones."""
    recyclable = [("x", NOW - timedelta(days=8)), ("y", NOW - timedelta(days=30))]
    ranked = feed_sequence(["f"], recyclable, lambda back: sorted(back, reverse=True))
    assert ranked == ["f", "y", "x"]
