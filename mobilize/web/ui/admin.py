"""The admin pages for accounts: users and roles (/admin/users) and API tokens (/admin/tokens).

Admins only (403 for every other role). Thin views over `mobilize.accounts`, which the CLI uses too: each change
is checked there (today's password rules, a street for officers, never the last active admin locked or demoted)
and audited there, in the transaction of the change. A refused change writes nothing and shows the page again
with the problem (422). A new token is shown once, in the answer to the POST that made it (pages are never
cached: `Cache-Control: no-store`); only its hash is stored.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from mobilize import accounts
from mobilize.accounts import AccountError, NotFound
from mobilize.models import ApiToken, Street, User, UserRole
from mobilize.models._types import utcnow
from mobilize.wartime.audit import Actor
from mobilize.web import db
from mobilize.web.converters import is_row_id
from mobilize.web.ui.access import current_principal, roles_required
from mobilize.web.ui.blueprint import blueprint

ADMIN = UserRole.admin
TOKENS_SHOWN = 300  # the tokens page lists this many, newest first (revoked ones after the live ones)


def admin_actor() -> Actor:
    principal = current_principal()
    return Actor.user(principal.username, principal.user_id)


def problem_text(error: AccountError) -> str:
    """The account service's refusal in the page's language."""
    return {
        "bad_username": _("The username must be 2 to 60 letters, digits or _ . @ -."),
        "username_taken": _("This username is taken."),
        "password_short": _("The password must have at least %(count)d characters.",
                            count=accounts.MIN_PASSWORD_LENGTH),
        "password_long": _("The password must have at most %(count)d characters.",
                           count=accounts.MAX_PASSWORD_LENGTH),
        "bad_role": _("Choose a role."),
        "street_not_allowed": _("Only street officers have a street: leave the street empty."),
        "street_needed": _("A street officer needs a street."),
        "unknown_street": _("There is no such street."),
        "self_lock": _("You cannot lock your own account."),
        "last_admin": _("This is the last active administrator: make another user an administrator first."),
        "passwords_differ": _("The two passwords differ."),
        "unknown_user": _("There is no such user."),
    }.get(error.code, str(error))


def _streets() -> list[Street]:
    return db().scalars(select(Street).order_by(Street.id)).all()


def _user_or_404(user_id: int) -> User:
    user = db().get(User, user_id)
    if user is None:
        abort(404)
    return user


# --- users -----------------------------------------------------------------------------------------------------


@blueprint.get("/admin")
@roles_required(ADMIN)
def admin_home():
    return redirect(url_for("ui.admin_users"))


@blueprint.get("/admin/users")
@roles_required(ADMIN)
def admin_users():
    return _render_users()


def _render_users(form=None, problems: dict | None = None, status: int = 200):
    session = db()
    users = session.scalars(select(User).options(selectinload(User.street)).order_by(User.username)).all()
    live_tokens = dict(session.execute(select(ApiToken.user_id, func.count()).where(ApiToken.revoked_at.is_(None))
                                       .group_by(ApiToken.user_id)).all())
    return render_template("admin_users.html", users=users, live_tokens=live_tokens, streets=_streets(),
                           roles=list(UserRole), form=form or {}, problems=problems or {}, now=utcnow(),
                           min_password=accounts.MIN_PASSWORD_LENGTH), status


@blueprint.post("/admin/users")
@roles_required(ADMIN)
def admin_user_create():
    form = request.form
    try:
        user = accounts.create_user(db(), (form.get("username") or "").strip(), form.get("password") or "",
                                    form.get("role") or "", (form.get("street") or "").strip() or None,
                                    actor=admin_actor())
        db().commit()
    except AccountError as error:
        db().rollback()
        # the password is never sent back into the form
        return _render_users({key: form.get(key, "") for key in ("username", "role", "street")},
                             {error.field or "_": problem_text(error)}, 422)
    flash(_("User %(name)s created. Give them an API token below if they use the API.", name=user.username), "ok")
    return redirect(url_for("ui.admin_user", user_id=user.id), 303)


@blueprint.get("/admin/users/<int:user_id>")
@roles_required(ADMIN)
def admin_user(user_id: int):
    return _render_user(_user_or_404(user_id))


def _render_user(user: User, problems: dict | None = None, status: int = 200, new_token: str | None = None):
    tokens = db().scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                          .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())).all()
    return render_template("admin_user.html", user=user, tokens=tokens, streets=_streets(), roles=list(UserRole),
                           problems=problems or {}, now=utcnow(), new_token=new_token,
                           is_self=user.id == current_principal().user_id,
                           min_password=accounts.MIN_PASSWORD_LENGTH), status


def _user_change(user_id: int, change, done: str):
    """Run an account change of `accounts`; on a refusal, the user's page again with the problem (422)."""
    _user_or_404(user_id)
    try:
        change()
        db().commit()
    except NotFound:
        db().rollback()
        abort(404)
    except AccountError as error:
        db().rollback()
        db().expire_all()
        return _render_user(_user_or_404(user_id), {error.field or "_": problem_text(error)}, 422)
    flash(done, "ok")
    return redirect(url_for("ui.admin_user", user_id=user_id), 303)


