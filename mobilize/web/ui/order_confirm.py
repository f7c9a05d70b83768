"""Say it before sending it (issue 10, item 4): every order action that sends SMS (launch, top up, stop recruiting,
finish, cancel) first shows what it will send, and only the confirm button of that step performs it. A draft is
edited and discarded from its page.

`GET /command/orders/<id>/confirm/<action>` renders `mobilize.wartime.previews.preview_action` for the viewer:
how many people get which message, recipients by status, SMS and segments, the estimated cost, the texts in each
language and the first recipients. It is a whole page without JavaScript; `static/confirm.js` asks for the same
URL with `X-Requested-With: fetch` and shows the fragment in a `<dialog>`. The preview runs the action in a
savepoint that is rolled back: nothing is written and nothing is sent. The confirm button POSTs (with the CSRF
token, and the top up's additions or the cancel's reason as hidden fields) to the action's route, which is the
only place the action happens.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from mobilize.live import COMMAND
from mobilize.models import Order, OrderState
from mobilize.models._types import utcnow
from mobilize.wartime import dispatch, drafts, lifecycle, previews
from mobilize.wartime.drafts import DemandSpec
from mobilize.wartime.errors import WartimeError
from mobilize.web import db, runtime
from mobilize.web.converters import is_row_id
from mobilize.web.ui import i18n
from mobilize.web.ui.access import COMMAND_ROLES, roles_required
from mobilize.web.ui.orders import (
    LOCAL_FORMAT,
    _actor,
    _order_action,
    _order_or_404,
    _problem_text,
    _render_form,
    _render_order,
    _zone,
    save_draft_form,
)
from mobilize.web.ui.blueprint import blueprint
from mobilize.web.ui.order_steps import STEPS, Step, available_steps, step_titles  # noqa: F401  (re-exported)

RECIPIENTS_SHOWN = 50  # the list in the confirmation stops here, with "and N more"


def step_explanations() -> dict[str, str]:
    return {
        "launch": _("The order opens: the first wave of invitations is written and sent, nearest volunteers "
                    "first. More waves follow only while places are open."),
        "top-up": _("The places below are added; matching goes on and more invitations follow if needed."),
        "stop-recruiting": _("No more invitations: those not yet sent are withdrawn. Volunteers on standby are "
                             "thanked; dispatched volunteers keep their places; nobody who never answered is "
                             "texted."),
        "finish": _("The hours of those who arrived are certified and they are thanked; those dispatched who "
                    "never arrived become no-shows."),
        "cancel": _("The order is called off: everyone dispatched, confirmed, on standby or who said yes is told. "
                    "Invitations nobody answered lapse without a message."),
        "discard": _("The draft is deleted. It was never sent: nobody gets an SMS. The audit trail keeps what "
                     "it was."),
    }


def confirm_labels(count: int) -> dict[str, str]:
    """The confirm button of each step, with the number of SMS it sends ("send 0 SMS" reads as a mistake: an
    action that texts nobody says so)."""
    if count == 0:
        return {"launch": _("Launch (no SMS)"), "top-up": _("Add the places (no SMS now)"),
                "stop-recruiting": _("Stop recruiting (no SMS)"), "finish": _("Finish (no SMS)"),
                "cancel": _("Cancel the order (no SMS)"), "discard": _("Discard the draft")}
    return {
        "launch": _("Launch and send %(count)d SMS", count=count),
        "top-up": _("Add the places (%(count)d SMS now)", count=count),
        "stop-recruiting": _("Stop recruiting and send %(count)d SMS", count=count),
        "finish": _("Finish and send %(count)d SMS", count=count),
        "cancel": _("Cancel the order and send %(count)d SMS", count=count),
        "discard": _("Discard the draft"),
    }


# --- the preview, shaped for the page ------------------------------------------------------------------------


@dataclass
class TemplateRow:
    template: str
    label: str
    count: int
    segments: int
    samples: list[dict] = field(default_factory=list)  # one message per language: language, text, segments


@dataclass
class Shown:
    """What the confirmation shows, from an ActionPreview."""

    sms_count: int
    segments: int
    estimated_cost: float
    currency: str
    price_per_segment: float | None
    templates: list[TemplateRow]
    statuses: list[tuple[str, str, int]]  # (status, label, count)
    recipients: list[dict]
    more: int
    effects: dict = field(default_factory=dict)  # what an ending does besides texting (no-shows, hours...)
    deadline: dict | None = None  # launch: the deadline's trade-off


template_label = i18n.template_label
status_label = i18n.recipient_status_label


def shape(preview) -> Shown:
    messages = list(preview.messages)
    by_template = dict(preview.by_template)
    rows: dict[str, TemplateRow] = {}
    for message in messages:
        name = message["template"]
        row = rows.get(name)
        if row is None:
            row = rows[name] = TemplateRow(name, template_label(name), by_template.get(name, 0), 0)
        row.segments += int(message.get("segments") or 0)
        if not any(sample["language"] == message.get("language") for sample in row.samples):
            row.samples.append({"language": message.get("language") or "zh", "text": message.get("text", ""),
                                "segments": message.get("segments")})
    for name, count in by_template.items():  # a template counted but with no message listed (never expected)
        rows.setdefault(name, TemplateRow(name, template_label(name), count, 0))
    for row in rows.values():
        row.samples.sort(key=lambda sample: (sample["language"] != "zh", sample["language"]))
    statuses = [(status, status_label(status), count)
                for status, count in sorted(dict(preview.recipients_by_status).items(), key=lambda kv: -kv[1])]
    recipients = sorted(messages, key=lambda m: (m["template"], m.get("name") or ""))
    price = getattr(preview, "price_per_segment", None)
    return Shown(sms_count=int(preview.sms_count), segments=int(preview.segments),
                 estimated_cost=float(preview.estimated_cost), currency=preview.currency,
                 price_per_segment=float(price) if price is not None else None,
                 templates=sorted(rows.values(), key=lambda row: -row.count), statuses=statuses,
                 recipients=recipients[:RECIPIENTS_SHOWN], more=max(0, len(recipients) - RECIPIENTS_SHOWN),
                 effects=dict(getattr(preview, "effects", {}) or {}), deadline=getattr(preview, "deadline", None))


# --- the form's arguments ----------------------------------------------------------------------------------


def additions_from(form) -> list[DemandSpec]:
    """The places a commander typed in the top up form (add-<site>-<role>, or another site and role)."""
    additions = []
    for key, raw in form.items(multi=True) if isinstance(form, MultiDict) else form.items():
        if key.startswith("add-") and raw.strip():
            _prefix, site_id, role = key.split("-", 2)
            if raw.strip().isdecimal() and int(raw) > 0 and is_row_id(site_id):  # int() refuses "²", a digit
                additions.append(DemandSpec(int(site_id), role, int(raw)))
    extra_site, extra_count = form.get("new_site_role", ""), (form.get("new_add") or "").strip()
    if extra_site and extra_count.isdecimal() and int(extra_count) > 0:
        site_id, _sep, role = extra_site.partition(":")
        if is_row_id(site_id):
            additions.append(DemandSpec(int(site_id), role, int(extra_count)))
    return additions


def reason_from(form) -> str | None:
    return (form.get("reason") or "").strip()[:200] or None


def _carried(step: Step, form) -> list[tuple[str, str]]:
    """The fields the confirm form posts again (the top up's places, the cancel's reason)."""
    if step.slug == "top-up":
        return [(f"add-{d.site_id}-{d.role}", str(d.capacity)) for d in additions_from(form)]
    if step.slug == "cancel" and reason_from(form):
        return [("reason", reason_from(form))]
    return []


def _preview_args(step: Step, form) -> dict:
    """What preview_action needs besides the action: the configured price, the top up's places (and the
    matching's hold-back, as the workers run it), the cancel's reason."""
    settings = runtime().settings
    args = {"price_per_segment": settings.sms_price_per_segment, "currency": settings.sms_currency}
    if step.slug == "top-up":
        args["additions"] = additions_from(form)
        args["hold_max_s"] = dispatch.hold_max_s(settings)  # as the API's preview: the hold-back the workers apply
    if step.slug == "cancel":
        args["reason"] = reason_from(form)
    return args


# --- the confirmation step --------------------------------------------------------------------------------


@blueprint.get("/command/orders/<int:order_id>/confirm/<action>")
@roles_required(*COMMAND_ROLES)
def order_confirm(order_id: int, action: str):
    """What the action will send, and its one confirm button. Writes nothing."""
    step = STEPS.get(action)
    if step is None:
        abort(404)
    order = _order_or_404(order_id)
    fragment = request.headers.get("X-Requested-With") == "fetch"
    problem, shown, status = None, None, 200
    if step.slug == "top-up" and not additions_from(request.args):
        problem, status = _("Give at least one place to add."), 422
    elif step.slug not in available_steps(order):
        problem, status = _("This is not possible in the order's current state.") + f" ({order.state.value})", 409
    elif step.preview is not None:
        session = db()
        try:
            preview = previews.preview_action(session, order_id, step.preview, utcnow(), zone=_zone(),
                                              **_preview_args(step, request.args))
        except WartimeError as error:
            problem, status = _problem_text(error), error.status
        else:
            shown = shape(preview)
        finally:
            session.rollback()  # the savepoint is gone; this ends the transaction and its locks
            session.expire_all()
        order = _order_or_404(order_id)
    page = render_template(
        "_order_confirm.html" if fragment else "order_confirm.html", order=order, step=step, shown=shown,
        confirm_problem=problem, carried=_carried(step, request.args), titles=step_titles(),
        reason=reason_from(request.args) if step.slug == "cancel" else None,
        explanations=step_explanations(), confirm_labels=confirm_labels(shown.sms_count if shown else 0),
        additions=_describe(additions_from(request.args)) if step.slug == "top-up" else [],
        channel=COMMAND)
    return page, status


def _describe(additions: list[DemandSpec]) -> list[dict]:
    """The places to add, with the site's and the role's names."""
    from mobilize.models import Site
    from mobilize.web.ui.filters import role_name

    names = dict(db().execute(select(Site.id, Site.name).where(Site.id.in_({d.site_id for d in additions}))).all())
    return [{"site": names.get(d.site_id, str(d.site_id)), "role": role_name(d.role), "count": d.capacity}
            for d in additions]


# --- the actions this step confirms (launch, top up and cancel are in orders.py) -------------------------------


@blueprint.post("/command/orders/<int:order_id>/stop-recruiting")
@roles_required(*COMMAND_ROLES)
def order_stop_recruiting(order_id: int):
    return _order_action(order_id, lambda: lifecycle.stop_recruiting(db(), order_id, _actor(), utcnow(), _zone()),
                         _("Recruiting stopped: no more invitations; standby thanked, dispatched people keep "
                           "their places."))


@blueprint.post("/command/orders/<int:order_id>/finish")
@roles_required(*COMMAND_ROLES)
def order_finish(order_id: int):
    return _order_action(order_id, lambda: lifecycle.finish(db(), order_id, _actor(), utcnow(), _zone()),
                         _("Finished: hours are certified and those who came are thanked; thank-you SMS are "
                           "going out."))


# --- a draft: edit, discard ------------------------------------------------------------------------------------


def form_of(spec: drafts.OrderSpec, zone: str) -> MultiDict:
    """A draft's spec as the order form's fields (the inverse of orders._spec_from_form)."""
    from zoneinfo import ZoneInfo

    local = ZoneInfo(zone)

    def when(value: datetime) -> str:
        return value.astimezone(local).strftime(LOCAL_FORMAT)

    def number(value: float) -> str:
        return f"{value:g}"

    items = [("title", spec.title), ("starts_at", when(spec.starts_at)), ("ends_at", when(spec.ends_at)),
             ("max_distance_km", number(spec.max_distance_m / 1000) if spec.max_distance_m else ""),
             ("rest_hours", str(spec.rest_hours)), ("peacetime_policy", spec.peacetime_policy),
             ("expected_answer_rate", number(spec.expected_answer_rate * 100)),
             ("over_recruit_factor", number(spec.over_recruit_factor)),
             ("wave_interval_min", number(spec.wave_interval_s / 60)),
             ("confirmation_required", "1" if spec.confirmation_required else ""),
             ("confirmation_timeout_min", number(spec.confirmation_timeout_s / 60)),
             ("needed_by", when(spec.needed_by) if spec.needed_by else ""),
             ("urgent", "1" if spec.urgent else "")]
    items += [(f"cap-{d.site_id}-{d.role}", str(d.capacity)) for d in spec.demands]
    items += [("streets", name) for name in spec.streets or ()]
    items += [("languages", language) for language in spec.languages or ()]
    return MultiDict(items)


def _draft_or_409(order_id: int) -> Order:
    order = _order_or_404(order_id)
    if order.state is not OrderState.draft:
        abort(409, _("Only a draft can be edited or discarded; use top up, stop recruiting, finish or cancel "
                     "for a launched order."))
    return order


@blueprint.get("/command/orders/<int:order_id>/edit")
@roles_required(*COMMAND_ROLES)
def order_edit(order_id: int):
    order = _draft_or_409(order_id)
    form = form_of(drafts.spec_of(db(), order), _zone())
    return _render_form(form, {}, order=order)


@blueprint.post("/command/orders/<int:order_id>/edit")
@roles_required(*COMMAND_ROLES)
def order_update(order_id: int):
    order = _draft_or_409(order_id)

    def save(spec) -> int:
        changes = {name: getattr(spec, name) for name in drafts.EDITABLE}
        drafts.update_draft(db(), order_id, changes, _actor(), utcnow())
        return order_id

    return save_draft_form(save, order)


@blueprint.post("/command/orders/<int:order_id>/discard")
@roles_required(*COMMAND_ROLES)
def order_discard(order_id: int):
    order = _order_or_404(order_id)
    title, code = order.title, order.reply_code
    try:
        drafts.discard_draft(db(), order_id, _actor(), utcnow())
        db().commit()
    except WartimeError as error:
        db().rollback()
        db().expire_all()
        return _render_order(_order_or_404(order_id), _problem_text(error), error.status)
    flash(_("Draft #%(code)s %(title)s discarded.", code=code, title=title), "ok")
    return redirect(url_for("ui.command"), 303)

