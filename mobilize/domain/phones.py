"""Phone numbers: normalisation to E.164 with `phonenumbers`, and masking for people who need not see them."""
from __future__ import annotations

import re

import phonenumbers


class PhoneError(ValueError):
    """A phone number that cannot be used; the message says why."""


def normalise_phone(raw: str, default_region: str = "CN") -> str:
    """E.164 form of a phone number written in any common way; raises PhoneError naming the problem."""
    text = (raw or "").strip()
    if not text:
        raise PhoneError("phone number is empty")
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as error:
        raise PhoneError(f"not a phone number: {raw!r} ({error})") from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: str) -> str:
    """138****1234 style: keep the country code, the first three and the last four digits."""
    if not phone:
        return phone
    prefix = ""
    digits = phone
    if phone.startswith("+86"):
        prefix, digits = "+86", phone[3:]
    elif phone.startswith("+"):
        prefix, digits = phone[:3], phone[3:]
    if len(digits) <= 7:
        return prefix + "*" * len(digits)
    return f"{prefix}{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


_PHONE_IN_TEXT = re.compile(r"\+\d{10,15}")
# A Chinese mobile number written without the country code, as people type it in free text: 13800138000,
# 138 0013 8000 or 138-0013-8000 (not inside a longer run of digits: an id or a time is not a phone number).
_BARE_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")


def mask_phone_numbers_in(text: str) -> str:
    """E.164 numbers in a text masked (logs, live events: what the service itself writes)."""
    return _PHONE_IN_TEXT.sub(lambda match: mask_phone(match.group(0)), text)


def redact_phone_numbers(text: str) -> str:
    """Every phone number a person may have written in a text (an SMS body, a notice, a title, a reason)
    masked: E.164 ones, and bare Chinese mobiles with or without spaces or dashes. The one rule for all that
    people who must not see phone numbers read, pages and API alike."""
    if not text:
        return text
    return _BARE_MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", mask_phone_numbers_in(text))
