"""`mobilize orders ...`: wartime orders from the command line (issue 10).

Reading (list, show, preview) writes nothing. Every action that sends SMS (launch, stop recruiting, finish,
cancel) first prints `wartime.previews.preview_action` (what it will send, to whom, at what cost, and what it
does besides texting), then asks; without a terminal to ask on, it needs --yes. The action then runs in one
transaction; a refusal (409: a state that does not allow it, finish before the window) writes nothing.
"""
from __future__ import annotations

import getpass
import json
import sys
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from mobilize.cli import CliContext, pass_cli

if TYPE_CHECKING:  # the commands import the service layer when they run, not when the CLI starts
    from mobilize.models import Order
    from mobilize.runtime import Runtime
    from mobilize.wartime.audit import Actor
    from mobilize.wartime.previews import ActionPreview

# the actions' names on the command line (as in the API's URLs) and in `wartime.previews`
ACTIONS = {"launch": "launch", "stop-recruiting": "stop_recruiting", "finish": "finish", "cancel": "cancel"}
VERBS = {"launch": "Launch", "stop_recruiting": "Stop recruiting", "finish": "Finish", "cancel": "Cancel"}
STATES = ("draft", "open", "filled", "staffed", "closed", "cancelled")  # models.OrderState, without importing it
PLACE_COLUMNS = ("capacity", "assigned", "confirmed", "arrived", "no_show", "open")
ANSWER_COLUMNS = ("invited", "accepted", "standby", "declined", "no_answer")


@click.group("orders")
@click.pass_context
def orders_group(ctx: click.Context) -> None:
    """Wartime orders: list, show, preview, and launch or end one (each action previews what it sends and asks
    first)."""
    context = ctx.ensure_object(CliContext)
    ctx.call_on_close(context.close)


# --- reading -----------------------------------------------------------------------------------------------


