"""The live drill's report: the simulator's message log (the gateway's view) read beside the database, scored
(what the simulated people meant vs what the service read, reply-to-dispatch latencies, exactly one dispatch SMS
per assignment at the gateway) and laid over `report.build_report`; times in real seconds."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from mobilize.drill.engine import DrillConfig, Trace
from mobilize.drill.live_stack import LiveStack


@dataclass
class LiveClock:
    """What `report.build_report` reads of a clock: when the order was launched and how long it ran (real s)."""

    start: datetime
    t: float = 0.0


def gateway_log(stack: LiveStack) -> list[dict]:
    """Every message the simulator (the gateway) holds, oldest first: outbound ones with `timestamp`, when it
    accepted them from the sender; inbound ones with the sender's intent (what the simulated person meant)."""
    rows = stack.control().messages(limit=100_000)
    return sorted(rows, key=lambda row: row["seq"])


def live_report(runtime: Any, order_id: int, drill: DrillConfig, trace: Trace, clock: LiveClock,
                messages: list[dict]) -> dict:
    """`report.build_report` on the live run, with what only the gateway's log knows: what was sent, what the
    people meant, and when each dispatch reached the gateway."""
    from mobilize.drill.report import build_report, percentile

    inbound = parsed_inbound(runtime)
    score_replies(trace, messages, inbound)
    dispatches = dispatch_rows(runtime, order_id)
    trace.reply_to_dispatch = reply_to_dispatch(dispatches, messages, inbound)
    report = build_report(runtime, order_id, drill, trace, clock)
    outbound = [m for m in messages if m["direction"] == "outbound-api"]
    report.update(
        mode="live",
        time_unit="real seconds",
        sms_sent=len(outbound),  # what the gateway accepted (the simulator's log)
        segments_sent=sum(int(m["num_segments"] or 0) for m in outbound),
        outbox_handed=report["sms_sent"], outbox_segments=report["segments_sent"],  # the database's view
        dispatch_sms=check_dispatch_sms(runtime, order_id, dispatches, outbound),
        reply_to_dispatch_s={"p50": percentile(trace.reply_to_dispatch, 50),
                             "p95": percentile(trace.reply_to_dispatch, 95), "n": len(trace.reply_to_dispatch)},
        elapsed_s=report.pop("simulated_s"),
    )
    report["config"].update(compress=drill.time_scale, wave_interval_s=drill.wave_interval_s,
                            confirmation_timeout_s=drill.confirmation_timeout_s)
    return report


def parsed_inbound(runtime: Any) -> dict[str, tuple]:
    """message sid -> (phone, parsed intent, received_at) of every inbound row the webhook stored."""
    from mobilize.models import InboundMessage

    with runtime.transaction() as session:
        rows = session.execute(select(InboundMessage.message_sid, InboundMessage.from_phone, InboundMessage.intent,
                                      InboundMessage.received_at)).all()
    return {sid: (phone, intent, received) for sid, phone, intent, received in rows}


def score_replies(trace: Trace, messages: list[dict], inbound: dict[str, tuple]) -> None:
    """What the simulated people meant (the simulator's intent) vs what the service's parser read."""
    for message in messages:
        if message["direction"] != "inbound" or message.get("origin") != "phone":
            continue
        meant = message.get("intent")
        trace.replies[meant] += 1
        parsed = inbound.get(message["sid"], (None, "not stored", None))[1]
        if meant and parsed != meant:
            trace.misread[meant, str(parsed)] += 1


def dispatch_rows(runtime: Any, order_id: int) -> list[tuple]:
    """(volunteer id, phone, body, gateway sid) of every dispatch SMS the order wrote."""
    from mobilize.models import Assignment, OutboundMessage
    from mobilize.wartime.messages import DISPATCH_KINDS

    with runtime.transaction() as session:
        volunteers = set(session.scalars(select(Assignment.volunteer_id).where(Assignment.order_id == order_id)))
        rows = session.execute(select(OutboundMessage.volunteer_id, OutboundMessage.to_phone, OutboundMessage.body,
                                      OutboundMessage.twilio_sid)
                               .where(OutboundMessage.kind.in_(DISPATCH_KINDS))).all()
    return [tuple(row) for row in rows if row[0] in volunteers]


def reply_to_dispatch(dispatches: list[tuple], messages: list[dict], inbound: dict[str, tuple]) -> list[float]:
    """For each dispatch the gateway accepted: seconds from the volunteer's last accepting reply stored by the
    webhook before it (inbound received_at) to the gateway's timestamp of the dispatch."""
    accepted_at = {sid: m["timestamp"] for m in messages if m["direction"] == "outbound-api"
                   for sid in [m["sid"]]}
    accepts: dict[str, list[float]] = {}
    for phone, intent, received in inbound.values():
        if intent == "accept":
            accepts.setdefault(phone, []).append(epoch_s(received))
    latencies = []
    for _volunteer, phone, _body, sid in dispatches:
        handed = accepted_at.get(sid)
        before = [t for t in accepts.get(phone, []) if handed is not None and t <= handed]
        if before:
            latencies.append(handed - max(before))
    return latencies


def check_dispatch_sms(runtime: Any, order_id: int, dispatches: list[tuple], outbound: list[dict]) -> dict:
    """Every assignment has exactly one dispatch SMS at the gateway: each dispatch row's gateway sid is in the
    simulator's log, the gateway holds as many copies of each (phone, text) as the outbox has rows (a volunteer
    dispatched twice to the same place gets the same text twice), and each volunteer has as many dispatch rows
    at the gateway as assignments."""
    from mobilize.models import Assignment

    with runtime.transaction() as session:
        assignments = Counter(session.scalars(select(Assignment.volunteer_id)
                                              .where(Assignment.order_id == order_id)))
    sids = {m["sid"] for m in outbound}
    copies = Counter((m["to"], m["body"]) for m in outbound)
    rows = Counter((phone, body) for _v, phone, body, _sid in dispatches)
    sent = Counter(volunteer for volunteer, _p, _b, sid in dispatches if sid in sids)
    wrong = sorted(v for v in set(assignments) | set(sent) if assignments[v] != sent[v])
    return {"assignments": sum(assignments.values()), "volunteers": len(assignments),
            "dispatch_rows": len(dispatches), "at_gateway": sum(sent.values()),
            "missing": sum(max(0, n - copies[key]) for key, n in rows.items()),
            "duplicated": sum(max(0, copies[key] - n) for key, n in rows.items()),
            "volunteers_not_exactly_one_per_assignment": len(wrong), "examples": wrong[:5]}


def epoch_s(value: datetime) -> float:
    """A database timestamp (naive: UTC) as epoch seconds, the gateway's clock."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()

