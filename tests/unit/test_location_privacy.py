"""Stored locations, coarse distances and the daily limit on location changes."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from config.i18n import LANGUAGES, catalog
from domain.geo import haversine_km
from domain.location_privacy import (
    DISPLACEMENT_M,
    GRID_M,
    LOCATION_CHANGES_PER_DAY,
    distance_step,
    location_change_allowed,
    next_location_change_at,
    private_location,
)

SECRET = b"unit-secret"


def _random_points(count: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(rng.uniform(-80, 80), rng.uniform(-180, 180)) for _ in range(count)]


def test_stored_point_is_always_far_enough_and_never_too_far() -> None:
    """Anywhere on the globe the stored point is between the displacement minus half a cell's
    diagonal and the displacement plus it from the shared one."""
    half_diagonal = GRID_M / math.sqrt(2)
    for index, (lat, lon) in enumerate(_random_points(2000, seed=1)):
        stored = private_location(lat, lon, user_id=index, secret=SECRET)
        metres = haversine_km(lat, lon, stored.latitude, stored.longitude) * 1000
        assert (
            DISPLACEMENT_M[0] - half_diagonal - 1 <= metres <= DISPLACEMENT_M[1] + half_diagonal + 1
        )


def test_the_same_place_gives_the_same_point_and_other_users_another() -> None:
    """Sharing a place again (even a few metres off, in the same cell) stores the same point;
    another user or another secret at the same place gets a different one."""
    stored = private_location(55.75, 37.61, user_id=1, secret=SECRET)
    assert private_location(55.75, 37.61, user_id=1, secret=SECRET) == stored
    assert private_location(55.750001, 37.610001, user_id=1, secret=SECRET) == stored
    assert private_location(55.75, 37.61, user_id=2, secret=SECRET) != stored
    assert private_location(55.75, 37.61, user_id=1, secret=b"other") != stored


def test_points_near_the_poles_and_the_antimeridian_stay_valid() -> None:
    """Extreme coordinates give a valid latitude and longitude."""
    for lat, lon in [(89.99, 179.99), (-89.99, -179.99), (0.0, 180.0), (90.0, 0.0), (-90.0, 0.0)]:
        stored = private_location(lat, lon, user_id=7, secret=SECRET)
        assert -90.0 <= stored.latitude <= 90.0
        assert -180.0 <= stored.longitude < 180.0


def test_distance_steps() -> None:
    """Distances are shown as < 1 km, 1, 2, 5, 10 km and then whole tens, rounded down."""
    shown = {
        km: distance_step(km)
        for km in (0.0, 0.99, 1.0, 1.99, 2.0, 4.9, 5.0, 9.99, 10.0, 19.9, 37.0, 512.3)
    }
    assert shown[0.0].key == shown[0.99].key == "profile.distance_under_1_km"
    about = {km: step.km for km, step in shown.items() if step.key == "profile.distance_about_km"}
    assert about == {
        1.0: 1,
        1.99: 1,
        2.0: 2,
        4.9: 2,
        5.0: 5,
        9.99: 5,
        10.0: 10,
        19.9: 10,
        37.0: 30,
        512.3: 510,
    }


def test_distance_step_texts_exist_in_both_languages() -> None:
    """Both step keys are in every catalog, the 'about' one with its {km}."""
    for language in LANGUAGES:
        texts = catalog(language)
        assert "{km}" in texts["profile.distance_about_km"]
        assert texts["profile.distance_under_1_km"]


def test_location_changes_are_limited_per_day() -> None:
    """Five changes within a day are allowed, the sixth waits until the oldest is a day old."""
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    history = [now - timedelta(hours=hours) for hours in (1, 2, 3, 4)]
    assert location_change_allowed(history, now)
    assert next_location_change_at(history, now) is None
    history.append(now - timedelta(hours=20))
    assert len(history) == LOCATION_CHANGES_PER_DAY
    assert not location_change_allowed(history, now)
    assert next_location_change_at(history, now) == now + timedelta(hours=4)
    assert location_change_allowed(history, now + timedelta(hours=4, seconds=1))
    assert location_change_allowed([now - timedelta(days=2)] * 10, now)
