"""What matching takes: accepted volunteers (`Candidate`), open places (`Slot`) and how a pair is priced
(`MatchWeights`). Their own module so that `matching` and its candidate lists (`candidates`) both use them
without importing each other; `mobilize.domain.matching` re-exports them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Candidate(NamedTuple):
    """An accepted volunteer waiting for a place. A named tuple, not a frozen dataclass: a match at district scale
    builds ten thousand of them (the pending invitees and their phantoms, issue 15), and a frozen dataclass's
    __init__ costs several times a named tuple's (0.74 against 0.24 us each, measured)."""

    volunteer_id: int
    lat: float
    lon: float
    skills: frozenset[str]
    street_id: int  # the volunteer's own street
    provisional: bool = False  # registered but not yet vetted: only for slots that accept such volunteers
    max_distance_m: float | None = None  # the farthest the volunteer is willing to go, if they said so


@dataclass(frozen=True)
class Slot:
    """The open part of one demand: `open_capacity` places at a site for a role."""

    demand_id: int
    site_lat: float
    site_lon: float
    street_id: int  # the site's street
    open_capacity: int  # capacity minus places already taken; a hard limit
    required_skill: str | None  # a skill code (district.SKILLS) every volunteer sent here must have
    accepts_provisional: bool = True


@dataclass(frozen=True)
class MatchWeights:
    """How a (volunteer, slot) pair is priced, in metres, before rounding to integer cost units.

    metres_per_unit: resolution of the integer costs the solver needs (1.0: whole metres). A coarser unit
        treats distances that differ by less as equal; it does not make the solver noticeably faster.
    other_street_penalty_m: added when the site is not in the volunteer's own street. Volunteers know their
        street, its officers know them, and the street board stays theirs: a site in another street must be
        this much nearer to win. With equal distances the own street always wins.
    skill_bonus_m: subtracted when the slot requires a skill (which the volunteer necessarily has). Placing as
        many as possible comes first anyway; when not every slot can be filled, a bonus fills skilled slots (a
        medical post) before unskilled ones (queue keeping) with the scarce skilled people. 0 by default.
    """

    metres_per_unit: float = 1.0
    other_street_penalty_m: float = 500.0
    skill_bonus_m: float = 0.0

    def __post_init__(self) -> None:
        if not self.metres_per_unit > 0:
            raise ValueError("metres_per_unit must be positive")
        if self.other_street_penalty_m < 0 or self.skill_bonus_m < 0:
            raise ValueError("penalty and bonus must not be negative")
