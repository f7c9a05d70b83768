"""Geocoding volunteers' addresses: a real geocoder through geopy when configured, else the local centre.

`GEOCODER=offline` (the default, and the only mode that works without internet) places an address at its
community's centre when the community has coordinates, else at its street's centre, and marks it approximate.
`GEOCODER=nominatim` asks OpenStreetMap's Nominatim through geopy, throttled by geopy's RateLimiter (one
request a second, as Nominatim's usage policy asks), and falls back to the offline centre when the service
fails, finds nothing, or finds a place too far from the volunteer's street to be believable.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import structlog

log = structlog.get_logger(__name__)

GEOCODERS = ("offline", "nominatim")


@dataclass(frozen=True)
class Place:
    """A named place with a centre that may be unknown (a community created by an import has none)."""

    name: str
    lat: float | None = None
    lon: float | None = None

    @property
    def has_centre(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float
    approximate: bool
    source: str  # "geocoder", "community" or "street"


class Geocoder(Protocol):
    """Turns a volunteer's address into coordinates; never raises for an address it cannot place."""

    online: bool

    def locate(self, address: str, street: Place, community: Place | None = None) -> Location: ...


class OfflineGeocoder:
    """No network: the community's centre if it has one, else the street's; always approximate."""

    online = False

    def locate(self, address: str, street: Place, community: Place | None = None) -> Location:
        return centre_of(street, community)


def centre_of(street: Place, community: Place | None = None) -> Location:
    if community is not None and community.has_centre:
        return Location(community.lat, community.lon, approximate=True, source="community")
    if not street.has_centre:
        raise ValueError(f"street {street.name!r} has no centre")
    return Location(street.lat, street.lon, approximate=True, source="street")


class GeopyGeocoder:
    """Any geopy geocoder behind geopy's RateLimiter, with the offline centre as fallback.

    After `max_consecutive_failures` failed requests in a row (no network, service down) it stops asking and
    uses the fallback for the rest of the run, so that an import of thousands of addresses does not wait on
    timeouts. Answers further than `max_distance_km` from the street's centre are rejected (a road of the same
    name in another city).
    """

    online = True

    def __init__(
        self,
        geocoder: Any,
        *,
        min_delay_seconds: float = 1.0,
        max_retries: int = 1,
        error_wait_seconds: float = 2.0,
        max_consecutive_failures: int = 3,
        max_distance_km: float = 30.0,
        query_kwargs: dict | None = None,
        fallback: Geocoder | None = None,
    ) -> None:
        from geopy.extra.rate_limiter import RateLimiter

        self.geocoder = geocoder
        self._geocode: Callable[..., Any] = RateLimiter(
            geocoder.geocode,
            min_delay_seconds=min_delay_seconds,
            max_retries=max_retries,
            error_wait_seconds=error_wait_seconds,
            swallow_exceptions=False,
        )
        self.max_consecutive_failures = max_consecutive_failures
        self.max_distance_km = max_distance_km
        self.query_kwargs = dict(query_kwargs or {})
        self.fallback = fallback or OfflineGeocoder()
        self.failures = 0
        self.consecutive_failures = 0
        self.disabled = False
        self.requests = 0
        self._cache: dict[tuple[str, str], tuple[float, float] | None] = {}

    def locate(self, address: str, street: Place, community: Place | None = None) -> Location:
        key = (address.strip(), street.name)
        if key not in self._cache:
            if self.disabled:
                return self.fallback.locate(address, street, community)
            found = self._ask(key[0], street)
            if found is _FAILED:
                return self.fallback.locate(address, street, community)
            self._cache[key] = found
        found = self._cache[key]
        if found is None:
            return self.fallback.locate(address, street, community)
        return Location(found[0], found[1], approximate=False, source="geocoder")

    def _ask(self, query: str, street: Place):
        from geopy.exc import GeopyError

        self.requests += 1
        try:
            answer = self._geocode(query, exactly_one=True, **self.query_kwargs)
        except (GeopyError, OSError, ValueError) as error:
            self.failures += 1
            self.consecutive_failures += 1
            log.warning("geocoder_failed", error=str(error), failures=self.consecutive_failures)
            if self.consecutive_failures >= self.max_consecutive_failures:
                self.disabled = True
                log.warning("geocoder_disabled", reason="too many failures in a row; using street centres")
            return _FAILED
        self.consecutive_failures = 0
        if answer is None:
            return None
        if isinstance(answer, list):
            answer = answer[0] if answer else None
            if answer is None:
                return None
        lat, lon = float(answer.latitude), float(answer.longitude)
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        if street.has_centre and distance_km(lat, lon, street.lat, street.lon) > self.max_distance_km:
            log.info("geocoder_answer_too_far", street=street.name)
            return None
        return (lat, lon)


_FAILED = object()


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, a)))


def make_geocoder(settings) -> Geocoder:
    """The geocoder chosen by settings.geocoder (GEOCODER): `offline` (default) or `nominatim`."""
    kind = (settings.geocoder or "offline").strip().lower()
    if kind == "offline":
        return OfflineGeocoder()
    if kind == "nominatim":
        from geopy.geocoders import Nominatim

        region = (getattr(settings, "default_region", "") or "").lower()
        return GeopyGeocoder(
            Nominatim(user_agent=settings.geocoder_user_agent, timeout=10),
            query_kwargs={"country_codes": region} if region else {},
        )
    raise ValueError(f"GEOCODER must be one of {', '.join(GEOCODERS)}, not {settings.geocoder!r}")
