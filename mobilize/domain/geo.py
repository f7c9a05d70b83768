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


class PointTrig:
    """The per-point terms of `haversine_matrix` for a set of points, so that distances of chosen pairs
    (`haversine_pairs`) come out bit for bit as the matrix would give them, without the n x m matrix.

    Sparse matching needs the distances of a few pairs among 100,000 volunteers x 1,000 sites; computing the
    trigonometry once per point (as the matrix does) and the pair part with the very same floating-point
    operations in the same order keeps every cost identical to the dense path.
    """

    def __init__(self, lat: ArrayLike, lon: ArrayLike) -> None:
        phi, lam = _radians(lat), _radians(lon)
        if phi.shape != lam.shape:
            raise ValueError("latitudes and longitudes must have the same length")
        half_phi, half_lam = phi / 2.0, lam / 2.0
        self.cos_half_phi, self.sin_half_phi = np.cos(half_phi), np.sin(half_phi)
        self.cos_half_lam, self.sin_half_lam = np.cos(half_lam), np.sin(half_lam)
        self.cos_phi = np.cos(phi)
        self.unit = np.column_stack((self.cos_phi * np.cos(lam), self.cos_phi * np.sin(lam), np.sin(phi)))

    def __len__(self) -> int:
        return len(self.cos_phi)


def haversine_pairs(first: PointTrig, rows: np.ndarray, second: PointTrig, cols: np.ndarray) -> np.ndarray:
    """Distances in metres from first[rows[i]] to second[cols[i]]: element i equals, bit for bit,
    `haversine_matrix(first..., second...)[rows[i], cols[i]]` (same operations, same order)."""
    sin_dphi = first.cos_half_phi[rows] * second.sin_half_phi[cols]
    sin_dphi -= first.sin_half_phi[rows] * second.cos_half_phi[cols]
    sin_dlam = first.cos_half_lam[rows] * second.sin_half_lam[cols]
    sin_dlam -= first.sin_half_lam[rows] * second.cos_half_lam[cols]
    h = sin_dphi * sin_dphi
    h += (first.cos_phi[rows] * second.cos_phi[cols]) * (sin_dlam * sin_dlam)
    np.clip(h, 0.0, 1.0, out=h)
    np.sqrt(h, out=h)
    np.arcsin(h, out=h)
    h *= 2.0 * EARTH_MEAN_RADIUS_M
    return h


def chord_to_metres(chord: ArrayLike) -> np.ndarray:
    """The great-circle distance (metres, on the sphere of `haversine_matrix`) of a chord between unit
    vectors (`PointTrig.unit`): monotone, so a k-d tree on unit vectors finds nearest points by distance."""
    return 2.0 * EARTH_MEAN_RADIUS_M * np.arcsin(np.clip(np.asarray(chord, np.float64) / 2.0, 0.0, 1.0))


def metres_to_chord(metres: ArrayLike) -> np.ndarray:
    """The inverse of `chord_to_metres` (metres beyond half the circumference give the diameter, 2)."""
    angle = np.minimum(np.asarray(metres, np.float64) / (2.0 * EARTH_MEAN_RADIUS_M), math.pi / 2)
    return 2.0 * np.sin(np.maximum(angle, 0.0))
