"""The drill's report, from the database (the truth) plus the drill's timeline."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from mobilize.domain.matching import Candidate, match
from mobilize.wartime.audience import WEIGHTS, order_slots


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def first_time(timeline: list[tuple[float, int]], target: float) -> float | None:
    """When a (t, count) timeline first reached `target` (simulated s, rounded), None if it never did."""
    return _rounded(next((t for t, count in timeline if count >= target), None))


def capacity_violations(session, order_id: int) -> list[dict]:
    """Demands with more active assignments than capacity, or whose `filled` is not their active count."""
    from mobilize.models import Assignment, Demand
    from mobilize.wartime.places import ACTIVE

    active = dict(session.execute(select(Assignment.demand_id, func.count())
                                  .where(Assignment.order_id == order_id, Assignment.status.in_(list(ACTIVE)))
                                  .group_by(Assignment.demand_id)).all())
    problems = []
    for demand in session.scalars(select(Demand).where(Demand.order_id == order_id)):
        count = active.get(demand.id, 0)
        if count > demand.capacity or demand.filled != count or demand.filled > demand.capacity:
            problems.append({"demand_id": demand.id, "capacity": demand.capacity, "filled": demand.filled,
                             "active": count})
    return problems


def distance_summary(metres: list[float]) -> dict:
    """Mean, median, 95th percentile and longest of a placement's distances (m), as a volunteer feels them."""
    if not metres:
        return {"mean": None, "p50": None, "p95": None, "max": None}
    return {"mean": round(sum(metres) / len(metres)), "p50": round(percentile(metres, 50)),
            "p95": round(percentile(metres, 95)), "max": round(max(metres))}


def hindsight(session, order, final_distance_m: float, online_m: list[float] | None = None) -> dict:
    """Total distance of the final placement vs the optimum with every answer known in advance: everyone who
    said yes and is still willing at the end (not opted out, not dropped out, not a no-show) on the full
    capacities, solved by `domain.matching.match`; with first come first served and greedy nearest pair first
    for comparison (same people, same order of answers)."""
    import numpy as np

    from mobilize.domain.matching import pair_costs
    from mobilize.models import (
        Assignment,
        AssignmentStatus,
        Invitation,
        InvitationStatus,
        Volunteer,
    )
    from mobilize.wartime.dispatch import standby_candidates

    slots = [s for s in order_slots(session, order, open_only=False)]
    from dataclasses import replace

    full = [replace(s, open_capacity=s.open_capacity) for s in slots]
    # the willing: active assignments and standby
    active_ids = set(session.scalars(select(Assignment.volunteer_id).where(
        Assignment.order_id == order.id, Assignment.status.in_(
            [AssignmentStatus.notified, AssignmentStatus.proposed, AssignmentStatus.confirmed,
             AssignmentStatus.arrived, AssignmentStatus.completed]))))
    gone = set(session.scalars(select(Assignment.volunteer_id).where(  # no-shows are not willing
        Assignment.order_id == order.id, Assignment.status == AssignmentStatus.no_show)))
    rows = session.execute(select(Volunteer.id, Volunteer.lat, Volunteer.lon, Volunteer.street_id,
                                  Invitation.answered_at)
                           .join(Invitation, Invitation.volunteer_id == Volunteer.id)
                           .where(Invitation.order_id == order.id, Volunteer.lat.is_not(None),
                                  Volunteer.opted_out_at.is_(None), Volunteer.id.not_in(list(gone)),
                                  (Invitation.status == InvitationStatus.accepted)
                                  | Volunteer.id.in_(list(active_ids)))).all()
    skills = {c.volunteer_id: c.skills for c in standby_candidates(session, order)}
    from mobilize.models import Skill, volunteer_skills

    pairs = session.execute(select(volunteer_skills.c.volunteer_id, Skill.code)
                            .join(Skill, Skill.id == volunteer_skills.c.skill_id)
                            .where(volunteer_skills.c.volunteer_id.in_([r[0] for r in rows])))
    for vid, code in pairs:
        skills[vid] = frozenset(skills.get(vid, frozenset()) | {code})
    people = [Candidate(r[0], r[1], r[2], skills.get(r[0], frozenset()), r[3]) for r in rows]
    best = match(people, full, WEIGHTS, order.max_distance_m)
    answered = {r[0]: r[4] for r in rows}
    in_order = sorted(people, key=lambda c: (answered[c.volunteer_id], c.volunteer_id))
    if in_order:
        distance, cost = pair_costs(in_order, full, WEIGHTS, order.max_distance_m)
    else:  # nobody said yes (an order nobody answered by the drill's end): nothing to place, no pair to price
        distance = cost = np.zeros((0, len(full)))
    room = np.array([s.open_capacity for s in full])
    fcfs = 0.0
    for r in range(len(in_order)):
        options = np.where(room > 0, cost[r], np.inf)
        c = int(np.argmin(options)) if len(options) else 0
        if len(options) and np.isfinite(options[c]):
            room[c] -= 1
            fcfs += distance[r, c]
    room = np.array([s.open_capacity for s in full])
    taken = np.zeros(len(in_order), bool)
    rws, cls = np.nonzero(np.isfinite(cost))
    greedy = 0.0
    for index in np.lexsort((cls, rws, cost[rws, cls])):
        r, c = rws[index], cls[index]
        if not taken[r] and room[c] > 0:
            taken[r], room[c] = True, room[c] - 1
            greedy += distance[r, c]
    optimum = best.total_distance_m
    ratio = (lambda x: round(float(x) / optimum, 4) if optimum else None)
    return {"willing": len(people), "hindsight_placed": len(best.placements),
            "hindsight_distance_m": round(optimum), "online_distance_m": round(final_distance_m),
            "online_ratio": ratio(final_distance_m), "fcfs_ratio": ratio(fcfs), "greedy_ratio": ratio(greedy),
            # per volunteer: what a ratio of totals hides (a 2x ratio on 50 m is a minute's walk)
            "online_m": distance_summary(online_m or []),
            "hindsight_m": distance_summary([p.distance_m for p in best.placements])}