@orders_group.command("list", short_help="Orders: code, title, state, window, places filled.")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only the orders in this state.")
@click.option("--json", "as_json", is_flag=True, help="Print the orders as one JSON array.")
@pass_cli
def list_command(context: CliContext, state: str | None, as_json: bool) -> None:
    """Orders, newest first: id, reply code, title, state, window (local time), places filled/capacity."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from mobilize.models import Order, OrderState

    runtime = context.migrated_runtime
    zone = runtime.settings.timezone
    with runtime.transaction() as session:
        statement = select(Order).options(selectinload(Order.demands)).order_by(Order.id.desc())
        if state:
            statement = statement.where(Order.state == OrderState(state))
        rows = [_summary(order, zone) for order in session.scalars(statement)]
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo("no orders" + (f" in state {state}" if state else ""), err=True)
        return
    table = [(str(r["id"]), "#" + r["reply_code"], r["title"], r["state"], r["window"],
              f"{r['filled']}/{r['capacity']}") for r in rows]
    _print_table(("ID", "CODE", "TITLE", "STATE", f"WINDOW ({zone})", "FILLED"), table)


@orders_group.command("show", short_help="One order and its progress per street.")
@click.argument("order_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the order and its progress as one JSON object.")
@pass_cli
def show_command(context: CliContext, order_id: int, as_json: bool) -> None:
    """The order and its progress per street: places (capacity, assigned, confirmed, arrived, no-shows, open) by
    the sites' streets, answers (invited, accepted, standby, declined, no answer) by the volunteers' streets."""
    from mobilize.models import Order
    from mobilize.models._types import utcnow
    from mobilize.wartime import board, waves

    runtime = context.migrated_runtime
    zone = runtime.settings.timezone
    with runtime.transaction() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise click.ClickException(f"no order {order_id}")
        summary = _summary(order, zone)
        progress = board.progress(session, order)
        projection = waves.projection(session, order, utcnow(), runtime.settings.sms_segments_per_second, zone)
    if as_json:
        _print_json({"order": summary, "progress": progress, "projection": projection})
        return
    _echo_order(summary, zone)
    click.echo(_projection_line(summary, projection, zone))
    totals = progress["totals"]
    click.echo("places: " + ", ".join(f"{_label(key)} {totals[key]}" for key in PLACE_COLUMNS))
    click.echo("answers: " + ", ".join(f"{_label(key)} {totals[key]}" for key in ANSWER_COLUMNS))
    if progress["streets"]:
        click.echo("")
        columns = PLACE_COLUMNS + ANSWER_COLUMNS
        _print_table(("STREET", *(_label(key).upper() for key in columns)),
                     [(street["street"] or str(street["street_id"]), *(str(street[key]) for key in columns))
                      for street in progress["streets"]])


@orders_group.command("preview", short_help="What an action would send now (writes nothing).")
@click.argument("order_id", type=int, metavar="ID")
@click.argument("action", type=click.Choice(list(ACTIONS)))
@click.option("--reason", default=None, help="cancel: the reason, as the cancel would record it.")
@click.option("--json", "as_json", is_flag=True, help="Print the preview as one JSON object (phones in clear).")
@pass_cli
def preview_command(context: CliContext, order_id: int, action: str, reason: str | None, as_json: bool) -> None:
    """What ACTION (launch, stop-recruiting, finish, cancel) would send now, without doing it: SMS, segments,
    estimated cost, by template, recipients by status, what it does besides texting, and the text in each
    language. Nothing is written."""
    preview = _preview(context.migrated_runtime, order_id, ACTIONS[action], _action_args(ACTIONS[action], reason))
    if as_json:
        _print_json(preview.as_dict())
    else:
        _echo_preview(preview)


# --- the actions -------------------------------------------------------------------------------------------


def _action_command(slug: str, short_help: str, summary: str) -> click.Command:
    """`mobilize orders <slug> ID [--yes]` (cancel: [--reason TEXT]): preview, ask, act, say what was done."""
    action = ACTIONS[slug]

    @click.argument("order_id", type=int, metavar="ID")
    @click.option("--yes", "-y", "assume_yes", is_flag=True,
                  help="Do it without asking (needed when there is no terminal to ask on).")
    @pass_cli
    def command(context: CliContext, order_id: int, assume_yes: bool, reason: str | None = None) -> None:
        _act(context, order_id, action, assume_yes, reason)

    command.__doc__ = summary + "\n\nThe preview of what it sends is printed first, then you are asked."
    if slug == "cancel":
        command = click.option("--reason", default=None, help="Why (kept in the audit trail).")(command)
    return click.command(slug, short_help=short_help)(command)


launch_command = _action_command(
    "launch", "Open a draft; its first wave is queued.",
    "Launch a draft: the order opens and its first wave of invitations is queued (nearest first).")
stop_recruiting_command = _action_command(
    "stop-recruiting", "Enough people: no more invitations.",
    "Stop recruiting: unsent invitations are withdrawn, those on standby are thanked once, nobody who never "
    "answered is texted, dispatched volunteers keep their places.")
finish_command = _action_command(
    "finish", "Certify hours, thank, mark no-shows.",
    "Finish (at or after the window's start): the hours of those who came are certified and they are thanked; "
    "those dispatched who never came become no-shows.")
cancel_command = _action_command(
    "cancel", "Call the order off.",
    "Cancel: everyone dispatched, confirmed, on standby or who said yes is told it is called off; silent "
    "invitees get nothing (their invitations lapse).")
for _command in (launch_command, stop_recruiting_command, finish_command, cancel_command):
    orders_group.add_command(_command)


def _act(context: CliContext, order_id: int, action: str, assume_yes: bool, reason: str | None) -> None:
    runtime = context.migrated_runtime
    args = _action_args(action, reason)
    preview = _preview(runtime, order_id, action, args)  # a refusal (404, 409) stops here, nothing written
    _echo_preview(preview)
    _ask(preview, assume_yes)
    from mobilize.wartime.after_commit import install

    install(runtime)  # as the web app does: the commit queues the waves and matching it requested
    outcome = _perform(runtime, order_id, action, args)
    _echo_outcome(outcome, preview)
    if outcome["sms"] or action == "launch":
        _warn_without_redis(runtime, action)


def _ask(preview: ActionPreview, assume_yes: bool) -> None:
    """Never send unasked: a yes on the terminal, or --yes."""
    if assume_yes:
        return
    # an action that texts nobody says so (a finish may still make no-shows: the preview above said which)
    sends = f"and send {preview.sms_count} SMS" if preview.sms_count else "(it sends no SMS)"
    what = f"{VERBS[preview.action].lower()} order {preview.order_id} {sends}"
    if sys.stdin is None or not sys.stdin.isatty():  # a script or a pipe: an answer from it is not a person's
        raise click.ClickException(f"there is no terminal to ask on: add --yes to {what}; nothing was done")
    question = what[0].upper() + what[1:] + "?"
    if not click.confirm(question, default=False, err=True):
        click.echo("nothing done, nothing sent", err=True)
        sys.exit(1)


def _perform(runtime: Runtime, order_id: int, action: str, args: dict[str, Any]) -> dict[str, Any]:
    """The action in one transaction (a refusal rolls everything back); what it did."""
    from mobilize.models._types import utcnow
    from mobilize.wartime import lifecycle
    from mobilize.wartime.errors import WartimeError

    zone, actor, now = runtime.settings.timezone, _actor(), utcnow()
    runners: dict[str, Callable[..., Any]] = {
        # launch only requests its first wave: the wave job sends it (queued after the commit)
        "launch": lambda session: lifecycle.launch(session, order_id, actor, now),
        "stop_recruiting": lambda session: lifecycle.stop_recruiting(session, order_id, actor, now, zone),
        "finish": lambda session: lifecycle.finish(session, order_id, actor, now, zone),
        "cancel": lambda session: lifecycle.cancel(session, order_id, actor, now, args.get("reason"), zone),
    }
    try:
        with runtime.transaction() as session:
            outcome = _outcome(runners[action](session))
    except WartimeError as error:
        raise click.ClickException(f"{error.message} (nothing was done)") from None
    return outcome


def _outcome(result) -> dict[str, Any]:
    """Plain values, read inside the transaction (the order is detached after it)."""
    from mobilize.wartime.lifecycle import Ending

    if not isinstance(result, Ending):  # launch: the order
        return {"order_id": result.id, "reply_code": result.reply_code, "state": result.state.value, "sms": 0}
    order = result.order
    return {"order_id": order.id, "reply_code": order.reply_code, "state": order.state.value, "sms": result.told,
            "told": result.told, "released": result.released, "no_shows": result.no_shows,
            "withdrawn": result.withdrawn, "lapsed": result.lapsed,
            "certified_hours": round(result.certified_hours, 2)}


def _echo_outcome(outcome: dict[str, Any], preview: ActionPreview) -> None:
    click.echo(f"order {outcome['order_id']} (#{outcome['reply_code']}) is now {outcome['state']}")
    if "told" not in outcome:
        click.echo(f"  its first wave (the preview counted {preview.sms_count} invitations) is queued; the wave "
                   "job sends it, nearest volunteers first")
        return
    click.echo(f"  told {outcome['told']}, released {outcome['released']}, no-shows {outcome['no_shows']}, "
               f"withdrawn {outcome['withdrawn']}, lapsed {outcome['lapsed']}, "
               f"certified hours {outcome['certified_hours']:g}")
    if outcome["told"] != preview.sms_count:  # the world moved between the preview and the action
        click.echo(f"note: {outcome['told']} SMS written where the preview said {preview.sms_count}: answers "
                   "arrived in between", err=True)


def _warn_without_redis(runtime: Runtime, action: str) -> None:
    """The commit asked Redis to send the SMS (and, for a launch, to run the first wave). Without Redis nothing
    is lost: the outbox and the order are in the database and the periodic sweep picks them up. Say so."""
    from redis.exceptions import RedisError

    from mobilize.runtime import RedisUnavailable

    try:
        runtime.redis.ping()
    except (RedisUnavailable, RedisError, OSError) as error:
        what = "the first wave" if action == "launch" else "the SMS"
        click.echo(f"warning: Redis is not reachable ({error}); {what} will go out when the workers and the "
                   "periodic sweep run (`mobilize up`, or `mobilize worker` and `mobilize scheduler`)", err=True)


# --- helpers -----------------------------------------------------------------------------------------------


def _action_args(action: str, reason: str | None) -> dict[str, Any]:
    return {"reason": reason} if action == "cancel" else {}


def _actor() -> Actor:
    """Who did it, in the audit trail: the operating-system user at the keyboard."""
    from mobilize.wartime.audit import Actor

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's anonymous uid)
        user = "unknown"
    return Actor(f"cli:{user}"[:80], None)  # audit_events.actor is 80 characters


def _preview(runtime: Runtime, order_id: int, action: str, args: dict[str, Any]) -> ActionPreview:
    """`preview_action` at the configured price; the transaction is rolled back at once so that no lock is
    held while a person reads the preview and decides."""
    from mobilize.models._types import utcnow
    from mobilize.wartime import previews
    from mobilize.wartime.errors import WartimeError

    settings = runtime.settings
    session = runtime.sessions()
    try:
        return previews.preview_action(session, order_id, action, utcnow(), settings.timezone,
                                       price_per_segment=settings.sms_price_per_segment,
                                       currency=settings.sms_currency, **args)
    except WartimeError as error:
        raise click.ClickException(f"{error.message} (nothing was done)") from None
    finally:
        session.rollback()
        session.close()


def _summary(order: Order, zone: str) -> dict[str, Any]:
    return {"id": order.id, "reply_code": order.reply_code, "title": order.title, "state": order.state.value,
            "starts_at": order.starts_at.isoformat(), "ends_at": order.ends_at.isoformat(),
            "window": _window(order.starts_at, order.ends_at, zone),
            "capacity": sum(d.capacity for d in order.demands), "filled": sum(d.filled for d in order.demands),
            "needed_by": order.needed_by.isoformat() if order.needed_by else None,
            "deadline": order.deadline.isoformat(), "urgent": order.urgent}


def _projection_line(summary: dict[str, Any], projection: dict[str, Any] | None, zone: str) -> str:
    """needed by HH:MM, and (recruiting) when 95% of the places are expected filled at this pace."""
    local = ZoneInfo(zone)
    line = f"needed by {datetime.fromisoformat(summary['deadline']).astimezone(local):%Y-%m-%d %H:%M}"
    line += " (urgent: everyone eligible invited at once)" if summary["urgent"] else ""
    if projection is None:
        return line
    if projection["covered"]:
        return line + "; 95% of the places filled or covered by volunteers waiting"
    if projection["projected_at"] is None:
        return line + "; 95% not in sight at this pace (too few eligible volunteers)"
    verdict = "on track" if projection["on_track"] else "LATE"
    return line + f"; 95% by {projection['projected_at'].astimezone(local):%H:%M} at this pace ({verdict})"


def _window(starts_at: datetime, ends_at: datetime, zone: str) -> str:
    """'2025-05-12 07:00-12:00' in local time; the end's date only when it is another day."""
    start, end = starts_at.astimezone(ZoneInfo(zone)), ends_at.astimezone(ZoneInfo(zone))
    return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M}" if start.date() == end.date() \
        else f"{start:%Y-%m-%d %H:%M}-{end:%Y-%m-%d %H:%M}"


