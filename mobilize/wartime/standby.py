"""The order's standby as the matching sees it: who accepted and may be placed now, and the optimal placement of
them on the open places (nothing written).

Below `dispatch` (which places them) and `waves` (which sizes a wave by what the standby cannot fill), so that
neither imports the other for these queries.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from mobilize.domain.matching import Candidate, MatchResult, Slot, match
from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Invitation,
    InvitationStatus,
    Order,
    Skill,
    Volunteer,
    volunteer_skills,
)
from mobilize.peacetime.coexistence import blocked_by_roster, leaves_roster_alone
from mobilize.wartime.audience import WEIGHTS, order_slots
from mobilize.wartime.pacing_inputs import ages_s, stored_time
from mobilize.wartime.places import ACTIVE

OFFICER_RELEASE_REASON = "released_by_officer"  # takes the volunteer out of the order (they may ask to come back)
# The aliases of the conditions below, made once: a fresh alias builds its column proxies on first use (~2 ms
# each), which made building the standby query cost more than running it (issue 15: ~20 ms per standby read,
# several reads per answer). Each alias appears at most once in any statement built here.
_PERSON = aliased(Volunteer)  # never correlated with a Volunteer of the enclosing query
_OTHER_ASSIGNMENT, _OTHER_ORDER = aliased(Assignment), aliased(Order)
_NO_SKILLS: frozenset[str] = frozenset()
_PLACEABLE: dict[tuple, tuple] = {}  # (order id, window, roster policy) -> `_placeable_now`'s conditions
_PLACEABLE_KEPT = 256
ALL_SKILLS = object()  # `_candidates`: read every skill of the candidates


def standby_filter(order_id: int, volunteer_id: int | None = None):
    """Invitations of this order's standby: accepted, reachable, neither placed nor taken out by an officer (a
    no-show or an officer's release). A volunteer whose dispatch timed out or who dropped out and then says yes
    again (the invitation is accepted again) is standby again. `volunteer_id`: only theirs (one answer's check)."""
    # An anti-join on an uncorrelated subquery, not a NOT EXISTS per accepted invitation (issue 15): the order's
    # blocking assignments are read once (from index ix_assignments_order_volunteer_status alone) and every
    # accepted invitation is probed against them, so that only the few left (the standby, not the thousands
    # placed) reach the volunteer check. (volunteer_id is NOT NULL: NOT IN means "not among them".) For one
    # volunteer the subquery is narrowed to their assignments: SQLite would otherwise materialise the order's
    # thousands of blocking assignments to check one answer (a tenth of the drill's time in answers at 5,000
    # places).
    theirs = () if volunteer_id is None else (Assignment.volunteer_id == volunteer_id,)
    their_invitation = () if volunteer_id is None else (Invitation.volunteer_id == volunteer_id,)
    blocked = select(Assignment.volunteer_id).where(
        Assignment.order_id == order_id, *theirs,
        or_(Assignment.status.in_(list(ACTIVE) + [AssignmentStatus.no_show]),
            and_(Assignment.status == AssignmentStatus.released,
                 Assignment.end_reason == OFFICER_RELEASE_REASON)))
    person = _PERSON
    reachable = exists().where(person.id == Invitation.volunteer_id, person.opted_out_at.is_(None),
                               person.phone_invalid.is_(False))
    return and_(Invitation.order_id == order_id, Invitation.status == InvitationStatus.accepted, *their_invitation,
                Invitation.volunteer_id.not_in(blocked), reachable)


def standby_count(session: Session, order_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Invitation).where(standby_filter(order_id)))


def busy_elsewhere(order: Order):
    """The volunteer (of the enclosing query) holds a place in another order whose window overlaps this one:
    nobody is sent to two places at once (they may have said yes to both)."""
    other, other_order = _OTHER_ASSIGNMENT, _OTHER_ORDER
    return exists().where(other.volunteer_id == Volunteer.id, other.order_id != order.id,
                          other.status.in_(list(ACTIVE)), other_order.id == other.order_id,
                          other_order.starts_at < order.ends_at, other_order.ends_at > order.starts_at)


def standby_candidates(session: Session, order: Order, slots: Collection[Slot] | None = None) -> list[Candidate]:
    """Standby volunteers who can be placed now, as matching candidates (with their skill codes), in id order.
    `slots`: the places they are matched to; only the skills these require are read (the others change no
    placement; none required: no read of skills at all), None: all their skills."""
    required = None if slots is None else frozenset(s.required_skill for s in slots) - {None}
    skills = ALL_SKILLS if required is None else (required or None)
    return _candidates(session, order, *_placeable_now(order), skills=skills)


def _placeable_now(order: Order) -> tuple:
    """The conditions of `standby_candidates`, built once per order and window: SQL expressions are immutable and
    building these cost about as much as running them (several standby reads per answer, issue 15). Only the
    statement is kept, never what it reads: every read still asks the database."""
    key = (order.id, order.starts_at, order.ends_at, leaves_roster_alone(order))
    conditions = _PLACEABLE.get(key)
    if conditions is None:
        if len(_PLACEABLE) >= _PLACEABLE_KEPT:
            _PLACEABLE.clear()
        # issue 5: a standby volunteer the roster keeps (protected post, or any shift under `leave`) is not planned
        conditions = _PLACEABLE[key] = (standby_filter(order.id), ~busy_elsewhere(order), ~blocked_by_roster(order))
    return conditions


