"""Haversine distances (vectorised and single) against geopy's WGS-84 geodesic."""
from __future__ import annotations

import numpy as np
import pytest

from mobilize.domain.geo import EARTH_MEAN_RADIUS_M, geodesic_m, haversine_m, haversine_matrix

QINGDAO = (36.06, 120.38)


def _relative_errors(lat1, lon1, lat2, lon2) -> np.ndarray:
    pairs = list(zip(lat1, lon1, lat2, lon2))
    fast = np.array([haversine_matrix([a], [b], [c], [d])[0, 0] for a, b, c, d in pairs])
    exact = np.array([geodesic_m((a, b), (c, d)) for a, b, c, d in pairs])
    return np.abs(fast / exact - 1.0)


def _random_points(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform on the sphere: latitude through arcsin so that the poles are not over-sampled."""
    return np.degrees(np.arcsin(rng.uniform(-1, 1, count))), rng.uniform(-180, 180, count)


def test_matches_geodesic_within_half_a_percent_around_qingdao() -> None:
    rng = np.random.default_rng(1)
    lat1, lon1 = QINGDAO[0] + rng.uniform(-0.05, 0.05, 300), QINGDAO[1] + rng.uniform(-0.1, 0.1, 300)
    lat2, lon2 = QINGDAO[0] + rng.uniform(-0.05, 0.05, 300), QINGDAO[1] + rng.uniform(-0.1, 0.1, 300)
    errors = _relative_errors(lat1, lon1, lat2, lon2)
    assert errors.max() < 0.0025  # better than 0.5%: at 36 N the sphere is within a quarter percent


def test_matches_geodesic_within_half_a_percent_from_qingdao_to_far_places() -> None:
    rng = np.random.default_rng(2)
    lat2, lon2 = _random_points(rng, 300)
    errors = _relative_errors(np.full(300, QINGDAO[0]), np.full(300, QINGDAO[1]), lat2, lon2)
    assert errors.max() < 0.005


def test_worst_case_anywhere_is_about_half_a_percent() -> None:
    rng = np.random.default_rng(3)
    lat1, lon1 = _random_points(rng, 300)
    lat2, lon2 = _random_points(rng, 300)
    assert _relative_errors(lat1, lon1, lat2, lon2).max() < 0.006
    # the documented worst case: a short north-south hop on the equator (meridian curvature radius is least)
    assert haversine_m((0.0, 0.0), (0.01, 0.0)) / geodesic_m((0.0, 0.0), (0.01, 0.0)) - 1 == pytest.approx(
        0.0056, abs=0.0002)


def test_matrix_shape_and_entries_agree_with_single_pairs() -> None:
    rng = np.random.default_rng(4)
    lat1, lon1 = QINGDAO[0] + rng.uniform(-0.1, 0.1, 7), QINGDAO[1] + rng.uniform(-0.1, 0.1, 7)
    lat2, lon2 = QINGDAO[0] + rng.uniform(-0.1, 0.1, 5), QINGDAO[1] + rng.uniform(-0.1, 0.1, 5)
    matrix = haversine_matrix(lat1, lon1, lat2, lon2)
    assert matrix.shape == (7, 5) and matrix.dtype == np.float64
    for i in range(7):
        for j in range(5):
            single = haversine_m((lat1[i], lon1[i]), (lat2[j], lon2[j]))
            assert matrix[i, j] == pytest.approx(single, abs=1e-6)
    assert np.allclose(haversine_matrix(lat2, lon2, lat1, lon1), matrix.T, atol=1e-6)


def test_shapes_of_scalars_and_empty_inputs() -> None:
    assert haversine_matrix(*QINGDAO, *QINGDAO).shape == (1, 1)
    assert haversine_matrix([], [], [1.0, 2.0], [3.0, 4.0]).shape == (0, 2)
    assert haversine_matrix([1.0], [2.0], [], []).shape == (1, 0)
    with pytest.raises(ValueError):
        haversine_matrix([1.0, 2.0], [3.0], [1.0], [1.0])
    with pytest.raises(ValueError):
        haversine_matrix([[1.0]], [[2.0]], [1.0], [1.0])


def test_single_pair_values() -> None:
    assert haversine_m(QINGDAO, QINGDAO) == 0.0
    assert haversine_matrix(*QINGDAO, *QINGDAO)[0, 0] == pytest.approx(0.0, abs=1e-6)
    # a quarter of a great circle, and antipodes (half), exactly on the sphere
    assert haversine_m((0.0, 0.0), (0.0, 90.0)) == pytest.approx(np.pi / 2 * EARTH_MEAN_RADIUS_M)
    assert haversine_matrix([0.0], [0.0], [0.0], [180.0])[0, 0] == pytest.approx(np.pi * EARTH_MEAN_RADIUS_M)
    # metres are metres: a few metres apart in Shinan
    assert haversine_m(QINGDAO, (QINGDAO[0] + 0.0001, QINGDAO[1])) == pytest.approx(11.12, abs=0.02)
    near = (36.07, 120.39)
    assert haversine_m(QINGDAO, near) == pytest.approx(geodesic_m(QINGDAO, near), rel=0.005)


def test_geodesic_is_geopys_ellipsoid() -> None:
    # a degree of longitude on the equator
    assert geodesic_m((0.0, 0.0), (0.0, 1.0)) == pytest.approx(111_319.49, abs=0.01)
