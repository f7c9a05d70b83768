"""Notices: a plain message from the command center (no answer expected) to an audience chosen by street, team,
skill and language. Draft -> preview (how many, who is left out and why, SMS and segments) -> send (once).

Sending writes one outbox row per recipient in one transaction, priority bulk, dedupe key
`notice:<notice>:volunteer:<volunteer>`: the shared senders, their rate limit and the opt-out rules apply as to
every other SMS, and a notice can never reach a volunteer twice. Sending a sent notice is a 409 that sends nothing.

Audience rules: filters of different kinds combine with AND, values of one kind with OR; no filter means the whole
district. Excluded, and counted by reason: opted out, invalid phone, and provisional volunteers (people who
joined one open call by SMS and were not verified) unless `include_provisional`. A volunteer whose language has no
text gets the other language's text.

Street officers may draft, preview, send and read notices for their own street only (a notice of an officer is
always limited to that street); viewers only read. Enforced by the API with `check_scope`.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, insert, select
from sqlalchemy.orm import Session

from mobilize.domain.district import find_street
from mobilize.domain.segments import segments as count_segments
from mobilize.domain.templates import LANGUAGES, render
from mobilize.domain.text_safety import clean_multiline
from mobilize.models import (
    Notice,
    NoticeState,
    OutboundMessage,
    OutboundStatus,
    Priority,
    Skill,
    Street,
    Team,
    Volunteer,
    volunteer_skills,
    volunteer_teams,
)
from mobilize.wartime import audit
from mobilize.wartime.errors import Conflict, NotFound, WartimeError

MAX_TEXT = 300  # characters of the command center's text (up to 5 UCS-2 segments with the wrapper)
KIND = "notice"
REASONS = ("opted_out", "phone_invalid", "provisional")


class InvalidNotice(WartimeError):
    status = 422
    code = "invalid_notice"


class Forbidden(WartimeError):
    status = 403
    code = "other_street"


@dataclass(frozen=True)
class NoticeSpec:
    texts: dict[str, str]
    streets: list[str] | None = None
    teams: list[str] | None = None
    skills: list[str] | None = None
    languages: list[str] | None = None
    include_provisional: bool = False
    note: str = ""


def dedupe_key(notice_id: int, volunteer_id: int) -> str:
    return f"notice:{notice_id}:volunteer:{volunteer_id}"


def key_prefix(notice_id: int) -> str:
    return f"notice:{notice_id}:"


def create(session: Session, spec: NoticeSpec, actor: audit.Actor, now: datetime,
           officer_street_id: int | None = None) -> Notice:
    """A draft notice; InvalidNotice names every problem. An officer's notice is limited to their street."""
    problems: dict[str, str] = {}
    texts = _check_texts(spec.texts, problems)
    street_ids = _resolve_streets(session, spec.streets, problems)
    team_ids = _resolve_teams(session, spec.teams, problems)
    skill_codes = _resolve_skills(session, spec.skills, problems)
    languages = None
    if spec.languages is not None:
        if not spec.languages or any(language not in LANGUAGES for language in spec.languages):
            problems["languages"] = f"languages must be a non-empty list of {', '.join(LANGUAGES)}"
        else:
            languages = sorted(set(spec.languages))
    if problems:
        raise InvalidNotice("invalid notice: " + "; ".join(f"{k}: {v}" for k, v in problems.items()),
                            details=problems)
    if officer_street_id is not None:
        if street_ids is None:
            street_ids = [officer_street_id]
        elif street_ids != [officer_street_id]:
            raise Forbidden("officers may send notices to their own street only",
                            details={"streets": spec.streets})
    notice = Notice(texts=texts, street_ids=street_ids, team_ids=team_ids, skill_codes=skill_codes,
                    languages=languages, include_provisional=bool(spec.include_provisional),
                    state=NoticeState.draft, note=(spec.note or "")[:500], created_by_id=actor.user_id,
                    created_by=actor.name, created_at=now, recipients=0, segments=0)
    session.add(notice)
    session.flush()
    audit.record(session, actor, "notice.created", "notice", notice.id, now, streets=street_ids, teams=team_ids,
                 skills=skill_codes, languages=languages, include_provisional=notice.include_provisional)
    return notice


