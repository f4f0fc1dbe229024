"""Distances on the Earth and the widening of a viewer's search radius, as pure code.

The feed query (SQL) keeps the same rules: a candidate sharing coordinates is near when the
great-circle distance is at most the effective radius, and the effective radius is the
viewer's own radius widened through ``RADIUS_STEPS_KM`` until enough people are near.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

# Mean Earth radius (IUGG), km. The error of the spherical model (< 0.5 %) is far below the
# precision anyone means by "within 25 km".
EARTH_MEAN_RADIUS_KM: Final = 6371.0088

# The steps a radius widens through when too few people are near. Roughly geometric (x2-x2.5)
# so that each step adds a comparable share of the population of a typical region, and
# bounded so that nobody is shown people a day's travel away without asking.
RADIUS_STEPS_KM: Final[tuple[int, ...]] = (10, 25, 50, 100, 250, 500)

# "Too few": with fewer than this many candidates a daily session runs dry within a day or
# two (people browse a few dozen cards a day), so the radius is widened.
MIN_NEARBY_CANDIDATES: Final = 30

# The schema's bounds for profiles.radius_km.
MIN_RADIUS_KM: Final = 1
MAX_RADIUS_KM: Final = 20000


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dphi = p2 - p1
    dlmb = math.radians(lon2 - lon1)
    s = math.sin(dphi / 2.0)
    t = math.sin(dlmb / 2.0)
    a = s * s + math.cos(p1) * math.cos(p2) * t * t
    # min() guards against a > 1 from rounding for antipodal points.
    return 2.0 * EARTH_MEAN_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def distance_km(
    lat1: float | None, lon1: float | None, lat2: float | None, lon2: float | None
) -> float | None:
    """Distance in km when both points are known, else None."""
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return None
    return haversine_km(lat1, lon1, lat2, lon2)


def widening_steps(preferred_km: int, steps: tuple[int, ...] = RADIUS_STEPS_KM) -> tuple[int, ...]:
    """The radii tried in order: the user's own radius, then every larger step."""
    preferred = max(MIN_RADIUS_KM, min(MAX_RADIUS_KM, preferred_km))
    return (preferred, *(s for s in steps if s > preferred))


@dataclass(frozen=True, slots=True)
class RadiusChoice:
    """The radius the feed uses, whether it is wider than the user's own (tell them), and
    how many candidates it holds."""

    radius_km: int
    widened: bool
    count: int


def choose_radius(
    preferred_km: int,
    count_within: Callable[[int], int],
    *,
    min_candidates: int = MIN_NEARBY_CANDIDATES,
    steps: tuple[int, ...] = RADIUS_STEPS_KM,
) -> RadiusChoice:
    """The smallest of the preferred radius and the wider ``steps`` where
    ``count_within(radius)`` reaches ``min_candidates``; if none does, the largest step.

    A count may be a query, so few are made: the preferred radius first (enough, most of the
    time), then a binary search over the wider steps — a count never shrinks as the radius
    grows — so at most four counts instead of seven.
    """
    tried = widening_steps(preferred_km, steps)
    counts: dict[int, int] = {}

    def enough(index: int) -> bool:
        radius = tried[index]
        if radius not in counts:
            counts[radius] = count_within(radius)
        return counts[radius] >= min_candidates

    if enough(0) or len(tried) == 1:
        return RadiusChoice(tried[0], False, counts[tried[0]])
    low, high = 1, len(tried) - 1
    while low < high:
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle + 1
    enough(low)
    return RadiusChoice(tried[low], True, counts[tried[low]])


def choose_radius_from_counts(
    preferred_km: int,
    counts: Mapping[int, int],
    *,
    min_candidates: int = MIN_NEARBY_CANDIDATES,
    steps: tuple[int, ...] = RADIUS_STEPS_KM,
) -> RadiusChoice:
    """``choose_radius`` over counts already computed per radius (e.g. one SQL query with a
    ``count(*) FILTER (WHERE distance <= r)`` per step); a missing radius counts as 0."""
    return choose_radius(
        preferred_km, lambda r: counts.get(r, 0), min_candidates=min_candidates, steps=steps
    )


def bounding_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) of a box holding every point within ``radius_km``.

    Used as a cheap index-friendly prefilter; the exact distance check still follows. Near a
    pole, or when the box would cross the antimeridian, the longitude range is the whole
    circle (a box that is too big is correct, only slower).
    """
    angular = radius_km / EARTH_MEAN_RADIUS_KM  # radians
    dlat = math.degrees(angular)
    min_lat = lat - dlat
    max_lat = lat + dlat
    if min_lat <= -90.0 or max_lat >= 90.0 or angular >= math.pi / 2.0:
        return (max(-90.0, min_lat), min(90.0, max_lat), -180.0, 180.0)
    # The widest longitude span of a spherical cap (exact, not an approximation).
    ratio = math.sin(angular) / math.cos(math.radians(lat))
    if ratio >= 1.0:
        return (min_lat, max_lat, -180.0, 180.0)
    dlon = math.degrees(math.asin(ratio))
    if lon - dlon < -180.0 or lon + dlon > 180.0:
        return (min_lat, max_lat, -180.0, 180.0)
    return (min_lat, max_lat, lon - dlon, lon + dlon)
