"""Drafting orders: validation that names every problem, reply codes, editing while a draft, the audit trail."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from mobilize.models import AuditEvent, Demand, Order
from mobilize.models._types import utcnow
from mobilize.wartime import drafts, lifecycle
from mobilize.wartime.drafts import DemandSpec
from mobilize.wartime.errors import InvalidOrder
from tests.wartime.conftest import COMMANDER, draft, later, sites, spec


@pytest.fixture
def site_ids(srt):
    with srt.transaction() as session:
        return [site.id for site in sites(session)]


@pytest.mark.parametrize("demands, overrides, field, words", [
    ([(999, "registration", 1)], {}, "demands[0]", "unknown site 999"),
    ([("A", "juggling", 1)], {}, "demands[0]", "unknown role 'juggling'"),
    ([("A", "registration", 0)], {}, "demands[0]", "capacity must be a whole number of at least 1"),
    ([("A", "registration", 1, "telepathy")], {}, "demands[0]", "unknown skill 'telepathy'"),
    ([("A", "medical_support", 1, "english")], {}, "demands[0]", "needs skill 'medical'"),
    ([("A", "registration", 1), ("A", "registration", 2)], {}, "demands[1]", "appear twice"),
    ([], {}, "demands", "at least one demand"),
    ([("A", "registration", 1)], {"ends_at": "before"}, "ends_at", "must end after it starts"),
    ([("A", "registration", 1)], {"expected_answer_rate": 0}, "expected_answer_rate", "more than 0"),
    ([("A", "registration", 1)], {"expected_answer_rate": 1.5}, "expected_answer_rate", "at most 1"),
    ([("A", "registration", 1)], {"over_recruit_factor": 0.5}, "over_recruit_factor", "between 1 and 10"),
    ([("A", "registration", 1)], {"streets": ("火星",)}, "streets", "unknown street(s): 火星"),
    ([("A", "registration", 1)], {"languages": ("fr",)}, "languages", "zh, en"),
    ([("A", "registration", 1)], {"title": " "}, "title", "1 to 80 characters"),
    ([("A", "registration", 1)], {"max_distance_m": -5}, "max_distance_m", "more than 0"),
])
def test_invalid_orders_are_refused_with_the_problem_named(srt, site_ids, demands, overrides, field, words):
    demands = [(site_ids[0] if d[0] == "A" else d[0], *d[1:]) for d in demands]
    if overrides.get("ends_at") == "before":
        overrides = {**overrides, "ends_at": later(23)}
    with pytest.raises(InvalidOrder) as error:
        with srt.transaction() as session:
            drafts.create_draft(session, spec(demands, **overrides), COMMANDER, utcnow())
    assert error.value.status == 422
    assert words in error.value.details[field], error.value.details
    assert words in error.value.message
    with srt.transaction() as session:  # nothing half-written
        assert session.scalar(select(func.count()).select_from(Order)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


@pytest.mark.parametrize("clock", ["00:00:00", "09:15:30", "17:00:00", "18:30:00", "23:00:00", "23:50:00",
                                   "23:58:59", "23:59:59"])
def test_the_forms_default_window_is_hours_long_and_accepted_at_any_time_of_day(srt, site_ids, clock):
    """Late in the evening the form used to offer a window ending at 23:59: minutes long, or (from 23:59) empty,
    so that saving the form untouched was refused."""
    now = datetime.fromisoformat(f"2026-12-07T{clock}").replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    starts_at, ends_at = drafts.default_window(now)
    assert starts_at == now.replace(second=0) and (starts_at.second, ends_at.minute, ends_at.second) == (0, 0, 0)
    assert timedelta(hours=5) < ends_at - starts_at <= timedelta(hours=6)
    with srt.transaction() as session:
        order = drafts.create_draft(session, spec([(site_ids[0], "registration", 1)], starts_at=starts_at,
                                                  ends_at=ends_at), COMMANDER, now)
        assert order.ends_at - order.starts_at == ends_at - starts_at


def test_all_problems_are_named_at_once(srt, site_ids):
    with pytest.raises(InvalidOrder) as error:
        with srt.transaction() as session:
            drafts.create_draft(session, spec([(site_ids[0], "nope", 0)], expected_answer_rate=2,
                                              ends_at=utcnow() - timedelta(days=2)), COMMANDER, utcnow())
    assert set(error.value.details) == {"demands[0]", "expected_answer_rate", "ends_at"}


def test_a_role_brings_its_skill_and_provisional_rule(srt, site_ids):
    order_id = draft(srt, [(site_ids[0], "medical_support", 2), (site_ids[0], "queue_keeping", 3),
                           (site_ids[1], "registration", 1, "english")])
    with srt.transaction() as session:
        demands = {d.role.code: d for d in session.get(Order, order_id).demands}
        assert demands["medical_support"].required_skill.code == "medical"
        assert demands["queue_keeping"].accepts_provisional and demands["queue_keeping"].required_skill is None
        assert demands["registration"].required_skill.code == "english"
        assert all(d.filled == 0 for d in demands.values())


def test_reply_codes_are_short_unique_among_live_orders_and_reused_last(srt, site_ids):
    demands = [(site_ids[0], "registration", 1)]
    first, second = draft(srt, demands), draft(srt, demands)
    with srt.transaction() as session:
        assert [session.get(Order, order_id).reply_code for order_id in (first, second)] == ["10", "11"]
    with srt.transaction() as session:
        lifecycle.cancel(session, first, COMMANDER, utcnow())
    third = draft(srt, demands)  # 10 is free again but never-used codes come first
    with srt.transaction() as session:
        assert session.get(Order, third).reply_code == "12"
        for number in range(13, 100):  # every two-digit code has been used once
            session.add(Order(title="old", reply_code=str(number), state="closed", starts_at=later(1),
                              ends_at=later(2), rest_hours=0, expected_answer_rate=0.5, over_recruit_factor=1.2,
                              wave_interval_s=600, confirmation_required=True, confirmation_timeout_s=1800,
                              open_call=False, waves_sent=0, created_at=utcnow() - timedelta(days=number)))
    fourth = draft(srt, demands)
    with srt.transaction() as session:
        assert session.get(Order, fourth).reply_code == "99"  # the one unused the longest


def test_update_while_draft_replaces_demands_and_is_audited(srt, site_ids):
    order_id = draft(srt, [(site_ids[0], "registration", 1), (site_ids[1], "registration", 2)])
    with srt.transaction() as session:
        drafts.update_draft(session, order_id, {"title": "第二轮", "demands": (
            DemandSpec(site_ids[0], "registration", 5), DemandSpec(site_ids[0], "queue_keeping", 2))},
            COMMANDER, utcnow())
    with srt.transaction() as session:
        order = session.get(Order, order_id)
        assert order.title == "第二轮"
        assert sorted((d.site_id, d.role.code, d.capacity) for d in order.demands) == sorted(
            [(site_ids[0], "registration", 5), (site_ids[0], "queue_keeping", 2)])
        assert session.scalar(select(func.count()).select_from(Demand)) == 2
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["order.created", "order.updated"]
    assert events[1].actor == "cmd" and events[1].details["changed"] == ["demands", "title"]


def test_update_rejects_unknown_fields_and_bad_values(srt, site_ids):
    order_id = draft(srt, [(site_ids[0], "registration", 1)])
    with pytest.raises(InvalidOrder, match="unknown field"):
        with srt.transaction() as session:
            drafts.update_draft(session, order_id, {"colour": "red"}, COMMANDER, utcnow())
    with pytest.raises(InvalidOrder, match="wave_interval_s"):
        with srt.transaction() as session:
            drafts.update_draft(session, order_id, {"wave_interval_s": 1}, COMMANDER, utcnow())
