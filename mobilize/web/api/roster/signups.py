"""Sign-ups over HTTP: an officer books a volunteer on a shift (or its waitlist), lists and cancels sign-ups,
and records attendance: check-in, check-out (a pending service record), late, no-show."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mobilize.models import Post, ServiceRecord, Shift, ShiftSignup, Site
from mobilize.models._types import utcnow
from mobilize.peacetime import service, staffing
from mobilize.web import db
from mobilize.web.api import api
from mobilize.web.api.auth import current, token_auth
from mobilize.web.api.pagination import paginate
from mobilize.web.api.roster.access import (
    by_street,
    checked_assignee,
    checked_shift,
    checked_signup,
    require_writer,
)
from mobilize.web.api.roster.context import actor, aware, commit, roster_config
from mobilize.web.api.roster.views import record_view, signup_view
from mobilize.web.api.roster_schemas import (
    AtIn,
    LateIn,
    ServiceRecordOut,
    SignupCancelIn,
    SignupFilter,
    SignupIn,
    SignupOut,
    SignupPage,
)


@api.post("/shifts/<int:shift_id>/signups")
@api.auth_required(token_auth)
@api.input(SignupIn)
@api.output(SignupOut, status_code=201)
@api.doc(responses={403: "Viewers may not; officers only in their street, for their street's volunteers.",
                     409: "The shift is full or not open, or the volunteer is busy then."})
def create_signup(shift_id: int, json_data):
    """Book a volunteer (an officer assigns); 409 when full (unless `waitlist`) or when they are busy then."""
    require_writer()
    checked_shift(shift_id)
    checked_assignee(json_data["volunteer_id"])
    result = staffing.sign_up(db(), shift_id, json_data["volunteer_id"], actor=actor(), now=utcnow(),
                              cfg=roster_config(), source="officer" if current().is_officer else "api",
                              waitlist=json_data["waitlist"], notify=json_data["notify"])
    signup_id = result.signup.id
    commit()
    return signup_view(staffing.load_signup(db(), signup_id), result.outcome, result.position)


@api.get("/signups")
@api.auth_required(token_auth)
@api.input(SignupFilter, location="query")
@api.output(SignupPage)
@api.doc(responses={403: "An officer asked about another street."})
def list_signups(query_data):
    """Sign-ups by volunteer, shift, status or street (the shift's)."""
    statement = (select(ShiftSignup).join(Shift).join(Post).join(Site)
                 .options(selectinload(ShiftSignup.volunteer), selectinload(ShiftSignup.shift))
                 .order_by(Shift.starts_at, ShiftSignup.id))
    statement = by_street(statement, Site.street_id, query_data["street"])
    for key in ("volunteer_id", "shift_id", "status"):
        if query_data[key] is not None:
            statement = statement.where(getattr(ShiftSignup, key) == query_data[key])
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    return {"items": [signup_view(s) for s in items], "pagination": pagination}


@api.post("/signups/<int:signup_id>/cancel")
@api.auth_required(token_auth)
@api.input(SignupCancelIn)
@api.output(SignupOut)
@api.doc(responses={403: "Viewers may not; officers only in their street.",
                     409: "The sign-up has ended or its shift has started."})
def cancel_signup(signup_id: int, json_data):
    """Take a volunteer off a shift (or its waitlist) before it starts; the place goes to the waitlist."""
    require_writer()
    checked_signup(signup_id)
    staffing.cancel_signup(db(), signup_id, actor=actor(), now=utcnow(), cfg=roster_config(), by_officer=True,
                           reason=json_data["reason"])
    commit()
    return signup_view(staffing.load_signup(db(), signup_id))


@api.post("/signups/<int:signup_id>/check-in")
@api.auth_required(token_auth)
@api.input(AtIn)
@api.output(SignupOut)
@api.doc(responses={403: "Viewers may not; officers only in their street.",
                     409: "The volunteer is not booked, or check-in is not open now."})
def check_in(signup_id: int, json_data):
    """The volunteer arrived (late is recorded past the grace minutes)."""
    require_writer()
    checked_signup(signup_id)
    service.check_in(db(), signup_id, actor=actor(), now=utcnow(), cfg=roster_config(),
                     at=aware(json_data["at"]))
    commit()
    return signup_view(staffing.load_signup(db(), signup_id))


@api.post("/signups/<int:signup_id>/check-out")
@api.auth_required(token_auth)
@api.input(AtIn)
@api.output(ServiceRecordOut)
@api.doc(responses={403: "Viewers may not; officers only in their street.",
                     409: "The volunteer has not checked in."})
def check_out(signup_id: int, json_data):
    """The volunteer left: a pending service record (hours on site within the shift)."""
    require_writer()
    checked_signup(signup_id)
    record = service.check_out(db(), signup_id, actor=actor(), now=utcnow(), cfg=roster_config(),
                               at=aware(json_data["at"]))
    record_id = record.id
    commit()
    return record_view(db().get(ServiceRecord, record_id))


@api.post("/signups/<int:signup_id>/late")
@api.auth_required(token_auth)
@api.input(LateIn)
@api.output(SignupOut)
@api.doc(responses={403: "Viewers may not; officers only in their street.",
                     409: "Only someone who came can be late."})
def mark_late(signup_id: int, json_data):
    require_writer()
    checked_signup(signup_id)
    service.mark_late(db(), signup_id, json_data["minutes"], actor=actor(), now=utcnow())
    commit()
    return signup_view(staffing.load_signup(db(), signup_id))


@api.post("/signups/<int:signup_id>/no-show")
@api.auth_required(token_auth)
@api.output(SignupOut)
@api.doc(responses={403: "Viewers may not; officers only in their street.",
                     409: "The shift has not started, or the volunteer is not booked."})
def mark_no_show(signup_id: int):
    """A booked volunteer did not come (once the shift started); the place shows as a gap."""
    require_writer()
    checked_signup(signup_id)
    service.mark_no_show(db(), signup_id, actor=actor(), now=utcnow())
    commit()
    return signup_view(staffing.load_signup(db(), signup_id))
