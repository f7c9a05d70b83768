"""A map of sites drawn from their coordinates alone (SVG, no tiles: the pages work without internet access).

An equirectangular projection scaled by cos(latitude) is exact enough at district scale (a few km), and the
drawing keeps the true aspect ratio inside the given box.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class Frame:
    width: float
    height: float
    points: tuple[Point, ...]


def project(coordinates: Sequence[tuple[float, float]], width: float = 640, height: float | None = None,
            margin: float = 28, min_height: float = 220, max_height: float = 480) -> Frame:
    """(lat, lon) pairs to SVG points within width x height (north up), keeping distances in proportion.
    Without a height, the box takes the places' own proportions (within min_height and max_height), so that a
    district wider than tall is not drawn as a thin band in a tall box."""
    if not coordinates:
        return Frame(width, height or min_height, ())
    mean_lat = math.radians(sum(lat for lat, _ in coordinates) / len(coordinates))
    xs = [lon * math.cos(mean_lat) for _, lon in coordinates]
    ys = [lat for lat, _ in coordinates]
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    if height is None:
        inner = (width - 2 * margin) * span_y / span_x if span_x else max_height
        height = round(min(max_height, max(min_height, inner + 2 * margin)))
    scale = min((width - 2 * margin) / span_x if span_x else math.inf,
                (height - 2 * margin) / span_y if span_y else math.inf)
    if math.isinf(scale):  # a single place (or all at one spot): the middle of the map
        return Frame(width, height, tuple(Point(width / 2, height / 2) for _ in coordinates))
    # centre the drawing in the box
    offset_x = (width - span_x * scale) / 2
    offset_y = (height - span_y * scale) / 2
    points = tuple(Point(round(offset_x + (x - min(xs)) * scale, 1),
                         round(offset_y + (max(ys) - y) * scale, 1)) for x, y in zip(xs, ys))
    return Frame(width, height, points)
