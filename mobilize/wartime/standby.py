"""The order's standby as the matching sees it: who accepted and may be placed now, and the optimal placement of
them on the open places (nothing written).

Below `dispatch` (which places them) and `waves` (which sizes a wave by what the standby cannot fill), so that
neither imports the other for these queries.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from mobilize.domain.matching import Candidate, MatchResult, Slot, match
from mobilize.models import (
    Assignment,
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
from mobilize.wartime.places import (  # noqa: F401  (OFFICER_RELEASE_REASON: re-exported)
    ACTIVE,
    OFFICER_RELEASE_REASON,
    off_standby_now,
)

# The aliases of the conditions below, made once: a fresh alias builds its column proxies on first use (~2 ms
# each), which made building the standby query cost more than running it (issue 15: ~20 ms per standby read,
# several reads per answer). Each alias appears at most once in any statement built here.
_PERSON = aliased(Volunteer)  # never correlated with a Volunteer of the enclosing query
_OTHER_ASSIGNMENT, _OTHER_ORDER = aliased(Assignment), aliased(Order)
_NO_SKILLS: frozenset[str] = frozenset()
_PLACEABLE: dict[tuple, Select] = {}  # (order id, window, roster policy) -> `_placeable_now`'s statement
_PLACEABLE_KEPT = 256
ALL_SKILLS = object()  # `_as_candidates`: read every skill of the candidates


def standby_filter(order_id: int, volunteer_id: int | None = None):
    """Invitations of this order's standby: accepted, reachable, neither placed nor taken out by an officer (a
    no-show or an officer's release). A volunteer whose dispatch timed out or who dropped out and then says yes
    again (the invitation is accepted again) is standby again. `volunteer_id`: only theirs (one answer's check)."""
    # The invitation's `off_standby` mark (kept by `places` with the assignments, issue 15) narrows the read to
    # the few waiting (index ix_invitations_order_standby) instead of every accepted invitation of the order (the
    # thousands placed, each probed against the order's assignments at every match, wave evaluation and sweep).
    # The assignments are still asked, for those few only: a mark the assignments contradict (an assignment
    # written around `places`) can never put someone on the standby twice.
    their_invitation = () if volunteer_id is None else (Invitation.volunteer_id == volunteer_id,)
    person = _PERSON
    reachable = exists().where(person.id == Invitation.volunteer_id, person.opted_out_at.is_(None),
                               person.phone_invalid.is_(False))
    return and_(Invitation.order_id == order_id, Invitation.status == InvitationStatus.accepted,
                Invitation.off_standby.is_(False), *their_invitation,
                ~off_standby_now(Invitation.order_id, Invitation.volunteer_id), reachable)


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
    return _as_candidates(session, _core_rows(session, _placeable_now(order)).all(), skills)


def _placeable_now(order: Order) -> Select:
    """`standby_candidates`' statement, built once per order and window: SQL expressions are immutable, and
    building one (its cache key included, computed once per statement object) cost several times as much as
    running it once the read touched only the waiting (issue 15: several standby reads per answer). Only the
    statement is kept, never what it reads: every read still asks the database."""
    key = (order.id, order.starts_at, order.ends_at, leaves_roster_alone(order))
    statement = _PLACEABLE.get(key)
    if statement is None:
        if len(_PLACEABLE) >= _PLACEABLE_KEPT:
            _PLACEABLE.clear()
        # issue 5: a standby volunteer the roster keeps (protected post, or any shift under `leave`) is not planned
        statement = _PLACEABLE[key] = _candidate_rows(standby_filter(order.id), ~busy_elsewhere(order),
                                                      ~blocked_by_roster(order))
    return statement


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


def _as_candidates(session: Session, rows, skills=ALL_SKILLS) -> list[Candidate]:
    """Matching candidates of `_candidate_rows` rows, in their order. `skills`: the (volunteer id, skill code) pairs
    to read, a superset of theirs (default: all theirs, by id; a set of codes: those of theirs; None: none read)."""
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
