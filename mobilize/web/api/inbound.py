"""Dead letters over HTTP: inbound messages whose processing failed too often (thin views over
`mobilize.sms.inbox`). Admins and commanders list them and retry one; viewers list them with phone numbers
masked; street officers get 403 (the messages are the whole district's)."""
from __future__ import annotations

import structlog
from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Integer, List, Nested, String
from redis.exceptions import RedisError

from mobilize import jobs
from mobilize.accounts import Principal
from mobilize.domain.phones import mask_phone, redact_phone_numbers
from mobilize.models import InboundMessage
from mobilize.models._types import utcnow
from mobilize.sms import inbox
from mobilize.wartime import audit
from mobilize.web import db, runtime
from mobilize.web.api import api
from mobilize.web.api.auth import current, require_command, token_auth
from mobilize.web.api.pagination import PageQuery, paginate
from mobilize.web.api.registry import PaginationOut
from mobilize.web.errors import ApiError

log = structlog.get_logger(__name__)


class DeadMessageOut(Schema):
    id = Integer(required=True)
    message_sid = String(required=True)
    from_phone = String(required=True, metadata={"description": "As Twilio sent it; masked for viewers."})
    to_phone = String(required=True)
    body = String(required=True, metadata={"description": "Phone numbers in it masked for viewers."})
    received_at = DateTime(required=True)
    volunteer_id = Integer(allow_none=True)
    attempts = Integer(required=True, metadata={"description": "Failed processing attempts."})
    last_error = String(required=True, allow_none=True,
                        metadata={"description": "The last attempt's error (exception type and message, "
                                                 f"at most {inbox.ERROR_KEPT} characters)."})
    dead_at = DateTime(required=True, allow_none=True,
                       metadata={"description": "When it was set aside; null once retried."})


class DeadMessagePage(Schema):
    items = List(Nested(DeadMessageOut), required=True)
    pagination = Nested(PaginationOut, required=True)


class RetryOut(Schema):
    message = Nested(DeadMessageOut, required=True)
    queued = Boolean(required=True, metadata={
        "description": "Queued now; false while Redis is unreachable (the requeue sweep queues it then)."})


def _reader() -> Principal:
    principal = current()
    if principal.is_officer:
        raise ApiError(403, "dead letters are the command center's (the whole district's messages)",
                       code="forbidden")
    return principal


def _masked_text(text: str | None) -> str | None:
    return redact_phone_numbers(text) if text else text


def dead_message_view(message: InboundMessage, principal: Principal) -> dict:
    clear = principal.sees_phone_numbers
    return {"id": message.id, "message_sid": message.message_sid,
            "from_phone": message.from_phone if clear else mask_phone(message.from_phone),
            "to_phone": message.to_phone, "body": message.body if clear else _masked_text(message.body),
            "received_at": message.received_at, "volunteer_id": message.volunteer_id,
            "attempts": message.attempts,
            "last_error": message.last_error if clear else _masked_text(message.last_error),
            "dead_at": message.dead_at}


@api.get("/inbound/dead")
@api.auth_required(token_auth)
@api.input(PageQuery, location="query")
@api.output(DeadMessagePage)
@api.doc(responses={403: "Street officers may not list the district's messages."})
def list_dead_inbound(query_data):
    """Inbound messages set aside after too many failed processing attempts, most recent first, with the
    last error. They are never processed again unless retried."""
    principal = _reader()
    items, pagination = paginate(db(), inbox.dead_messages(), query_data["page"], query_data["per_page"])
    return {"items": [dead_message_view(message, principal) for message in items], "pagination": pagination}


@api.post("/inbound/<int:inbound_id>/retry")
@api.auth_required(token_auth)
@api.output(RetryOut)
@api.doc(responses={403: "Only admins and commanders may retry a message.",
                    404: "No inbound message with this id.",
                    409: "The message is not dead (processed, or still being retried)."})
def retry_dead_inbound(inbound_id: int):
    """Clear a dead message's dead state and queue it once more (audited). Its attempts stay counted: if it
    fails again it is set aside again at once."""
    principal = require_command()
    session = db()
    try:
        message = inbox.revive(session, inbound_id)
    except inbox.NotDead as error:
        session.rollback()
        raise ApiError(409, f"inbound message {inbound_id} is {error}: only a dead message is retried",
                       code="not_dead") from None
    if message is None:
        session.rollback()
        raise ApiError(404, f"no inbound message {inbound_id}", code="not_found")
    audit.record(session, audit.Actor.user(principal.username, principal.user_id), "inbound_retried",
                 "inbound_message", inbound_id, utcnow(), attempts=message.attempts,
                 last_error=_masked_text(message.last_error))
    session.commit()
    queued = True
    try:
        jobs.queue_inbound(runtime().redis, inbound_id)
    except (RedisError, OSError) as error:
        queued = False  # no longer dead: the requeue sweep queues it when Redis is back
        log.warning("api.inbound_retry_queue_deferred", inbound_id=inbound_id, error=str(error))
    return {"message": dead_message_view(message, principal), "queued": queued}
