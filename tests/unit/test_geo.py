"""Distances and radius widening (domain.geo)."""

from __future__ import annotations

import math

import pytest

from domain.geo import (
    EARTH_MEAN_RADIUS_KM,
    MIN_NEARBY_CANDIDATES,
    RADIUS_STEPS_KM,
    RadiusChoice,
    bounding_box,
    choose_radius,
    choose_radius_from_counts,
    distance_km,
    haversine_km,
    widening_steps,
)

KYIV = (50.4501, 30.5234)
LVIV = (49.8397, 24.0297)
LONDON = (51.5074, -0.1278)
PARIS = (48.8566, 2.3522)


def test_haversine_matches_known_city_distances() -> None:
    """Great-circle distances between real cities match published values within 1 %."""
    assert haversine_km(*KYIV, *LVIV) == pytest.approx(468.0, rel=0.01)
    assert haversine_km(*LONDON, *PARIS) == pytest.approx(343.5, rel=0.01)


def test_haversine_is_zero_for_the_same_point_and_symmetric() -> None:
    """A point is 0 km from itself and the distance does not depend on the direction."""
    assert haversine_km(*KYIV, *KYIV) == 0.0
    assert haversine_km(*KYIV, *LVIV) == pytest.approx(haversine_km(*LVIV, *KYIV))


def test_haversine_of_antipodes_is_half_the_circumference() -> None:
    """Antipodal points are pi * R apart and rounding cannot push the formula out of range."""
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_MEAN_RADIUS_KM)
    assert haversine_km(90.0, 0.0, -90.0, 0.0) == pytest.approx(math.pi * EARTH_MEAN_RADIUS_KM)


def test_haversine_across_the_antimeridian_is_short() -> None:
    """Two points either side of longitude 180 are close, not a world apart."""
    assert haversine_km(0.0, 179.9, 0.0, -179.9) == pytest.approx(22.24, rel=0.01)


def test_distance_km_is_none_without_both_points() -> None:
    """A missing coordinate on either side gives no distance rather than a wrong one."""
    assert distance_km(None, None, *KYIV) is None
    assert distance_km(*KYIV, 1.0, None) is None
    assert distance_km(*KYIV, *LVIV) == pytest.approx(haversine_km(*KYIV, *LVIV))


def test_widening_starts_from_the_users_own_radius() -> None:
    """The radii tried are the user's own and then only the larger steps."""
    assert widening_steps(30) == (30, 50, 100, 250, 500)
    assert widening_steps(10) == (10, 25, 50, 100, 250, 500)
    assert widening_steps(1000) == (1000,)
    assert widening_steps(0)[0] == 1


def test_choose_radius_keeps_the_own_radius_when_enough_people_are_near() -> None:
    """Enough candidates inside the own radius: no widening and nothing to tell the user."""
    choice = choose_radius(25, lambda r: 100)
    assert (choice.radius_km, choice.widened, choice.count) == (25, False, 100)


def test_choose_radius_widens_to_the_first_step_with_enough_people() -> None:
    """Too few people near: the smallest step holding MIN_NEARBY_CANDIDATES is used and flagged."""
    counts = {10: 3, 25: 8, 50: 29, 100: 31, 250: 400}
    choice = choose_radius_from_counts(10, counts)
    assert choice.radius_km == 100
    assert choice.widened
    assert choice.count == 31 >= MIN_NEARBY_CANDIDATES


def test_choose_radius_uses_the_largest_step_when_nothing_is_enough() -> None:
    """When no step reaches the minimum the widest step is used, widened."""
    choice = choose_radius(50, lambda r: 2)
    assert choice.radius_km == max(RADIUS_STEPS_KM)
    assert choice.widened
    assert choice.count == 2


def test_choose_radius_does_not_widen_a_radius_already_past_every_step() -> None:
    """A user whose radius exceeds every step keeps it and is not told it widened."""
    choice = choose_radius(2000, lambda r: 0)
    assert (choice.radius_km, choice.widened) == (2000, False)


def test_choose_radius_counts_few_radii() -> None:
    """Each count may be a query: the own radius, then a binary search over the wider steps,
    each radius counted once."""
    asked: list[int] = []

    def count(r: int) -> int:
        asked.append(r)
        return 50 if r >= 50 else 0

    assert choose_radius(10, count).radius_km == 50
    assert asked == [10, 100, 50, 25]


def test_choose_radius_counts_only_the_own_radius_when_it_is_enough() -> None:
    asked: list[int] = []

    def count(r: int) -> int:
        asked.append(r)
        return 30

    assert choose_radius(10, count) == RadiusChoice(10, False, 30)
    assert asked == [10]


@pytest.mark.parametrize("preferred", [1, 10, 25, 60, 100, 250, 500, 900])
@pytest.mark.parametrize("threshold", [0, 5, 10, 25, 50, 100, 250, 500, 10_000])
def test_choose_radius_picks_what_widening_step_by_step_picks(
    preferred: int, threshold: int
) -> None:
    """The binary search chooses exactly the first step with enough people (people appear
    from ``threshold`` km on), or the largest step when none has enough."""
    tried = widening_steps(preferred)
    expected = next((r for r in tried if r >= threshold), tried[-1])
    choice = choose_radius(preferred, lambda r: 40 if r >= threshold else 3)
    assert choice.radius_km == expected
    assert choice.widened == (expected != tried[0])
    assert choice.count == (40 if expected >= threshold else 3)


@pytest.mark.parametrize("lat", [0.0, 45.0, 60.0, -70.0])
def test_bounding_box_holds_every_point_at_the_radius(lat: float) -> None:
    """Points at the radius in eight directions all fall inside the box (a safe prefilter)."""
    lon, radius = 20.0, 250.0
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius)
    for bearing in range(0, 360, 15):
        b = math.radians(bearing)
        d = radius / EARTH_MEAN_RADIUS_KM * 0.999
        p1 = math.radians(lat)
        p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
        l2 = math.radians(lon) + math.atan2(
            math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
        )
        assert min_lat <= math.degrees(p2) <= max_lat
        assert min_lon <= math.degrees(l2) <= max_lon


def test_bounding_box_near_a_pole_or_the_antimeridian_spans_all_longitudes() -> None:
    """Where a box would wrap, the longitude range is the whole circle (correct, just wider)."""
    assert bounding_box(89.5, 10.0, 100.0)[2:] == (-180.0, 180.0)
    assert bounding_box(0.0, 179.9, 50.0)[2:] == (-180.0, 180.0)
    assert bounding_box(89.5, 10.0, 100.0)[1] == 90.0
