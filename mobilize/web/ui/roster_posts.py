"""A street's posts in the pages: list and create them, change one, add a weekly pattern (the coming weeks' shifts
are created at once, as the API does by default) or stop one. The calls are `mobilize.peacetime.posts` and
`generation`, as in `mobilize.web.api.roster.posts`; only admins and commanders mark a post protected (a wartime
order never strips it), as there. Bad input is named on the form (422) and nothing is written.
"""
from __future__ import annotations

from datetime import date, time

from babel.dates import get_day_names
from flask import abort, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mobilize.models import Post, Role, ShiftPattern, Site, Street
from mobilize.models._types import utcnow
from mobilize.peacetime import generation, posts
from mobilize.peacetime.errors import PeacetimeError
from mobilize.web import db
from mobilize.web.converters import is_row_id
from mobilize.web.ui.access import current_principal, login_required
from mobilize.web.ui.blueprint import blueprint
from mobilize.web.ui.roster import (
    actor,
    done,
    in_street,
    may_change,
    refused,
    require_change,
    roster_config,
    street_page,
    today,
)

MAX_NOTES = 500
MAX_NAME = 80  # Post.name


def weekday_names() -> list[tuple[str, str]]:
    """ISO weekday ("1" Monday .. "7") and its short name in the page's language."""
    names = get_day_names("abbreviated", locale=str(get_locale() or "zh"))
    return [(str(day + 1), names[day]) for day in range(7)]


def _post_in(street: Street, post_id: int) -> Post:
    post = db().scalar(select(Post).where(Post.id == post_id).options(
        selectinload(Post.site), selectinload(Post.role), selectinload(Post.patterns)))
    if post is None:
        abort(404)
    in_street(street, post.site.street_id)
    return post


def _choices(street: Street) -> dict:
    session = db()
    return {"sites": session.scalars(select(Site).where(Site.street_id == street.id).order_by(Site.name)).all(),
            "roles": session.scalars(select(Role).order_by(Role.id)).all()}


def _number(form, name: str, problems: dict, required: bool = True) -> int | None:
    raw = (form.get(name) or "").strip()
    if not raw and not required:
        return None
    if not raw.isdecimal() or not raw.isascii():
        problems[name] = _("Give a whole number.")
        return None
    return int(raw)


# --- the list and a new post ---------------------------------------------------------------------------------


@blueprint.get("/roster/<street>/posts")
@login_required
def roster_posts(street: str):
    row = street_page(street)
    return render_posts(row)


def render_posts(street: Street, form=None, problems: dict | None = None, status: int = 200):
    items = db().scalars(select(Post).join(Site).where(Site.street_id == street.id)
                         .options(selectinload(Post.site), selectinload(Post.role), selectinload(Post.patterns))
                         .order_by(Post.active.desc(), Site.name, Post.name)).all()
    return render_template("roster_posts.html", street=street, posts=items, form=form or {},
                           problems=problems or {}, may_change=may_change(),
                           may_protect=current_principal().can_command, weekdays=weekday_names(),
                           **_choices(street)), status


@blueprint.post("/roster/<street>/posts")
@login_required
def roster_create_post(street: str):
    row = street_page(street)
    require_change()
    form, problems = request.form, {}
    protected = form.get("protected") == "1"
    if protected and not current_principal().can_command:
        abort(403)  # only commanders mark a post protected, as at the API
    site_raw = (form.get("site_id") or "").strip()
    site = db().get(Site, int(site_raw)) if is_row_id(site_raw) else None
    if site is None:
        problems["site_id"] = _("Choose a site.")
    elif site.street_id != row.id:
        in_street(row, site.street_id)
    slots = _number(form, "slots", problems)
    notes = (form.get("notes") or "").strip()
    if len(notes) > MAX_NOTES:
        problems["notes"] = _("At most %(count)d characters.", count=MAX_NOTES)
    if problems:
        return render_posts(row, form, problems, 422)
    try:
        post = posts.create_post(db(), site_id=site.id, role=form.get("role") or "", slots=slots, actor=actor(),
                                 now=utcnow(), name=(form.get("name") or "").strip() or None,
                                 protected=protected, notes=notes)
    except PeacetimeError as error:
        return render_posts(row, form, {"_": refused(error)}, error.status)
    return done(_("Post %(name)s created. Add its weekly pattern below.", name=post.name),
                url_for("ui.roster_post", street=row.slug, post_id=post.id))


# --- one post ------------------------------------------------------------------------------------------------


@blueprint.get("/roster/<street>/posts/<int:post_id>")
@login_required
def roster_post(street: str, post_id: int):
    row = street_page(street)
    return render_post(row, _post_in(row, post_id))


