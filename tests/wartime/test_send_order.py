"""A wave's invitations leave nearest first: written to the outbox in order of distance, handed to the gateway
in that order by the real sender (the real `twilio` client, the simulator over HTTP), whatever the volunteers'
ids, for a normal wave and for an urgent order's "everyone at once"."""
from __future__ import annotations

import random

import numpy as np
import pytest
from sqlalchemy import select

from mobilize.models import OutboundMessage, Volunteer
from mobilize.wartime import waves
from tests import factories
from tests.stack import start_stack
from tests.wartime.conftest import BADAGUAN, launched, sites
from workers import sms as sms_jobs

METRES_PER_DEGREE_LON = 111_320 * 0.809  # cos(36 degrees)


def shuffled_crowd(session, n: int, seed: int = 7) -> dict[int, float]:
    """n volunteers east of the 八大关 site whose ids say nothing of their distance: {volunteer id: metres}."""
    distances = [100.0 * (i + 1) for i in range(n)]
    random.Random(seed).shuffle(distances)
    crowd = {}
    for number, metres in enumerate(distances):
        volunteer = factories.volunteer(session, "八大关", name=f"远近{number}", lat=BADAGUAN[0],
                                        lon=BADAGUAN[1] + metres / METRES_PER_DEGREE_LON)
        crowd[volunteer.id] = metres
    return crowd


def outbox_order(runtime) -> list[int]:
    """Volunteer ids of the invitations in the order the sender claims them (by outbox id)."""
    with runtime.transaction() as session:
        return list(session.scalars(select(OutboundMessage.volunteer_id).where(OutboundMessage.kind == "invitation")
                                    .order_by(OutboundMessage.id)))


def rank_correlation(a: list[float], b: list[float]) -> float:
    ranks_a, ranks_b = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def test_nearest_first_order_sorts_by_distance_then_id():
    ids = np.array([50, 10, 40, 20, 30])
    distance = np.array([300.0, 200.0, 200.0, 900.0, 100.0])
    chosen = np.array([0, 1, 2, 3, 4])
    assert waves.nearest_first_order(chosen, distance, ids).tolist() == [4, 1, 2, 0, 3]  # 100, 200 (id 10 < 40)...
    assert waves.nearest_first_order(np.array([3, 0]), distance, ids).tolist() == [0, 3]


@pytest.mark.parametrize("urgent", [False, pytest.param(True, marks=pytest.mark.paced)],
                         ids=["wave", "everyone-at-once"])
def test_the_outbox_holds_a_wave_nearest_first(rt, urgent):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = shuffled_crowd(session, 60)
    # 10 places, a fifth answer: a first wave of 50 of the 60 (urgent: all 60)
    launched(rt, [(site.id, "registration", 10)], expected_answer_rate=0.2, urgent=urgent, handed=False)
    order = outbox_order(rt)
    assert len(order) == (60 if urgent else 50)
    distances = [crowd[volunteer_id] for volunteer_id in order]
    assert distances == sorted(distances)
    assert set(order) <= set(crowd) and distances == sorted(crowd.values())[:len(order)]  # and the nearest ones


@pytest.fixture
def stack(tmp_path, database_url, redis_url, redis_client):
    live = start_stack(tmp_path / "instance", database_url, redis_url)
    yield live
    live.close()


def gateway_order(stack, n: int) -> list[str]:
    """The phones the simulator received invitations for, in the order they arrived."""
    received = stack.control.messages(direction="outbound-api", limit=n + 10)
    return [message["to"] for message in sorted(received, key=lambda message: message["seq"])]


@pytest.mark.paced  # the urgent order's "everyone at once"
def test_the_sender_hands_them_to_the_gateway_nearest_first(stack, monkeypatch):
    rt = stack.runtime
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = shuffled_crowd(session, 120, seed=11)
        phones = {volunteer.phone: crowd[volunteer.id]
                  for volunteer in session.scalars(select(Volunteer).where(Volunteer.id.in_(list(crowd))))}
    launched(rt, [(site.id, "registration", 30)], urgent=True, handed=False)
    # One request in flight: the gateway sees exactly the outbox's order.
    monkeypatch.setattr(sms_jobs, "SEND_THREADS", 1)
    sms_jobs.send_pending("bulk")
    arrived = [phones[phone] for phone in gateway_order(stack, 120)]
    assert len(arrived) == 120
    assert arrived == sorted(arrived)


@pytest.mark.paced
def test_with_many_requests_in_flight_the_order_still_follows_distance(stack):
    rt = stack.runtime
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = shuffled_crowd(session, 200, seed=13)
        phones = {volunteer.phone: crowd[volunteer.id]
                  for volunteer in session.scalars(select(Volunteer).where(Volunteer.id.in_(list(crowd))))}
    launched(rt, [(site.id, "registration", 40)], urgent=True, handed=False)
    sms_jobs.send_pending("bulk")  # SEND_THREADS requests in flight: arrivals may swap within that window
    arrived = [phones[phone] for phone in gateway_order(stack, 200)]
    assert len(arrived) == 200
    assert rank_correlation(list(range(len(arrived))), arrived) > 0.9  # by id it would be ~0 (the crowd is shuffled)
    window = sms_jobs.SEND_THREADS
    assert max(arrived[:window]) < min(arrived[-window:])  # the nearest all went before the farthest