def _echo_order(summary: dict[str, Any], zone: str) -> None:
    click.echo(f"order {summary['id']} #{summary['reply_code']} {summary['title']}")
    click.echo(f"state {summary['state']}, window {summary['window']} ({zone}), "
               f"places filled {summary['filled']}/{summary['capacity']}")


def _echo_preview(preview: ActionPreview) -> None:
    verb = VERBS[preview.action].lower()
    click.echo(f"{verb} order {preview.order_id} would send {preview.sms_count} SMS ({preview.segments} "
               f"segments), estimated cost {preview.estimated_cost:.2f} {preview.currency} at "
               f"{preview.price_per_segment:g} per segment")
    if preview.by_template:
        click.echo("by template:")
        for template, count in preview.by_template.items():
            click.echo(f"  {template}: {count}  ({_purpose(template)})")
    if preview.recipients_by_status:
        click.echo("recipients by status (before the action):")
        for status, count in preview.recipients_by_status.items():
            click.echo(f"  {status}: {count}")
    effects = _effects(preview.effects)
    if effects:
        click.echo("besides texting:")
        for line in effects:
            click.echo(f"  {line}")
    samples = _samples(preview.messages)
    if samples:
        click.echo("the texts (one per template and language):")
        for message in samples:
            click.echo(f"  [{message['template']}, {message['language'] or '?'}, "
                       f"{_count(message['segments'], 'segment', 'segments')}] {message['text']}")


