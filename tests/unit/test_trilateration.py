"""The trilateration attack on displayed distances, against the old and the private location
models (domain.location_privacy).

The attacker may place their own location anywhere, as often as they like (the daily limit on
location changes is ignored here: the geometry alone must protect), knows their own stored point
exactly (stronger than any real attacker), and reads the distance shown on the victim's card
after every move. They first probe a grid over the city, then bisect along rays for the edge of
the smallest distance step, and finally take the centre of the region consistent with every
reading. The old model (exact coordinates, ``round(km)``) gives the victim away within metres;
the private model keeps the estimate at least 500 m off.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from domain.geo import EARTH_MEAN_RADIUS_KM, haversine_km
from domain.location_privacy import DistanceStep, distance_step, private_location

M_PER_DEG = math.pi * EARTH_MEAN_RADIUS_KM * 1000.0 / 180.0
CITY = (55.7558, 37.6173)
ATTACKER = 666
SECRET = b"test-location-secret"


@dataclass(frozen=True)
class Model:
    """How a location is stored and how a distance is shown, with the km interval a reading
    tells the attacker."""

    name: str
    stored: Callable[[int, float, float], tuple[float, float]]
    reading: Callable[[float], Hashable]
    interval: Callable[[Hashable], tuple[float, float]]


def _exact(user_id: int, lat: float, lon: float) -> tuple[float, float]:
    return lat, lon


def _round_interval(reading: Hashable) -> tuple[float, float]:
    assert isinstance(reading, int)
    return max(0.0, reading - 0.5), reading + 0.5


def _private(user_id: int, lat: float, lon: float) -> tuple[float, float]:
    point = private_location(lat, lon, user_id=user_id, secret=SECRET)
    return point.latitude, point.longitude


def _step_interval(reading: Hashable) -> tuple[float, float]:
    assert isinstance(reading, DistanceStep)
    if reading.key == "profile.distance_under_1_km":
        return 0.0, 1.0
    following = {1: 2.0, 2: 5.0, 5: 10.0}
    return float(reading.km), following.get(reading.km, reading.km + 10.0)


OLD = Model("old: exact point, round(km)", _exact, round, _round_interval)
PRIVATE = Model("private: displaced cell, coarse steps", _private, distance_step, _step_interval)


def _to_plane(lat: float, lon: float) -> tuple[float, float]:
    return (lon - CITY[1]) * M_PER_DEG * math.cos(math.radians(CITY[0])), (
        lat - CITY[0]
    ) * M_PER_DEG


def _to_globe(x: float, y: float) -> tuple[float, float]:
    return CITY[0] + y / M_PER_DEG, CITY[1] + x / (M_PER_DEG * math.cos(math.radians(CITY[0])))


class Attack:
    """Probes and the constraints they give: the victim's stored point lies between ``low`` and
    ``high`` metres from each of the attacker's stored points."""

    def __init__(self, model: Model, victim_stored: tuple[float, float]) -> None:
        self.model = model
        self.victim_stored = victim_stored
        self.points: list[tuple[float, float]] = []
        self.low: list[float] = []
        self.high: list[float] = []

    def probe(self, x: float, y: float) -> Hashable:
        """Move the attacker to plane point (x, y) and read the distance shown."""
        stored = self.model.stored(ATTACKER, *_to_globe(x, y))
        reading = self.model.reading(haversine_km(*stored, *self.victim_stored))
        low, high = self.model.interval(reading)
        self.points.append(_to_plane(*stored))
        self.low.append(low * 1000.0)
        self.high.append(high * 1000.0)
        return reading

    def consistent_centre(self, cx: float, cy: float, half: float, step: float) -> np.ndarray:
        """Centre of the candidate points agreeing with the most readings, on a square grid."""
        axis = np.arange(-half, half + step / 2, step)
        grid_x, grid_y = np.meshgrid(cx + axis, cy + axis)
        xs, ys = grid_x.ravel(), grid_y.ravel()
        score = np.zeros(xs.shape, dtype=np.int32)
        points = np.array(self.points)
        low, high = np.array(self.low), np.array(self.high)
        for start in range(0, len(points), 128):
            block = slice(start, start + 128)
            d = np.hypot(xs[:, None] - points[block, 0], ys[:, None] - points[block, 1])
            score += ((d >= low[block]) & (d < high[block])).sum(axis=1, dtype=np.int32)
        best = score == score.max()
        return np.array([xs[best].mean(), ys[best].mean()])

    def run(self) -> np.ndarray:
        """The attacker's estimate of the victim's position, as a plane point."""
        for gx in np.arange(-6000.0, 6001.0, 400.0):
            for gy in np.arange(-6000.0, 6001.0, 400.0):
                self.probe(gx, gy)
        rough = self.consistent_centre(0.0, 0.0, 6000.0, 100.0)
        nearest = self.probe(*rough)
        for ray in range(32):
            angle = 2.0 * math.pi * ray / 32
            inside, outside = 0.0, 3000.0
            for _ in range(18):
                middle = (inside + outside) / 2.0
                point = rough + middle * np.array([math.cos(angle), math.sin(angle)])
                if self.probe(*point) == nearest:
                    inside = middle
                else:
                    outside = middle
        return self.consistent_centre(rough[0], rough[1], 1500.0, 15.0)


def attack_errors(model: Model, victims: int = 5, seed: int = 16) -> list[float]:
    """Metres between each victim's true position and the attacker's estimate."""
    rng = random.Random(seed)
    errors = []
    for victim in range(victims):
        true_x, true_y = rng.uniform(-3000, 3000), rng.uniform(-3000, 3000)
        victim_stored = model.stored(1000 + victim, *_to_globe(true_x, true_y))
        estimate = Attack(model, victim_stored).run()
        errors.append(float(math.hypot(estimate[0] - true_x, estimate[1] - true_y)))
    return errors


def test_trilateration_locates_exact_points_but_not_private_ones() -> None:
    """Moving and re-reading the distance finds a victim within metres under the old model,
    and never comes closer than 500 m to anyone under the private one."""
    old, private = attack_errors(OLD), attack_errors(PRIVATE)
    print(f"\n{OLD.name}: attacker's error, m: {[round(e) for e in old]}")
    print(f"{PRIVATE.name}: attacker's error, m: {[round(e) for e in private]}")
    assert max(old) < 100.0, old
    assert min(private) >= 500.0, private