@dataclass(frozen=True)
class Pending:
    """The invitees of the current wave interval who have not answered yet (`pending_invitees`)."""

    candidates: list[Candidate]  # in volunteer id order
    invited_s_ago: dict[int, float]  # volunteer id -> seconds since their invitation (`pacing_inputs.ages_s`)


def pending_candidates(session: Session, order: Order, now: datetime, skills: Collection[str] | None = None
                       ) -> list[Candidate]:
    """Invitees of the current wave interval who have not answered yet, as matching candidates: the answers that
    may still come (older silence counts as a no, as for the waves). `skills`: only these of theirs are read
    (the skills the open places require: the others change no placement), None: all."""
    return pending_invitees(session, order, now, skills).candidates


def pending_invitees(session: Session, order: Order, now: datetime, skills: Collection[str] | None = None
                     ) -> Pending:
    """`pending_candidates` with their invitations' ages, from one read (ten thousand invitees per batch at
    district scale, issue 15: the hold-back's answer chances read them a second time)."""
    since = now - timedelta(seconds=order.wave_interval_s)
    pending = (Invitation.order_id == order.id, Invitation.status == InvitationStatus.invited,
               Invitation.invited_at > since)
    # their skills by a join on the same conditions rather than a list of ten thousand ids (an answer meanwhile
    # only changes whose skills are read too many)
    held = (select(volunteer_skills.c.volunteer_id, Skill.code)
            .join(Skill, Skill.id == volunteer_skills.c.skill_id)
            .join(Invitation, Invitation.volunteer_id == volunteer_skills.c.volunteer_id).where(*pending))
    if skills is not None:
        held = held.where(Skill.code.in_(sorted(skills))) if skills else None
    sqlite = session.get_bind().dialect.name == "sqlite"
    rows = _core_rows(session, _candidate_rows(*pending).add_columns(stored_time(Invitation.invited_at, sqlite))
                      ).all()
    if not rows:
        return Pending([], {})
    ids = [row[0] for row in rows]
    ages = dict(zip(ids, ages_s(now, [row[-1] for row in rows], sqlite).tolist()))
    return Pending(_as_candidates(session, [row[:-1] for row in rows], held), ages)


def _core_rows(session: Session, statement):
    """`statement` run on the session's connection, after the autoflush the ORM would have done: plain rows,
    without the ORM's row processing (thousands of pending invitees per batch at 100k volunteers, 5,000 places)."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement)


def _candidate_rows(*where):
    return (select(Volunteer.id, Volunteer.lat, Volunteer.lon, Volunteer.street_id, Volunteer.provisional)
            .join(Invitation, Invitation.volunteer_id == Volunteer.id)
            .where(*where, Volunteer.lat.is_not(None), Volunteer.lon.is_not(None))
            .order_by(Volunteer.id))


def _candidates(session: Session, order: Order, *where, skills=ALL_SKILLS) -> list[Candidate]:
    """Matching candidates of the volunteers `where` selects (on Volunteer joined with Invitation), in id order.
    `skills`: the (volunteer id, skill code) pairs to read, a superset of theirs (default: all theirs, by id;
    a set of codes: those of theirs; None: none read)."""
    return _as_candidates(session, _core_rows(session, _candidate_rows(*where)).all(), skills)


def _as_candidates(session: Session, rows, skills=ALL_SKILLS) -> list[Candidate]:
    """Candidates of `_candidate_rows` rows, with the skills `skills` reads (see `_candidates`)."""
    if not rows:
        return []
    if skills is ALL_SKILLS or isinstance(skills, frozenset):
        codes = () if skills is ALL_SKILLS else (Skill.code.in_(sorted(skills)),)
        skills = (select(volunteer_skills.c.volunteer_id, Skill.code)
                  .join(Skill, Skill.id == volunteer_skills.c.skill_id)
                  .where(volunteer_skills.c.volunteer_id.in_([row[0] for row in rows]), *codes))
    held: dict[int, set[str]] = {}
    for volunteer_id, code in session.connection().execute(skills) if skills is not None else ():
        held.setdefault(volunteer_id, set()).add(code)
    codes = {volunteer_id: frozenset(found) for volunteer_id, found in held.items()}
    return [Candidate(vid, lat, lon, codes.get(vid, _NO_SKILLS), street_id, provisional)
            for vid, lat, lon, street_id, provisional in rows]


def solve(session: Session, order: Order) -> tuple[list[Slot], MatchResult]:
    """The optimal placement of the current standby on the current open places (nothing written)."""
    slots = order_slots(session, order, open_only=True)
    return slots, match(standby_candidates(session, order, slots), slots, WEIGHTS, order.max_distance_m)