def deadline_s(config) -> float:
    """The order's needed-by time, simulated s after launch (by default its start, as for any order)."""
    return config.starts_after_s if config.needed_by_s is None else config.needed_by_s


def deadline_figures(config, places: int, segments: int, filled: int, told_95_s: float | None) -> dict:
    """The deadline's figures: met when 95% of the places were told by the needed-by time (simulated s after
    launch); segments handed to the gateway per place taken."""
    needed_by = deadline_s(config)
    return {"needed_by_s": needed_by, "met_deadline": told_95_s is not None and told_95_s <= needed_by,
            "segments_per_place": round(segments / filled, 3) if filled else None, "urgent": config.urgent}


def build_report(runtime, order_id: int, config, trace, clock) -> dict:
    from mobilize.models import (
        Assignment,
        AssignmentStatus,
        Demand,
        Invitation,
        InvitationStatus,
        Order,
        OutboundMessage,
        Site,
        Street,
        Volunteer,
    )
    from mobilize.peacetime.coexistence import peacetime_report
    from mobilize.wartime.dispatch import standby_count
    from mobilize.wartime.places import ACTIVE

    with runtime.transaction() as session:
        order = session.get(Order, order_id)
        peacetime = peacetime_report(session, order)
        violations = capacity_violations(session, order_id)
        places = int(session.scalar(select(func.sum(Demand.capacity)).where(Demand.order_id == order_id)))
        filled = int(session.scalar(select(func.sum(Demand.filled)).where(Demand.order_id == order_id)))
        per_street = {}
        for name, capacity, fill in session.execute(
                select(Street.name, func.sum(Demand.capacity), func.sum(Demand.filled))
                .join(Site, Site.id == Demand.site_id).join(Street, Street.id == Site.street_id)
                .where(Demand.order_id == order_id).group_by(Street.name).order_by(Street.name)):
            per_street[name] = {"places": int(capacity), "filled": int(fill)}
        statuses = Counter(dict(session.execute(select(Assignment.status, func.count())
                                                .where(Assignment.order_id == order_id)
                                                .group_by(Assignment.status)).all()))
        reasons = Counter(dict(session.execute(select(Assignment.end_reason, func.count())
                                               .where(Assignment.order_id == order_id,
                                                      Assignment.end_reason.is_not(None))
                                               .group_by(Assignment.end_reason)).all()))
        backfills = session.scalar(select(func.count()).select_from(Assignment).where(
            Assignment.order_id == order_id, Assignment.backfill.is_(True)))
        invitations = Counter(dict(session.execute(select(Invitation.status, func.count())
                                                   .where(Invitation.order_id == order_id)
                                                   .group_by(Invitation.status)).all()))
        # not the past orders of `drill.history` (a day and more before the launch); a margin before `start`, as
        # the live drill's clock starts a moment after the launch wrote the first wave's outbox rows
        this_drill = OutboundMessage.created_at >= clock.start - timedelta(hours=12)
        sms_sent, segments = session.execute(select(func.count(), func.coalesce(func.sum(OutboundMessage.segments), 0))
                                             .where(OutboundMessage.status != "pending",
                                                    OutboundMessage.status != "cancelled", this_drill)).one()
        by_kind = dict(session.execute(select(OutboundMessage.kind, func.count()).where(this_drill)
                                       .group_by(OutboundMessage.kind)).all())
        handed_by_kind = dict(session.execute(select(OutboundMessage.kind, func.count())
                                              .where(OutboundMessage.status != "pending",
                                                     OutboundMessage.status != "cancelled", this_drill)
                                              .group_by(OutboundMessage.kind)).all())
        withdrawn = session.scalar(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.kind == "invitation", OutboundMessage.status == "cancelled",
            OutboundMessage.error_message.startswith("withdrawn")))
        opt_outs = session.scalar(select(func.count()).select_from(Volunteer).where(
            Volunteer.opted_out_at.is_not(None), Volunteer.opted_out_at >= clock.start))
        standby = standby_count(session, order_id)
        online_m = [float(d) for d in session.scalars(select(Assignment.distance_m).where(
            Assignment.order_id == order_id, Assignment.status.in_(list(ACTIVE)),
            Assignment.distance_m.is_not(None)))]
        quality = hindsight(session, order, sum(online_m), online_m)
        state = order.state.value
    return {
        "places": places,
        "filled": filled,
        # as a commander means it (see mobilize.drill.engine): taken and confirmed (or told, without confirmation)
        "fill_definition": trace.fill_definition,
        "filled_known": trace.ready_times[-1][1] if trace.ready_times else 0,
        "time_to_fill_s": _rounded(trace.first_fill_s),
        "time_to_95_s": first_time(trace.ready_times, 0.95 * places),
        # the database's fill: places taken (dispatch written), whether or not the volunteer knows yet
        "time_to_place_all_s": _rounded(trace.first_placed_s),
        "time_to_place_95_s": first_time(trace.fill_times, 0.95 * places),
        "time_to_told_95_s": first_time(trace.told_times, 0.95 * places),  # dispatch handed to the gateway
        "time_to_confirmed_95_s": first_time(trace.confirmed_times, 0.95 * places),
        # the longest any place stayed open while an accepted volunteer who qualifies for it waited unplaced
        "longest_idle_place_s": _rounded(max([trace.longest_idle_s,
                                               *(clock.t - s[0] for s in trace.idle_since.values())])),
        "sms_sent": int(sms_sent),
        "segments_sent": int(segments),
        "sms_by_kind": by_kind,  # written to the outbox, whether handed over, pending or withdrawn
        "sms_handed_by_kind": handed_by_kind,  # handed to the gateway
        "invitations_withdrawn": int(withdrawn or 0),  # still in the outbox when the order filled: never sent
        "standby": standby,
        "backfills": backfills,
        "capacity_violations": len(violations),
        "capacity_violation_details": violations,
        "per_street": per_street,
        "waves": order.waves_sent,
        "invited": sum(invitations.values()),
        "accepted": invitations.get(InvitationStatus.accepted, 0),
        "declines": invitations.get(InvitationStatus.declined, 0),
        "drop_outs": reasons.get("dropped_out", 0),
        "confirm_timeouts": reasons.get("confirm_timeout", 0),
        "no_shows": statuses.get(AssignmentStatus.no_show, 0),
        "opt_outs": opt_outs,
        "replies": dict(trace.replies),
        "replies_misread": {f"{meant}->{parsed}": n for (meant, parsed), n in trace.misread.items()},
        "order_state": state,
        "matching": quality,
        "reply_to_dispatch_s": {"p50": percentile(trace.reply_to_dispatch, 50),
                                "p95": percentile(trace.reply_to_dispatch, 95),
                                "n": len(trace.reply_to_dispatch)},
        "simulated_s": round(clock.t, 1),
        "config": {"volunteers": config.volunteers, "places": config.places, "seed": config.seed,
                   "time_scale": config.time_scale, "segments_per_second": config.segments_per_second,
                   "strategy": config.strategy, "hold_max_s": config.hold_max_s,
                   "expected_answer_rate": config.expected_answer_rate,
                   "confirmation_required": config.confirmation_required,
                   "end_after_told_95_s": config.end_after_told_95_s, "end_s": config.end_s,
                   "history_invitations": config.history_invitations},
        "events": {"matches": trace.matches, "sweeps": trace.sweeps},
        "peacetime": peacetime,
        **deadline_figures(config, places, int(segments), filled, first_time(trace.told_times, 0.95 * places)),
    }
