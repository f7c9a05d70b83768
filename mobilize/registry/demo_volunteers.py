"""The demo's volunteers, one at a time: name and phone, language, registration and opt-out dates, a home near
their community (sometimes only approximate, or unknown), skills at realistic rates, and one or two teams."""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone

from mobilize.registry.demo_district import DemoCommunity
from mobilize.registry.demo_geography import scatter
from mobilize.registry.demo_names import chinese_name, english_name
from mobilize.registry.demo_teams import Specialised

# (code, share of volunteers); volunteers who read English always have `english`.
SKILL_RATES: tuple[tuple[str, float], ...] = (
    ("medical", 0.05), ("first_aid", 0.08), ("data_entry", 0.15), ("driving", 0.08), ("english", 0.03),
    ("sign_language", 0.01), ("psychology", 0.02), ("electrician", 0.02),
)
MEDICS_WITH_FIRST_AID = 0.7  # extra first-aid skill among medical volunteers (first aid ~10% in all)

# Rates of the volunteer population.
ENGLISH_SPEAKERS = 0.03
LATIN_NAMES_AMONG_ENGLISH = 0.6
OPTED_OUT = 0.005
WITHOUT_COORDINATES = 0.005
APPROXIMATE_HOME = 0.02
SECOND_TEAM = 0.2
SKILLED_IN_SPECIALISED_TEAM = 0.5
HOME_RADIUS_KM = (0.1, 1.5)
REGISTERED_FROM = datetime(2019, 1, 1, tzinfo=timezone.utc)
REGISTRATION_DAYS = 3 * 365


class VolunteerMaker:
    """Draws volunteers from the seeded RNG: `phone` gives unique numbers, `skill_ids` are the skills known to
    the database (code -> id; a skill it does not know is never drawn)."""

    def __init__(self, rng: random.Random, phone: Callable[[], str], skill_ids: Mapping[str, int]) -> None:
        self.rng, self.phone, self.skill_ids = rng, phone, skill_ids

    def person(self, home: DemoCommunity,
               specialised: list[Specialised]) -> tuple[dict, list[str], list[int]]:
        """One volunteer: (row, skill codes, team ids)."""
        rng = self.rng
        english = rng.random() < ENGLISH_SPEAKERS
        latin = english and rng.random() < LATIN_NAMES_AMONG_ENGLISH
        registered = REGISTERED_FROM + timedelta(minutes=rng.randrange(REGISTRATION_DAYS * 24 * 60))
        opted_out = registered + timedelta(days=rng.randint(1, 90)) if rng.random() < OPTED_OUT else None
        lat, lon, approximate = self.home_coordinates(home)
        row = {"name": english_name(rng) if latin else chinese_name(rng), "phone": self.phone(),
               "street_id": home.street_id, "community_id": home.id, "lat": lat, "lon": lon,
               "location_approximate": approximate, "language": "en" if english else "zh",
               "opted_out_at": opted_out, "phone_invalid": False, "provisional": False, "notes": "",
               "created_at": registered, "updated_at": opted_out or registered}
        skills = self.skills(english)
        return row, skills, self.teams(home, skills, specialised)

    def home_coordinates(self, home: DemoCommunity) -> tuple[float | None, float | None, bool]:
        draw = self.rng.random()
        if draw < WITHOUT_COORDINATES:
            return None, None, False
        if draw < WITHOUT_COORDINATES + APPROXIMATE_HOME:
            return home.lat, home.lon, True
        return (*scatter(self.rng, home.lat, home.lon, HOME_RADIUS_KM), False)

    def skills(self, english: bool) -> list[str]:
        codes = [code for code, rate in SKILL_RATES
                 if code in self.skill_ids and (self.rng.random() < rate or (english and code == "english"))]
        if "medical" in codes and "first_aid" not in codes and self.rng.random() < MEDICS_WITH_FIRST_AID:
            codes.append("first_aid")
        return codes

    def teams(self, home: DemoCommunity, skills: list[str], specialised: list[Specialised]) -> list[int]:
        rng = self.rng
        first = rng.choice(home.team_ids)
        matching = [team_id for team_id, skill in specialised if skill in skills]
        if matching and rng.random() < SKILLED_IN_SPECIALISED_TEAM:
            return [first, rng.choice(matching)]
        if rng.random() < SECOND_TEAM:
            second = rng.choice(home.team_ids + [team_id for team_id, skill in specialised if skill is None])
            return [first] if second == first else [first, second]
        return [first]
