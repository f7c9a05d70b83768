"""The district map's street areas (issue 17): valid GeoJSON, one area per street, labelled approximate, the
areas tiling the widened hull without overlap, every community inside its own street's area; and the board
loads the map from the vendored ECharts, without a tile server."""
from __future__ import annotations

import math
import random

import pytest

from mobilize.domain.district import STREETS
from mobilize.domain.street_cells import HULL_MARGIN_M, Seed, _area, _inside, street_areas
from mobilize.registry.demo_district import plan_communities
from tests.web.conftest import STREET_A


def demo_seeds(seed: int = 2022) -> list[Seed]:
    rng = random.Random(seed)
    return [Seed(street.slug, c.lat, c.lon) for number, street in enumerate(STREETS, start=1)
            for c in plan_communities(rng, street, number)]


def polygons(feature) -> list[list[list[list[float]]]]:
    geometry = feature["geometry"]
    assert geometry["type"] in ("Polygon", "MultiPolygon")
    return [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]


def planar(ring, scale):
    return [(lon * scale, lat) for lon, lat in ring[:-1]]


def test_the_areas_are_valid_geojson_and_labelled_approximate():
    seeds = demo_seeds()
    collection = street_areas(seeds, {s.slug: {"name": s.short_name} for s in STREETS})
    assert collection["type"] == "FeatureCollection" and collection["properties"]["approximate"] is True
    assert "not official boundaries" in collection["properties"]["method"]
    assert sorted(f["properties"]["street"] for f in collection["features"]) == sorted(s.slug for s in STREETS)
    for feature in collection["features"]:
        assert feature["type"] == "Feature" and feature["properties"]["approximate"] is True
        assert feature["properties"]["name"]
        for polygon in polygons(feature):
            for number, ring in enumerate(polygon):
                assert len(ring) >= 4 and ring[0] == ring[-1]  # closed linear rings (RFC 7946 3.1.6)
                assert all(len(position) == 2 and all(math.isfinite(x) for x in position) for position in ring)
                area = _area([tuple(p) for p in ring[:-1]])
                assert (area > 0) if number == 0 else (area < 0)  # outlines counter-clockwise, holes not


def test_the_areas_tile_the_district_and_hold_their_communities():
    seeds = demo_seeds(7)
    collection = street_areas(seeds)
    scale = math.cos(math.radians(sum(s.lat for s in seeds) / len(seeds)))
    by_street = {f["properties"]["street"]: f for f in collection["features"]}
    for seed in seeds:  # each community lies in its own street's area and in no other
        point = (seed.lon * scale, seed.lat)
        holders = [street for street, feature in by_street.items()
                   if any(_inside(point, planar(polygon[0], scale)) for polygon in polygons(feature))]
        assert holders == [seed.street]
    total = sum(_area(planar(ring, scale)) for f in collection["features"] for p in polygons(f) for ring in p)
    margin = HULL_MARGIN_M / 111_320
    lats, lons = [s.lat for s in seeds], [s.lon * scale for s in seeds]
    box = (max(lats) - min(lats) + 2 * margin) * (max(lons) - min(lons) + 2 * margin)
    assert 0.4 * box < total <= box  # no overlap: the areas together are the widened hull, inside its box


def test_too_few_points_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 3 distinct points"):
        street_areas([Seed("a", 36.0, 120.0), Seed("b", 36.0, 120.0)])


def test_the_board_serves_the_areas_and_draws_them_with_the_vendored_echarts(clients):
    response = clients["officer"].get("/map/streets.geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    collection = response.json
    assert len(collection["features"]) == len(STREETS)  # streets without communities stand at their office
    assert collection["properties"]["approximate"] is True and "近似范围" in collection["properties"]["label"]
    assert {f["properties"]["name"] for f in collection["features"]} == {s.short_name for s in STREETS}
    board = clients["officer"].get(f"/board/{STREET_A}").get_data(as_text=True)
    assert "/static/vendor/echarts/echarts.min.js" in board and 'id="district-map"' in board
    assert "近似范围" in board and "http" not in board.split('id="district-map"')[1].split("</section>")[0]