def _check_texts(texts, problems: dict[str, str]) -> dict[str, str]:
    if not isinstance(texts, dict):
        problems["texts"] = "give the text per language, e.g. {\"zh\": \"...\"}"
        return {}
    cleaned = {}
    for language, value in texts.items():
        if language not in LANGUAGES:
            problems[f"texts.{language}"] = f"unknown language (use {', '.join(LANGUAGES)})"
            continue
        value = clean_multiline(value) if isinstance(value, str) else ""  # as Notice.texts will store it
        if not value:
            continue
        if len(value) > MAX_TEXT:
            problems[f"texts.{language}"] = f"at most {MAX_TEXT} characters (this one has {len(value)})"
        cleaned[language] = value
    if not cleaned and "texts" not in problems and not any(k.startswith("texts.") for k in problems):
        problems["texts"] = "a notice needs a text in at least one language"
    return cleaned


def _resolve_streets(session: Session, names, problems) -> list[int] | None:
    if names is None:
        return None
    ids, unknown = [], []
    for name in names:
        info = find_street(str(name))
        street_id = session.scalar(select(Street.id).where(Street.name == info.name)) if info else None
        (ids.append(street_id) if street_id else unknown.append(str(name)))
    if unknown or not names:
        problems["streets"] = f"unknown street(s): {', '.join(unknown)}" if unknown else "give at least one street"
    return sorted(set(ids))


def _resolve_teams(session: Session, names, problems) -> list[int] | None:
    if names is None:
        return None
    found = dict(session.execute(select(Team.name, Team.id).where(Team.name.in_([str(n) for n in names]))).all())
    unknown = [str(name) for name in names if str(name) not in found]
    if unknown or not names:
        problems["teams"] = f"unknown team(s): {', '.join(unknown)}" if unknown else "give at least one team"
    return sorted(set(found.values()))


def _resolve_skills(session: Session, codes, problems) -> list[str] | None:
    if codes is None:
        return None
    known = set(session.scalars(select(Skill.code)))
    unknown = [str(code) for code in codes if code not in known]
    if unknown or not codes:
        problems["skills"] = (f"unknown skill(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
                              if unknown else "give at least one skill")
    return sorted(set(codes))


def get(session: Session, notice_id: int, lock: bool = False) -> Notice:
    statement = select(Notice).where(Notice.id == notice_id)
    if lock:
        statement = statement.with_for_update()
    notice = session.scalar(statement)
    if notice is None:
        raise NotFound(f"no notice {notice_id}", details={"notice_id": notice_id})
    return notice


def check_scope(notice: Notice, officer_street_id: int | None) -> None:
    """An officer reaches only notices limited to their own street."""
    if officer_street_id is not None and notice.street_ids != [officer_street_id]:
        raise Forbidden("this notice is not limited to your street", details={"notice_id": notice.id})


# --- the audience -------------------------------------------------------------------------------------------------


def _audience(notice: Notice):
    statement = select(Volunteer.id, Volunteer.phone, Volunteer.language, Volunteer.opted_out_at.is_not(None),
                       Volunteer.phone_invalid, Volunteer.provisional).where(
        Volunteer.deactivated_at.is_(None)).order_by(Volunteer.id)  # deactivated: out of every audience
    if notice.street_ids is not None:
        statement = statement.where(Volunteer.street_id.in_(notice.street_ids))
    if notice.team_ids is not None:
        statement = statement.where(exists().where(volunteer_teams.c.volunteer_id == Volunteer.id,
                                                   volunteer_teams.c.team_id.in_(notice.team_ids)))
    if notice.skill_codes is not None:
        statement = statement.where(exists().where(volunteer_skills.c.volunteer_id == Volunteer.id,
                                                   volunteer_skills.c.skill_id == Skill.id,
                                                   Skill.code.in_(notice.skill_codes)))
    if notice.languages is not None:
        statement = statement.where(Volunteer.language.in_(notice.languages))
    return statement