@blueprint.post("/admin/users/<int:user_id>/role")
@roles_required(ADMIN)
def admin_user_role(user_id: int):
    role, street = request.form.get("role") or "", (request.form.get("street") or "").strip() or None
    return _user_change(user_id, lambda: accounts.change_role(db(), user_id, role, street, admin_actor()),
                        _("Role and street saved."))


@blueprint.post("/admin/users/<int:user_id>/lock")
@roles_required(ADMIN)
def admin_user_lock(user_id: int):
    return _user_change(user_id, lambda: accounts.lock_user(db(), user_id, admin_actor()),
                        _("Locked: the user is logged out and their API tokens are refused until unlocked."))


@blueprint.post("/admin/users/<int:user_id>/unlock")
@roles_required(ADMIN)
def admin_user_unlock(user_id: int):
    return _user_change(user_id, lambda: accounts.unlock_user(db(), user_id, admin_actor()),
                        _("Unlocked: the user may log in again."))


@blueprint.post("/admin/users/<int:user_id>/password")
@roles_required(ADMIN)
def admin_user_password(user_id: int):
    password, again = request.form.get("password") or "", request.form.get("password_again") or ""

    def reset():
        if password != again:
            raise AccountError("the two passwords differ", "password", "passwords_differ")
        accounts.reset_password(db(), user_id, password, admin_actor())

    return _user_change(user_id, reset, _("Password changed. Tell the user the new one in person or by phone."))


# --- API tokens ------------------------------------------------------------------------------------------------


@blueprint.get("/admin/tokens")
@roles_required(ADMIN)
def admin_tokens():
    return _render_tokens()


def _render_tokens(new_token: str | None = None, new_row: ApiToken | None = None, problems: dict | None = None,
                   form=None, status: int = 200):
    session = db()
    tokens = session.scalars(select(ApiToken).options(selectinload(ApiToken.user))
                             .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
                             .limit(TOKENS_SHOWN)).all()
    users = session.scalars(select(User).order_by(User.username)).all()
    return render_template("admin_tokens.html", tokens=tokens, users=users, new_token=new_token, new_row=new_row,
                           problems=problems or {}, form=form or {}, now=utcnow()), status


@blueprint.post("/admin/tokens")
@roles_required(ADMIN)
def admin_token_create():
    """Issue a token for a user and show it, this once. From the user's page (`back=user`) the answer is that
    page, with the token on it."""
    raw_id, name = (request.form.get("user_id") or "").strip(), request.form.get("name") or ""
    session = db()
    user = session.get(User, int(raw_id)) if is_row_id(raw_id) else None
    if user is None:
        problem = {"user_id": problem_text(AccountError("no such user", "user_id", "unknown_user"))}
        return _render_tokens(problems=problem, form=request.form, status=422)
    token = accounts.issue_token(session, user, name, actor=admin_actor())
    session.commit()
    if request.form.get("back") == "user":
        return _render_user(user, new_token=token)
    row = session.scalar(select(ApiToken).where(ApiToken.prefix == token[:12], ApiToken.user_id == user.id)
                         .order_by(ApiToken.id.desc()))
    return _render_tokens(new_token=token, new_row=row)


@blueprint.post("/admin/tokens/<int:token_id>/revoke")
@roles_required(ADMIN)
def admin_token_revoke(token_id: int):
    try:
        row = accounts.revoke_token_id(db(), token_id, admin_actor())
        db().commit()
    except NotFound:
        db().rollback()
        abort(404)
    flash(_("Token %(prefix)s… revoked: it is refused from now on.", prefix=row.prefix), "ok")
    back = request.form.get("back")
    if back == "user":
        return redirect(url_for("ui.admin_user", user_id=row.user_id), 303)
    return redirect(url_for("ui.admin_tokens"), 303)
