"""The pages: home (by role), the command center, a street's board, the simulated phones.

Every view here needs a login (the blueprint refuses anonymous visitors before any view runs, whatever its
decorators say); roles and streets are checked per view. Fragments (`.../messages`, `.../sites`) are the parts
a page reloads when a live event says they changed: rendered here, for the viewer's role, like the page
itself.
"""
from __future__ import annotations

from flask import abort, redirect, render_template

from mobilize.live import COMMAND, street_channel
from mobilize.web import db, runtime
from mobilize.web.ui import i18n, queries
from mobilize.web.ui.access import (
    COMMAND_CENTER_ROLES,
    COMMAND_ROLES,
    current_principal,
    home_url,
    login_required,
    may_act,
    require_street,
    roles_required,
    street_or_404,
)
from mobilize.web.ui.blueprint import blueprint
from mobilize.web.ui.sitemap import project


@blueprint.get("/")
@login_required
def home():
    return redirect(home_url(current_principal()))


@blueprint.get("/command")
@roles_required(*COMMAND_CENTER_ROLES)
def command():
    session = db()
    summaries = queries.street_summaries(session)
    sites = queries.sites_of(session)
    from mobilize.web.ui import message_log, order_queries

    return render_template("command.html", summaries=summaries, sites=sites,
                           site_map=_site_map(sites, summaries), log=message_log.latest(session),
                           channel=COMMAND, orders=order_queries.orders(session),
                           shifts=order_queries.shifts_today(session, _today()))


@blueprint.get("/board/<street>")
@login_required
def board(street: str):
    row = street_or_404(street)
    require_street(row)
    return render_board(row)


def render_board(row, problem: str | None = None, status: int = 200):
    """The board page; `problem`: why the officer's last action was refused (shown with its status)."""
    from mobilize.web.ui import order_queries

    session = db()
    [summary] = queries.street_summaries(session, row.id)
    sites = queries.sites_of(session, row.id)
    from mobilize.wartime import board as wartime_board
    from mobilize.web.ui.checkin import alerts_context

    return render_template("board.html", street=row, summary=summary, sites=sites,
                           fill=wartime_board.street_fill(session, row.id), **alerts_context(row),
                           site_map=_site_map(sites), channel=street_channel(row.slug), problem=problem,
                           blocks=order_queries.street_board(session, row.id), may_act=may_act(),
                           shifts=order_queries.shifts_today(session, _today(), row.id)), status


def _today():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(runtime().settings.timezone)).date()


@blueprint.get("/board/<street>/sites")
@login_required
def board_sites(street: str):
    """The board's sites and capacities alone (reloaded on the street channel's events)."""
    row = street_or_404(street)
    require_street(row)
    from mobilize.wartime import board as wartime_board

    return render_template("_board_sites.html", street=row, sites=queries.sites_of(db(), row.id),
                           fill=wartime_board.street_fill(db(), row.id))


@blueprint.get("/phones")
@roles_required(*COMMAND_ROLES)
def phones():
    """The simulator's phones (simulator mode only). They show numbers in clear and every street's people, so
    only admins and commanders are sent there."""
    settings = runtime().settings
    if settings.sms_backend != "simulator" or not settings.simulator_url:
        abort(404)
    return redirect(settings.simulator_url + "/phones?lang=" + i18n.current_language())  # in the page's language


def _site_map(sites, summaries=None) -> dict:
    """Sites as points of an SVG map; with street summaries, each street's label above the middle of its sites
    (the command center), else each site numbered as its card on the board."""
    frame = project([(site.lat, site.lon) for site in sites], margin=34)
    markers = [{"site": site, "number": number, "x": point.x, "y": point.y}
               for number, (site, point) in enumerate(zip(sites, frame.points), start=1)]
    labels = []
    for summary in summaries or ():
        own = [marker for marker in markers if marker["site"].street_id == summary.street.id]
        if own:
            labels.append({"street": summary.street, "x": sum(m["x"] for m in own) / len(own),
                           "y": min(m["y"] for m in own) - 12})
    return {"width": frame.width, "height": frame.height, "markers": markers, "labels": labels,
            "numbered": summaries is None}
