"""Open call over HTTP: publish an order openly (commanders), and verify a provisional volunteer on arrival
(commanders, or the officer of the volunteer's street or of a site they are sent to). Thin views over
`mobilize.wartime.open_call`."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Dict, Integer, String
from apiflask.validators import Length
from sqlalchemy import select

from mobilize.models import Assignment, Demand, Site
from mobilize.models._types import utcnow
from mobilize.wartime import open_call
from mobilize.wartime.audit import Actor
from mobilize.wartime.places import ACTIVE
from mobilize.web import db, runtime
from mobilize.web.api import api
from mobilize.web.api.auth import current, require_command, token_auth
from mobilize.web.api.fields import StrictBoolean
from mobilize.web.errors import ApiError


class OpenCallIn(Schema):
    open_call = StrictBoolean(required=True)


class OpenCallOut(Schema):
    order_id = Integer()
    reply_code = String()
    state = String()
    open_call = Boolean()
    announcement = Dict(keys=String(), values=String())


class VerifyIn(Schema):
    name = String(load_default=None, allow_none=True, validate=Length(min=1, max=60),
                  metadata={"description": "The name as on the ID, if the SMS one was wrong."})
    notes = String(load_default=None, allow_none=True, validate=Length(max=300))


class VerifiedOut(Schema):
    id = Integer()
    name = String()
    street_id = Integer()
    provisional = Boolean()
    location_approximate = Boolean()


def _actor() -> Actor:
    principal = current()
    return Actor.user(principal.username, principal.user_id)


@api.post("/orders/<int:order_id>/open-call")
@api.auth_required(token_auth)
@api.input(OpenCallIn)
@api.output(OpenCallOut)
@api.doc(responses={403: "Only admins and commanders publish orders.",
                     409: "The order cannot take sign-ups in its state."})
def set_open_call(order_id: int, json_data):
    """Publish the order openly: unregistered people may join by texting 报名 + its code (or stop that)."""
    require_command()
    order = open_call.set_open_call(db(), order_id, json_data["open_call"], _actor(), utcnow())
    db().commit()
    settings = runtime().settings
    return {"order_id": order.id, "reply_code": order.reply_code, "state": order.state.value,
            "open_call": order.open_call, "announcement": open_call.announcement(order, settings.twilio_from)}


@api.post("/volunteers/<int:volunteer_id>/verify")
@api.auth_required(token_auth)
@api.input(VerifyIn)
@api.output(VerifiedOut)
@api.doc(responses={403: "Viewers may not; officers only volunteers of their street or sent to it.",
                     409: "The volunteer is not provisional."})
def verify_volunteer(volunteer_id: int, json_data):
    """The person who joined by SMS was checked on arrival: no longer provisional. Officers: volunteers of their
    street, or sent to a site of their street."""
    principal = current()
    if not (principal.can_command or principal.is_officer):
        raise ApiError(403, "only admins, commanders and street officers may verify volunteers", code="forbidden")
    if principal.is_officer:
        from mobilize.models import Volunteer

        home = db().scalar(select(Volunteer.street_id).where(Volunteer.id == volunteer_id))
        sent_here = db().scalar(select(Assignment.id).join(Demand, Demand.id == Assignment.demand_id)
                                .join(Site, Site.id == Demand.site_id)
                                .where(Assignment.volunteer_id == volunteer_id,
                                       Assignment.status.in_(list(ACTIVE)),
                                       Site.street_id == principal.street_id).limit(1))
        if home is not None and home != principal.street_id and sent_here is None:
            raise ApiError(403, "officers verify volunteers of their street or sent to it", code="other_street")
    volunteer = open_call.verify_volunteer(db(), volunteer_id, _actor(), utcnow(), json_data["name"],
                                           json_data["notes"])
    db().commit()
    return {"id": volunteer.id, "name": volunteer.name, "street_id": volunteer.street_id,
            "provisional": volunteer.provisional, "location_approximate": volunteer.location_approximate}