def _reason(opted_out: bool, phone_invalid: bool, provisional: bool, include_provisional: bool) -> str | None:
    if opted_out:
        return "opted_out"
    if phone_invalid:
        return "phone_invalid"
    if provisional and not include_provisional:
        return "provisional"
    return None


def bodies(notice: Notice) -> dict[str, str]:
    """The SMS text per recipient language (a language without its own text gets the other one)."""
    result = {}
    for language in LANGUAGES:
        text_language = language if language in notice.texts else next(iter(notice.texts))
        result[language] = render(KIND, text_language, text=notice.texts[text_language])
    return result


def _recipients(session: Session, notice: Notice):
    excluded: Counter = Counter()
    chosen = []
    for volunteer_id, phone, language, opted_out, invalid, provisional in session.execute(_audience(notice)):
        reason = _reason(opted_out, invalid, provisional, notice.include_provisional)
        if reason:
            excluded[reason] += 1
        else:
            chosen.append((volunteer_id, phone, language if language in LANGUAGES else "zh"))
    return chosen, {reason: excluded.get(reason, 0) for reason in REASONS}


def preview(session: Session, notice: Notice) -> dict:
    """How many get it, how many are left out and why, and what it costs in SMS segments."""
    chosen, excluded = _recipients(session, notice)
    texts = bodies(notice)
    per_language = {language: count_segments(body) for language, body in texts.items()}
    by_language = Counter(language for _, _, language in chosen)
    segments = sum(per_language[language] * count for language, count in by_language.items())
    return {"recipients": len(chosen), "excluded": excluded,
            "by_language": {language: by_language.get(language, 0) for language in LANGUAGES},
            "sms": {"messages": len(chosen), "segments": segments, "segments_per_message": per_language},
            "texts": texts}


def send(session: Session, notice_id: int, actor: audit.Actor, now: datetime,
         officer_street_id: int | None = None) -> Notice:
    """Queue the notice for everyone in the audience, once (409 if already sent)."""
    notice = get(session, notice_id, lock=True)
    check_scope(notice, officer_street_id)
    if notice.state is not NoticeState.draft:
        raise Conflict(f"notice {notice.id} was already sent at {notice.sent_at.isoformat()}; nothing more is sent",
                       code="already_sent", details={"notice_id": notice.id, "state": notice.state.value})
    chosen, excluded = _recipients(session, notice)
    texts = bodies(notice)
    sizes = {language: count_segments(body) for language, body in texts.items()}
    already = set(session.scalars(select(OutboundMessage.volunteer_id)
                                  .where(OutboundMessage.dedupe_key.startswith(key_prefix(notice.id)))))
    rows = [{"volunteer_id": volunteer_id, "to_phone": phone, "body": texts[language], "kind": KIND,
             "priority": Priority.bulk, "segments": sizes[language], "status": OutboundStatus.pending,
             "dedupe_key": dedupe_key(notice.id, volunteer_id), "attempts": 0, "created_at": now}
            for volunteer_id, phone, language in chosen if volunteer_id not in already]
    if rows:
        session.execute(insert(OutboundMessage), rows)
        session.info.setdefault("queued_priorities", set()).add(Priority.bulk)  # kicks the bulk sender
    notice.state, notice.sent_at = NoticeState.sent, now
    notice.recipients = len(rows)
    notice.segments = sum(row["segments"] for row in rows)
    audit.record(session, actor, "notice.sent", "notice", notice.id, now, recipients=notice.recipients,
                 segments=notice.segments, excluded=excluded)
    return notice


def delivery(session: Session, notice_id: int) -> dict:
    """Counts of the notice's messages by outbox status, and grouped: queued / sent / delivered / failed."""
    rows = dict(session.execute(select(OutboundMessage.status, func.count())
                                .where(OutboundMessage.dedupe_key.startswith(key_prefix(notice_id)))
                                .group_by(OutboundMessage.status)).all())
    by_status = {status.value: int(rows.get(status, 0)) for status in OutboundStatus}
    return {"queued": by_status["pending"] + by_status["sending"] + by_status["queued"],
            "sent": by_status["sent"], "delivered": by_status["delivered"],
            "failed": by_status["failed"] + by_status["undelivered"], "cancelled": by_status["cancelled"],
            "by_status": by_status}
