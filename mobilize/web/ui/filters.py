"""What templates may call: phone masking by role, local times, names in the page's language, the nav."""
from __future__ import annotations

from flask import Flask
from flask_babel import format_datetime
from markupsafe import Markup

from mobilize.domain.phones import mask_phone, redact_phone_numbers
from mobilize.models import Street
from mobilize.web import db
from mobilize.web.errors import is_api_request
from mobilize.web.ui import i18n
from mobilize.web.ui.access import ServiceUnavailable, current_principal

def sees_phones() -> bool:
    principal = current_principal()
    return principal is not None and principal.sees_phone_numbers


def phone(number: str | None) -> str:
    """The number in clear for roles that call people, masked (138****1234) for the others."""
    if not number:
        return ""
    return number if sees_phones() else mask_phone(number)


def phone_link(number: str | None) -> Markup:
    """A tap-to-call link for roles that call people; the masked number, not a link, for the others."""
    if not number:
        return Markup("")
    if not sees_phones():
        return Markup('<span class="phone">{}</span>').format(mask_phone(number))
    return Markup('<a class="phone" href="tel:{0}">{0}</a>').format(number)


def redact(text: str | None) -> str:
    """Text that may contain phone numbers (an SMS body), masked for roles that must not see them."""
    if not text or sees_phones():
        return text or ""
    return redact_phone_numbers(text)


def localtime(value, pattern: str = "MM-dd HH:mm:ss") -> str:
    return format_datetime(value, pattern) if value is not None else ""


def role_name(code: str) -> str:
    """A role's name in the page's language, from its code."""
    from flask import g
    from sqlalchemy import select

    from mobilize.models import Role

    if "role_names" not in g:
        g.role_names = {role.code: role for role in db().scalars(select(Role))}
    role = g.role_names.get(code)
    return i18n.localized(role, "name_zh", "name_en") if role is not None else code


def _nav() -> dict:
    try:
        principal = None if is_api_request() else current_principal()
    except ServiceUnavailable:  # rendering the 503 page itself
        principal = None
    street = db().get(Street, principal.street_id) if principal is not None and principal.street_id else None
    return {"principal": principal, "principal_street": street, "language": i18n.current_language(),
            "languages": i18n.LANGUAGES, "role_label": lambda role: i18n.ROLE_LABELS[role.value]}


def register(app: Flask) -> None:
    app.add_template_filter(phone, "phone")
    app.add_template_filter(phone_link, "phone_link")
    app.add_template_filter(redact, "redact")
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(i18n.localized, "localized")
    app.add_template_filter(i18n.street_name, "street_name")
    app.add_template_filter(lambda kind: i18n.SITE_KIND_LABELS.get(kind.value, kind.value), "site_kind")
    app.add_template_filter(lambda state: i18n.OUTBOUND_STATUS_LABELS.get(state) or
                            i18n.INBOUND_STATE_LABELS.get(state, state), "message_state")
    app.add_template_filter(lambda state: i18n.ORDER_STATE_LABELS.get(getattr(state, "value", state), state),
                            "order_state")
    app.add_template_filter(lambda status: i18n.ASSIGNMENT_STATUS_LABELS.get(getattr(status, "value", status),
                                                                             status), "assignment_status")
    app.add_template_filter(lambda reason: i18n.EXCLUSION_LABELS.get(reason, reason), "exclusion")
    app.add_template_filter(lambda key: i18n.COUNT_LABELS.get(key, key), "count_label")
    app.add_template_filter(role_name, "role_name")
    app.add_template_filter(i18n.template_label, "sms_template")
    app.add_template_filter(i18n.recipient_status_label, "recipient_status")
    app.context_processor(_nav)