def render_post(street: Street, post: Post, problems: dict | None = None, pattern_form=None, status: int = 200):
    return render_template("roster_post.html", street=street, post=post, problems=problems or {},
                           pattern_form=pattern_form or {}, may_change=may_change(),
                           may_protect=current_principal().can_command, weekdays=weekday_names(),
                           today=today()), status


@blueprint.post("/roster/<street>/posts/<int:post_id>")
@login_required
def roster_update_post(street: str, post_id: int):
    """Name, places per shift (the shifts already created keep theirs), notes, active; protected: commanders."""
    row = street_page(street)
    require_change()
    post = _post_in(row, post_id)
    form, problems = request.form, {}
    changes: dict = {"name": (form.get("name") or "").strip(), "notes": (form.get("notes") or "").strip(),
                     "active": form.get("active") == "1"}
    changes["slots"] = _number(form, "slots", problems)
    if "protected" in form or form.get("protected_shown") == "1":
        if not current_principal().can_command:
            abort(403)
        changes["protected"] = form.get("protected") == "1"
    if len(changes["notes"]) > MAX_NOTES:
        problems["notes"] = _("At most %(count)d characters.", count=MAX_NOTES)
    if not 1 <= len(changes["name"]) <= MAX_NAME:
        problems["name"] = _("A name of 1 to %(count)d characters.", count=MAX_NAME)
    if problems:
        return render_post(row, post, problems, status=422)
    changes = {key: value for key, value in changes.items() if getattr(post, key) != value}
    if not changes:
        return done(_("Nothing changed."), url_for("ui.roster_post", street=row.slug, post_id=post.id))
    try:
        posts.update_post(db(), post.id, actor=actor(), now=utcnow(), **changes)
    except PeacetimeError as error:
        return render_post(row, _post_in(row, post_id), {"_": refused(error)}, status=error.status)
    return done(_("Post saved."), url_for("ui.roster_post", street=row.slug, post_id=post.id))


# --- weekly patterns -----------------------------------------------------------------------------------------


def _time(form, name: str, problems: dict) -> time | None:
    raw = (form.get(name) or "").strip()
    try:
        hours, minutes = raw.split(":")[:2]
        return time(int(hours), int(minutes))
    except ValueError:
        problems[name] = _("Give a time such as 07:30.")
        return None


def _date(form, name: str, problems: dict) -> date | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems[name] = _("Give a date such as 2026-12-07.")
        return None


@blueprint.post("/roster/<street>/posts/<int:post_id>/patterns")
@login_required
def roster_add_pattern(street: str, post_id: int):
    """A weekly pattern in local times; the shifts of the coming weeks are created at once unless unticked."""
    row = street_page(street)
    require_change()
    post = _post_in(row, post_id)
    form, problems = request.form, {}
    weekdays = "".join(sorted({day for day in form.getlist("weekdays") if day in "1234567" and len(day) == 1}))
    if not weekdays:
        problems["weekdays"] = _("Tick at least one day.")
    start, end = _time(form, "start_time", problems), _time(form, "end_time", problems)
    slots = _number(form, "slots", problems, required=False)
    valid_from, valid_until = _date(form, "valid_from", problems), _date(form, "valid_until", problems)
    if problems:
        return render_post(row, post, problems, form, 422)
    now, cfg = utcnow(), roster_config()
    try:
        pattern = posts.add_pattern(db(), post.id, weekdays=weekdays, start_time=start, end_time=end,
                                    slots=slots, valid_from=valid_from, valid_until=valid_until, actor=actor(),
                                    now=now, cfg=cfg)
        created = (generation.generate_shifts(db(), now, cfg, post_ids=[post.id]).created
                   if form.get("generate") == "1" else 0)
    except PeacetimeError as error:
        return render_post(row, _post_in(row, post_id), {"_": refused(error)}, form, error.status)
    return done(_("Pattern added: %(count)d shifts created for the coming weeks.", count=created),
                url_for("ui.roster_post", street=row.slug, post_id=post.id) + f"#pattern-{pattern.id}")


@blueprint.post("/roster/<street>/patterns/<int:pattern_id>/stop")
@login_required
def roster_stop_pattern(street: str, pattern_id: int):
    """No more shifts from this pattern (those already created stay)."""
    row = street_page(street)
    require_change()
    pattern = db().get(ShiftPattern, pattern_id)
    if pattern is None:
        abort(404)
    post = _post_in(row, pattern.post_id)
    try:
        posts.deactivate_pattern(db(), pattern_id, actor=actor(), now=utcnow())
    except PeacetimeError as error:
        return render_post(row, _post_in(row, post.id), {"_": refused(error)}, status=error.status)
    return done(_("Pattern stopped: no new shifts from it; those already created stay."),
                url_for("ui.roster_post", street=row.slug, post_id=post.id))