def _effects(effects: dict[str, Any]) -> list[str]:
    """What an ending does besides texting, said plainly (a finish that texts nobody may still make no-shows)."""
    lines = []
    if effects.get("no_shows"):
        lines.append(_count(effects["no_shows"], "dispatched volunteer who never arrived becomes a no-show",
                            "dispatched volunteers who never arrived become no-shows"))
    if effects.get("released") and effects.get("released") != effects.get("no_shows"):
        lines.append(_count(effects["released"], "place released (its volunteer is told)",
                            "places released (their volunteers are told)"))
    if effects.get("withdrawn"):
        lines.append(_count(effects["withdrawn"], "invitation still in the outbox is withdrawn, never sent",
                            "invitations still in the outbox are withdrawn, never sent"))
    if effects.get("lapsed"):
        lines.append(_count(effects["lapsed"], "unanswered invitation lapses without a message",
                            "unanswered invitations lapse without a message"))
    if effects.get("certified_hours"):
        lines.append(f"{effects['certified_hours']:g} hours certified")
    return lines


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def _samples(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first message of each (template, language), Chinese first."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for message in messages:
        seen.setdefault((message["template"], message["language"] or ""), message)
    return [seen[key] for key in sorted(seen, key=lambda key: (key[0], key[1] != "zh", key[1]))]


def _purpose(template: str) -> str:
    from mobilize.domain.templates import TEMPLATES

    known = TEMPLATES.get(template)
    return known.purpose if known is not None else template.replace("_", " ")


def _label(key: str) -> str:
    return key.replace("_", "-") if key == "no_show" else key.replace("_", " ")


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(_width(cell) for cell in column) for column in zip(header, *rows)]
    for row in (header, *rows):
        click.echo("  ".join(cell + " " * (width - _width(cell)) for cell, width in zip(row, widths)).rstrip())


def _width(text: str) -> int:
    """Columns on a terminal: Chinese characters take two (street names and titles are Chinese)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, default=str))


COMMANDS = [orders_group]
