"""What Twilio checks before it accepts a message: phone numbers, senders, bodies, callback URLs; and its REST
errors (`ApiError`, with Twilio's error codes)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlparse

import phonenumbers

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
SHORT_CODE = re.compile(r"^\d{3,8}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
MAX_BODY = 1600


class ApiError(Exception):
    """A Twilio REST error: HTTP status, Twilio error code, message."""

    def __init__(self, status: int, code: int, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def to_json(self) -> dict:
        body = {"code": self.code, "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}", "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        return body


@lru_cache(maxsize=200_000)
def is_valid_number(number: str) -> bool:
    """E.164 and a valid number for its country (what Twilio checks before answering 21211)."""
    if not E164.match(number):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


def region_of(number: str) -> str:
    """The number's country code ("CN"), as Twilio's FromCountry/ToCountry; "" when unknown."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or ""
    except phonenumbers.NumberParseException:
        return ""


@dataclass(frozen=True)
class OutboundRequest:
    """A message request that passed Twilio's checks (POST Messages.json's form, cleaned)."""

    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    media: list[str]


def parse_outbound(form: Mapping[str, str], media: list[str] | None = None) -> OutboundRequest:
    """Validate POST Messages.json like Twilio, in Twilio's order; raises ApiError with Twilio's code."""
    to = (form.get("To") or "").strip()
    from_ = (form.get("From") or "").strip() or None
    service = (form.get("MessagingServiceSid") or "").strip() or None
    body = form.get("Body")
    callback = (form.get("StatusCallback") or "").strip() or None
    media = [url for url in (media or []) if url]
    if not to:
        raise ApiError(400, 21604, "A 'To' phone number is required.")
    if not is_valid_number(to):
        raise ApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if not from_ and not service:
        raise ApiError(400, 21603,
                       "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
    if service and not MESSAGING_SERVICE_SID.match(service):
        raise ApiError(400, 21701, f"The Messaging Service Sid {service} is invalid.")
    if from_ and not (E164.match(from_) or SHORT_CODE.match(from_) or ALPHANUMERIC_SENDER.match(from_)):
        raise ApiError(400, 21212, f"Invalid From Number (caller ID): {from_}")
    if from_ == to:
        raise ApiError(400, 21266, "'To' and 'From' number cannot be the same")
    if not body and not media and not form.get("ContentSid"):
        raise ApiError(400, 21602, "Message body is required.")
    body = body or ""
    if len(body) > MAX_BODY:
        raise ApiError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    if callback and urlparse(callback).scheme not in ("http", "https"):
        raise ApiError(400, 21609, f"The StatusCallback URL {callback} is not a valid URL.")
    return OutboundRequest(to=to, from_=from_, messaging_service_sid=service, body=body, status_callback=callback,
                           media=media)
