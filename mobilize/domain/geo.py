"""Distances between points given as (latitude, longitude) in degrees, in metres.

Matching needs every volunteer-to-site distance of an order (10,000 x 200 is two million), so the workhorse is
`haversine_matrix`, vectorised with numpy. The haversine formula takes the Earth as a sphere of the mean
radius R1 = 6,371,008.8 m (IUGG); against the WGS-84 ellipsoid (geopy's `geodesic`) its relative error is
about 0.5% at most: the worst case is a short north-south hop near the equator (+0.56%), where the meridian's
radius of curvature is smallest. At Qingdao's latitude (36 N) it stays within about 0.25% (5 m in 2 km) in
every direction, far below the uncertainty of a home address and the same for every candidate of a site, so
rankings hardly move. `geodesic_m` is there when one exact distance matters (reports, checks).
"""
from __future__ import annotations

import math

import numpy as np
from geopy.distance import geodesic
from numpy.typing import ArrayLike

EARTH_MEAN_RADIUS_M = 6_371_008.8

LatLon = tuple[float, float]


def haversine_matrix(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> np.ndarray:
    """Great-circle distances in metres from each of n points (lat1, lon1) to each of m points (lat2, lon2).

    Inputs are 1-D arrays (or scalars) in degrees; the result has shape (n, m) and dtype float64.
    """
    phi1, lam1 = _radians(lat1), _radians(lon1)
    phi2, lam2 = _radians(lat2), _radians(lon2)
    if phi1.shape != lam1.shape or phi2.shape != lam2.shape:
        raise ValueError("latitudes and longitudes must have the same length")
    # sin((b - a) / 2) = sin(b/2)cos(a/2) - cos(b/2)sin(a/2): the trigonometry runs on the n + m points only
    # and the n x m part is products and sums, several times faster than one sin() per pair. Accuracy is
    # unchanged for our purpose: the cancellation costs ~1e-16 absolute, i.e. well under a millimetre.
    sin_dphi = _outer_sin_half_difference(phi1, phi2)
    sin_dlam = _outer_sin_half_difference(lam1, lam2)
    h = sin_dphi * sin_dphi
    h += np.outer(np.cos(phi1), np.cos(phi2)) * (sin_dlam * sin_dlam)
    np.clip(h, 0.0, 1.0, out=h)  # rounding may step a hair outside arcsin's domain for antipodes
    np.sqrt(h, out=h)
    np.arcsin(h, out=h)
    h *= 2.0 * EARTH_MEAN_RADIUS_M
    return h


def haversine_m(a: LatLon, b: LatLon) -> float:
    """Great-circle distance in metres between two (lat, lon) points, on the sphere of `haversine_matrix`."""
    phi1, phi2 = math.radians(a[0]), math.radians(b[0])
    sin_dphi = math.sin((phi2 - phi1) / 2.0)
    sin_dlam = math.sin(math.radians(b[1] - a[1]) / 2.0)
    h = sin_dphi * sin_dphi + math.cos(phi1) * math.cos(phi2) * sin_dlam * sin_dlam
    return 2.0 * EARTH_MEAN_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, h))))


def geodesic_m(a: LatLon, b: LatLon) -> float:
    """Distance in metres on the WGS-84 ellipsoid (geopy's geodesic, Karney's method): exact, slow."""
    return float(geodesic(a, b).meters)


def _radians(degrees: ArrayLike) -> np.ndarray:
    values = np.asarray(degrees, dtype=np.float64)
    if values.ndim > 1:
        raise ValueError("expected a 1-D array of coordinates")
    return np.radians(values.reshape(-1))


def _outer_sin_half_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The (n, m) matrix sin((b[j] - a[i]) / 2)."""
    half_a, half_b = a / 2.0, b / 2.0
    result = np.outer(np.cos(half_a), np.sin(half_b))
    result -= np.outer(np.sin(half_a), np.cos(half_b))
    return result
