"""Location privacy as pure code: what is stored of a shared location, what a card shows of a
distance, and how often a location may change.

Nobody may be located through the bot, not even by someone who moves their own location again
and again and re-reads the distance on a card (trilateration). Three rules together make that
impossible:

* Only a *displaced* point is stored. A shared location is snapped to the centre of its cell in
  a grid of ``GRID_M`` metres, then moved ``DISPLACEMENT_M`` (between 1.0 and 1.3 km) in a
  direction; the snapped cell centre alone is up to ``GRID_M / sqrt(2)`` (354 m) from the true
  point, which is not enough on its own: an attacker who finds the stored point exactly would
  be that close. With the displacement, the stored point is at least 1.0 km - 354 m = 646 m
  from the true point, whatever the attacker learns about it.
* The displacement is derived from a server secret, the user and the cell (HMAC-SHA256), not
  drawn at random: sharing the same place again gives the same stored point, so repeated shares
  tell nothing new (random draws could be averaged out), and nothing extra is stored. A new cell
  gets a new direction, so learning one displacement (say, by meeting someone) does not reveal
  the others. Rotating the secret changes the points of later shares only.
* A card shows a distance in coarse steps (``distance_step``), and a location changes at most
  ``LOCATION_CHANGES_PER_DAY`` times a day (``location_change_allowed``), so an attack needing
  hundreds of probes takes months.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from domain.geo import EARTH_MEAN_RADIUS_KM

GRID_M: Final = 500.0
DISPLACEMENT_M: Final[tuple[float, float]] = (1000.0, 1300.0)
LOCATION_CHANGES_PER_DAY: Final = 5
LOCATION_CHANGE_WINDOW: Final = timedelta(days=1)

# Metres per degree of latitude on the mean sphere; a degree of longitude is this * cos(lat).
_M_PER_DEG: Final = math.pi * EARTH_MEAN_RADIUS_KM * 1000.0 / 180.0
# Near the poles a longitude degree shrinks to nothing; cells never get wider than this many
# degrees of longitude (at |lat| > ~89.7°, where nobody lives).
_MIN_COS_LAT: Final = 0.005

# Steps below 10 km; from 10 km on, whole tens.
_SMALL_STEPS_KM: Final[tuple[int, ...]] = (1, 2, 5)


@dataclass(frozen=True, slots=True)
class StoredLocation:
    """The only form of a location that is kept: a displaced cell centre, in degrees."""

    latitude: float
    longitude: float


def _cell(latitude: float, longitude: float) -> tuple[int, int, float, float]:
    """(row, column, centre latitude, centre longitude) of the grid cell holding the point."""
    lat_step = GRID_M / _M_PER_DEG
    row = math.floor((latitude + 90.0) / lat_step)
    centre_lat = min(90.0, -90.0 + (row + 0.5) * lat_step)
    lon_step = GRID_M / (_M_PER_DEG * max(_MIN_COS_LAT, math.cos(math.radians(centre_lat))))
    column = math.floor((longitude + 180.0) / lon_step)
    centre_lon = -180.0 + (column + 0.5) * lon_step
    return row, column, centre_lat, centre_lon


def _displacement(secret: bytes, user_id: int, row: int, column: int) -> tuple[float, float]:
    """(metres, bearing in radians) for this user's point in this cell, fixed by the secret."""
    message = f"location:{user_id}:{row}:{column}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    fraction_length = int.from_bytes(digest[:8], "big") / 2.0**64
    fraction_angle = int.from_bytes(digest[8:16], "big") / 2.0**64
    low, high = DISPLACEMENT_M
    return low + (high - low) * fraction_length, 2.0 * math.pi * fraction_angle


def _move(latitude: float, longitude: float, metres: float, bearing: float) -> StoredLocation:
    """The point ``metres`` away on ``bearing`` (planar: exact enough at a kilometre)."""
    new_lat = latitude + metres * math.cos(bearing) / _M_PER_DEG
    cos_lat = max(_MIN_COS_LAT, math.cos(math.radians(latitude)))
    new_lon = longitude + metres * math.sin(bearing) / (_M_PER_DEG * cos_lat)
    if new_lat > 90.0:  # moved over a pole: reflect, the other side of the globe
        new_lat, new_lon = 180.0 - new_lat, new_lon + 180.0
    elif new_lat < -90.0:
        new_lat, new_lon = -180.0 - new_lat, new_lon + 180.0
    new_lon = (new_lon + 180.0) % 360.0 - 180.0
    return StoredLocation(new_lat, new_lon)


def private_location(
    latitude: float, longitude: float, *, user_id: int, secret: bytes
) -> StoredLocation:
    """What is stored of a location ``user_id`` shared: the displaced centre of its cell."""
    row, column, centre_lat, centre_lon = _cell(latitude, longitude)
    metres, bearing = _displacement(secret, user_id, row, column)
    return _move(centre_lat, centre_lon, metres, bearing)


@dataclass(frozen=True, slots=True)
class DistanceStep:
    """A distance as a card shows it: the catalog key of its text and the km to put in it."""

    key: str
    km: int


def distance_step(km: float) -> DistanceStep:
    """The coarse step a distance between two stored points is shown as: "< 1 km", then
    1, 2, 5, 10 km, then whole tens, always rounded down to the step."""
    if km < _SMALL_STEPS_KM[0]:
        return DistanceStep("profile.distance_under_1_km", _SMALL_STEPS_KM[0])
    if km < 10:
        return DistanceStep("profile.distance_about_km", max(s for s in _SMALL_STEPS_KM if s <= km))
    return DistanceStep("profile.distance_about_km", int(km // 10) * 10)


def location_change_allowed(
    changed_at: Iterable[datetime],
    now: datetime,
    *,
    per_window: int = LOCATION_CHANGES_PER_DAY,
    window: timedelta = LOCATION_CHANGE_WINDOW,
) -> bool:
    """Whether one more location change is allowed now, given the times of earlier changes
    (any order; the first share of a location counts as a change too)."""
    return sum(1 for moment in changed_at if now - window < moment <= now) < per_window


def next_location_change_at(
    changed_at: Iterable[datetime],
    now: datetime,
    *,
    per_window: int = LOCATION_CHANGES_PER_DAY,
    window: timedelta = LOCATION_CHANGE_WINDOW,
) -> datetime | None:
    """When a change is allowed again (to tell the user), or None when it is allowed now."""
    recent = sorted(moment for moment in changed_at if now - window < moment <= now)
    if len(recent) < per_window:
        return None
    return recent[len(recent) - per_window] + window
