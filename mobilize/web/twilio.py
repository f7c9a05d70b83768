"""Twilio's webhooks. Both check X-Twilio-Signature against PUBLIC_BASE_URL + path (what Twilio signed, whatever
proxies sit between): a missing or wrong signature gets 403 and changes nothing.

Inbound SMS are stored first (unique on MessageSid, so Twilio's retries change nothing), then queued for
processing; the answer is an empty TwiML response at once, also while every worker is down: replies go through
the outbox.
"""
from __future__ import annotations

import structlog
from flask import Blueprint, Response, abort, request
from redis.exceptions import RedisError
from sqlalchemy.dialects import postgresql, sqlite
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from mobilize.models import InboundMessage
from mobilize.models._types import utcnow
from mobilize.sms import outbox
from mobilize.web import db, runtime

log = structlog.get_logger(__name__)
blueprint = Blueprint("twilio", __name__, url_prefix="/twilio")
EMPTY_TWIML = str(MessagingResponse())


def signed_url() -> str:
    """The URL Twilio signed: our public base URL, this path and the query string as sent."""
    query = request.query_string.decode()
    return runtime().settings.public_base_url + request.path + (f"?{query}" if query else "")


def require_twilio_signature() -> None:
    token = runtime().settings.twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature or not RequestValidator(token).validate(signed_url(), request.form, signature):
        log.warning("twilio.bad_signature", path=request.path, remote=request.remote_addr)
        abort(403)


@blueprint.post("/sms")
def inbound_sms():
    require_twilio_signature()
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    if not sid or "From" not in form:
        abort(400, "MessageSid and From are required")
    session = db()
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)
    result = session.execute(insert(InboundMessage).values(
        message_sid=sid, from_phone=form["From"][:20], to_phone=form.get("To", "")[:20],
        body=form.get("Body", ""), received_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["message_sid"]).returning(InboundMessage.id))
    inbound_id = result.scalar()
    session.commit()
    if inbound_id is None:
        log.info("twilio.inbound_duplicate", message_sid=sid)
    else:
        _queue_processing(inbound_id)
    return Response(EMPTY_TWIML, mimetype="application/xml")


def _queue_processing(inbound_id: int) -> None:
    from workers.sms import process_inbound
    from workers.queues import HIGH, queue

    try:
        queue(HIGH, runtime().redis).enqueue(process_inbound, inbound_id, job_timeout=60, failure_ttl=86400)
    except (RedisError, OSError, RuntimeError) as error:
        # Stored, so not lost: the reconciler queues unprocessed messages when Redis is back.
        log.warning("twilio.inbound_queue_deferred", inbound_id=inbound_id, error=str(error))


@blueprint.post("/status")
def delivery_status():
    require_twilio_signature()
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not status:
        abort(400, "MessageSid and MessageStatus are required")
    message_id = request.args.get("mid", type=int)
    error_code = form.get("ErrorCode", type=int)
    changed = outbox.apply_status_callback(db(), message_id, sid, status, error_code)
    db().commit()
    log.debug("twilio.status", message_sid=sid, status=status, changed=changed)
    return Response(status=204)
