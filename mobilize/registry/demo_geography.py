"""Where the demo district's points may fall: its rough shoreline, and random points on land near a centre."""
from __future__ import annotations

import math
import random
from collections.abc import Sequence

# Rough shoreline of the district, so that no home or site lands in the sea: the south coast (lon, lat)
# from Tuandao past Zhanqiao, the bathing beaches, Taipingjiao, the May Fourth Square and Yan'erdao, and the
# west coast (lat, lon) on Jiaozhou Bay from Tuandao north to the Xiaogang harbour. Points must lie
# SHORE_MARGIN inland.
SOUTH_SHORE: tuple[tuple[float, float], ...] = (
    (120.280, 36.044), (120.290, 36.045), (120.300, 36.050), (120.310, 36.057), (120.318, 36.061),
    (120.325, 36.061), (120.332, 36.058), (120.340, 36.055), (120.348, 36.052), (120.355, 36.049),
    (120.362, 36.045), (120.370, 36.049), (120.378, 36.054), (120.385, 36.057), (120.395, 36.055),
    (120.405, 36.053), (120.415, 36.050), (120.425, 36.056), (120.440, 36.060),
)
WEST_SHORE: tuple[tuple[float, float], ...] = (
    (36.040, 120.282), (36.045, 120.285), (36.055, 120.293), (36.065, 120.299), (36.075, 120.305),
    (36.085, 120.310),
)
SHORE_MARGIN = 0.001  # degrees, about 100 m


def on_land(lat: float, lon: float) -> bool:
    """Inland of the district's rough shoreline (SOUTH_SHORE, WEST_SHORE) by SHORE_MARGIN at least."""
    return (lat >= _interpolate(SOUTH_SHORE, lon) + SHORE_MARGIN
            and lon >= _interpolate(WEST_SHORE, lat) + SHORE_MARGIN)


def _interpolate(points: Sequence[tuple[float, float]], x: float) -> float:
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


def _offset(lat: float, lon: float, km: float, bearing: float) -> tuple[float, float]:
    dlat = km * math.cos(bearing) / 111.32
    dlon = km * math.sin(bearing) / (111.32 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def scatter(rng: random.Random, lat: float, lon: float, radius_km: tuple[float, float],
             tries: int = 12) -> tuple[float, float]:
    """A point radius_km[0] to radius_km[1] away from (lat, lon), on land; else (lat, lon) itself."""
    for _ in range(tries):
        point = _offset(lat, lon, rng.uniform(*radius_km), rng.uniform(0.0, 2 * math.pi))
        if on_land(*point):
            return point
    return round(lat, 6), round(lon, 6)

