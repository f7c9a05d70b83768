"""Notices over HTTP: draft -> preview -> send, list, read with delivery counts (thin views over
`mobilize.wartime.notices`). Commanders and admins reach every notice; a street officer drafts, previews, sends
and reads notices of their own street only (403 elsewhere); viewers read."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf
from sqlalchemy import select

from mobilize.domain.templates import LANGUAGES
from mobilize.models import Notice, Street
from mobilize.models._types import utcnow
from mobilize.wartime import notices
from mobilize.wartime.audit import Actor
from mobilize.web import db
from mobilize.web.api import api
from mobilize.web.api.auth import current, token_auth
from mobilize.web.api.fields import StrictBoolean
from mobilize.web.api.pagination import PageQuery, paginate
from mobilize.web.api.registry import PaginationOut
from mobilize.web.errors import ApiError


class TextsIn(Schema):
    zh = String(validate=Length(max=notices.MAX_TEXT))
    en = String(validate=Length(max=notices.MAX_TEXT))


class NoticeIn(Schema):
    texts = Nested(TextsIn, required=True, metadata={"description": "The text per language (at least one)."})
    streets = List(String(), load_default=None, allow_none=True,
                   metadata={"description": "Street names; none: the district (officers: their street)."})
    teams = List(String(), load_default=None, allow_none=True, metadata={"description": "Team names."})
    skills = List(String(), load_default=None, allow_none=True, metadata={"description": "Skill codes."})
    languages = List(String(validate=OneOf(list(LANGUAGES))), load_default=None, allow_none=True)
    include_provisional = StrictBoolean(load_default=False, metadata={
        "description": "Also unverified volunteers who joined by SMS."})
    note = String(load_default="", validate=Length(max=500))


class DeliveryOut(Schema):
    queued = Integer()
    sent = Integer()
    delivered = Integer()
    failed = Integer()
    cancelled = Integer()
    by_status = Dict(keys=String(), values=Integer())


class NoticeOut(Schema):
    id = Integer()
    state = String()
    texts = Dict(keys=String(), values=String())
    streets = List(String(), allow_none=True)
    team_ids = List(Integer(), allow_none=True)
    skills = List(String(), allow_none=True)
    languages = List(String(), allow_none=True)
    include_provisional = Boolean()
    note = String()
    created_by = String()
    created_at = DateTime()
    sent_at = DateTime(allow_none=True)
    recipients = Integer()
    segments = Integer()
    delivery = Nested(DeliveryOut)


class NoticePage(Schema):
    items = List(Nested(NoticeOut))
    pagination = Nested(PaginationOut)


class NoticePreviewOut(Schema):
    recipients = Integer()
    excluded = Dict(keys=String(), values=Integer())
    by_language = Dict(keys=String(), values=Integer())
    sms = Dict()
    texts = Dict(keys=String(), values=String())


def _actor() -> Actor:
    principal = current()
    return Actor.user(principal.username, principal.user_id)


def _officer_street() -> int | None:
    principal = current()
    if principal.can_command:
        return None
    if principal.is_officer:
        return principal.street_id
    raise ApiError(403, "only admins, commanders and street officers may do this", code="forbidden")


def _read_scope() -> int | None:
    principal = current()
    return principal.street_id if principal.is_officer else None


def notice_view(notice: Notice) -> dict:
    streets = None
    if notice.street_ids is not None:
        names = dict(db().execute(select(Street.id, Street.name).where(Street.id.in_(notice.street_ids))).all())
        streets = [names.get(street_id, str(street_id)) for street_id in notice.street_ids]
    return {"id": notice.id, "state": notice.state.value, "texts": notice.texts, "streets": streets,
            "team_ids": notice.team_ids, "skills": notice.skill_codes, "languages": notice.languages,
            "include_provisional": notice.include_provisional, "note": notice.note,
            "created_by": notice.created_by, "created_at": notice.created_at, "sent_at": notice.sent_at,
            "recipients": notice.recipients, "segments": notice.segments,
            "delivery": notices.delivery(db(), notice.id)}


@api.post("/notices")
@api.auth_required(token_auth)
@api.input(NoticeIn)
@api.output(NoticeOut, status_code=201)
@api.doc(responses={403: "Viewers may not; officers only to their street."})
def create_notice(json_data):
    """Draft a notice (no answer expected) to an audience by street, team, skill and language."""
    street = _officer_street()
    spec = notices.NoticeSpec(texts=json_data["texts"], streets=json_data["streets"], teams=json_data["teams"],
                              skills=json_data["skills"], languages=json_data["languages"],
                              include_provisional=json_data["include_provisional"], note=json_data["note"])
    notice = notices.create(db(), spec, _actor(), utcnow(), officer_street_id=street)
    db().commit()
    return notice_view(notice)


@api.get("/notices")
@api.auth_required(token_auth)
@api.input(PageQuery, location="query")
@api.output(NoticePage)
def list_notices(query_data):
    """Notices, newest first (a street officer: those of their street)."""
    statement = select(Notice).order_by(Notice.id.desc())
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    street = _read_scope()
    if street is not None:  # JSON lists do not filter portably in SQL; officers' lists are short
        everything = [n for n in db().scalars(select(Notice).order_by(Notice.id.desc())) if n.street_ids == [street]]
        page, per_page = query_data["page"], query_data["per_page"]
        items = everything[(page - 1) * per_page:page * per_page]
        pages = max(1, -(-len(everything) // per_page))
        pagination = {"page": page, "per_page": per_page, "total": len(everything), "pages": pages,
                      "next": page + 1 if page < pages else None, "prev": page - 1 if page > 1 else None}
    return {"items": [notice_view(n) for n in items], "pagination": pagination}


@api.get("/notices/<int:notice_id>")
@api.auth_required(token_auth)
@api.output(NoticeOut)
@api.doc(responses={403: "The notice is not of the officer's street."})
def get_notice(notice_id: int):
    """A notice with its delivery counts from the outbox."""
    notice = notices.get(db(), notice_id)
    notices.check_scope(notice, _read_scope())
    return notice_view(notice)


@api.get("/notices/<int:notice_id>/preview")
@api.auth_required(token_auth)
@api.output(NoticePreviewOut)
@api.doc(responses={403: "The notice is not of the officer's street."})
def preview_notice(notice_id: int):
    """How many get it, how many are left out and why, and the SMS cost (segments)."""
    notice = notices.get(db(), notice_id)
    notices.check_scope(notice, _read_scope())
    return notices.preview(db(), notice)


@api.post("/notices/<int:notice_id>/send")
@api.auth_required(token_auth)
@api.output(NoticeOut)
@api.doc(responses={403: "Viewers may not; officers only their street's notices.",
                     409: "The notice was already sent (nothing more is sent)."})
def send_notice(notice_id: int):
    """Queue the notice in the outbox (priority bulk), once: a second send is a 409 and sends nothing."""
    street = _officer_street()
    notices.send(db(), notice_id, _actor(), utcnow(), officer_street_id=street)
    db().commit()
    return notice_view(notices.get(db(), notice_id))
