"""The audience preview: who is eligible, who is excluded and why, what the invitations cost; fast on 100,000."""
from __future__ import annotations

import random
from sqlalchemy import select, update

from mobilize.domain.segments import count_segments
from mobilize.models import Order, Street
from mobilize.models._types import utcnow
from mobilize.wartime import lifecycle
from mobilize.wartime.audience import REASONS, preview
from mobilize.wartime.places import place
from tests.wartime.conftest import BADAGUAN, COMMANDER, draft, later, launched, people, sites


def _preview(runtime, order_id):
    with runtime.transaction() as session:
        return preview(session, session.get(Order, order_id))


def test_every_exclusion_reason_is_counted_once(rt):
    with rt.transaction() as session:
        site, other_site = sites(session)
        people(session, 3, skills=("medical",))  # eligible
        opted, invalid, lang, rest, nocoord, noskill = people(session, 6, skills=("medical",), step_m=50)
        opted.opted_out_at = utcnow()
        invalid.phone_invalid = True
        lang.language = "en"
        nocoord.lat = nocoord.lon = None
        noskill.skills = []
        people(session, 1, "湛山", skills=("medical",))  # wrong street
        people(session, 1, near=(BADAGUAN[0] + 0.2, BADAGUAN[1]), skills=("medical",))  # ~22 km north: too far
        # opted out AND far: counted once, under the first reason
        both = people(session, 1, near=(BADAGUAN[0] + 0.2, BADAGUAN[1]), skills=("medical",))[0]
        both.opted_out_at = utcnow()
        rest_id = rest.id
    # `rest` serves on another order four hours before this one starts
    busy = draft(rt, [(other_site.id, "registration", 1)], starts_at=later(16), ends_at=later(20))
    with rt.transaction() as session:
        lifecycle.launch(session, busy, COMMANDER, utcnow())
        demand_id = session.get(Order, busy).demands[0].id
        assert place(session, busy, demand_id, rest_id, utcnow()) is not None
    order_id = draft(rt, [(site.id, "medical_support", 2)], streets=("八大关",), languages=("zh",), rest_hours=6,
                     max_distance_m=5000)
    result = _preview(rt, order_id)
    assert result.eligible == 3
    assert result.excluded == {"opted_out": 2, "phone_invalid": 1, "already_invited": 0, "wrong_street": 1,
                               "language": 1, "resting": 1, "no_coordinates": 1, "missing_skill": 1,
                               "too_far": 1, "busy_protected_post": 0, "busy_peacetime_shift": 0}  # issue 5
    assert list(result.excluded) == list(REASONS)
    # with a shorter rest the volunteer is available again
    with rt.transaction() as session:
        session.execute(update(Order).where(Order.id == order_id).values(rest_hours=2))
    assert _preview(rt, order_id).excluded["resting"] == 0


def test_already_invited_shows_after_a_wave(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        people(session, 10)
    order_id = launched(rt, [(site.id, "registration", 2)], expected_answer_rate=0.5)
    result = _preview(rt, order_id)
    assert result.excluded["already_invited"] == 4 and result.eligible == 6


def test_sms_count_and_segments(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        people(session, 5)
        people(session, 3, language="en", step_m=1000)  # farther than the Chinese speakers
    order_id = draft(rt, [(site.id, "registration", 2)], expected_answer_rate=0.5)
    result = _preview(rt, order_id)
    assert result.invitations == result.eligible == 8
    with rt.transaction() as session:
        order = session.get(Order, order_id)
        from mobilize.domain.templates import render
        from mobilize.wartime.messages import area_name, invitation_values

        street = session.scalar(select(Street).where(Street.short_name == "八大关"))
        each = {language: count_segments(render("invitation", language, **invitation_values(
            order, language, area_name(street, language)))).segments for language in ("zh", "en")}
    assert result.segments_per_invitation == each
    assert result.segments == 5 * each["zh"] + 3 * each["en"]
    assert result.first_wave == 4 and result.first_wave_segments == 4 * each["zh"]  # the 4 nearest (all zh)
    assert result.as_dict()["sms"]["first_wave"] == {"invitations": 4, "segments": 4 * each["zh"]}


def test_preview_of_100000_volunteers(srt):
    """The preview's figures on a registry of the district's size (its speed is for benchmarks, not asserted)."""
    with srt.transaction() as session:
        street_ids = list(session.scalars(select(Street.id)))
        site_rows = [sites(session, ((s, f"点{i}", (36.05 + i * 0.003, 120.30 + i * 0.01)),))[0]
                     for i, s in enumerate(("八大关", "湛山", "中山路", "云南路", "江苏路", "八大湖"))]
    rng = random.Random(7)
    stamp = "2026-01-01 00:00:00.000000"
    rows = [(f"v{i}", f"+86137{i:08d}", rng.choice(street_ids), 36.03 + rng.random() * 0.06,
             120.28 + rng.random() * 0.15, "zh", 0, int(i % 97 == 0), 0, "", stamp, stamp,
             stamp if i % 50 == 0 else None) for i in range(100_000)]
    with srt.transaction() as session:  # straight through the driver: the subject here is reading them
        session.connection().exec_driver_sql(
            "INSERT INTO volunteers (name, phone, street_id, lat, lon, language, location_approximate, "
            "phone_invalid, provisional, notes, created_at, updated_at, opted_out_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    order_id = draft(srt, [(s.id, role, 20) for s in site_rows for role in ("registration", "queue_keeping")],
                     max_distance_m=6000)
    result = _preview(srt, order_id)
    assert result.eligible + sum(result.excluded.values()) == 100_000
    assert result.excluded["opted_out"] == 2000 and result.excluded["too_far"] > 0


def test_column_wise_costs_are_exactly_those_of_matching():
    import numpy as np

    from mobilize.domain.matching import Candidate, Slot, pair_costs
    from mobilize.wartime.audience import WEIGHTS, Pool, pool_pair_costs

    rng = np.random.default_rng(3)
    n = 300
    pool = Pool(np.arange(1, n + 1), rng.integers(1, 4, n), 36.0 + rng.random(n) * 0.1, 120.3 + rng.random(n) * 0.1,
                np.array(["zh"] * n), np.zeros(n, bool), np.zeros(n, bool), rng.random(n) < 0.2)
    medical = rng.random(n) < 0.3
    rules = [Slot(1, 36.05, 120.35, 1, 3, None, True), Slot(2, 36.07, 120.33, 2, 2, "medical", False),
             Slot(3, 36.02, 120.38, 3, 1, None, False)]
    positions = np.arange(n)
    distance, cost = pool_pair_costs(pool, positions, rules, {"medical": medical})
    people = [Candidate(int(pool.ids[i]), float(pool.lat[i]), float(pool.lon[i]),
                        frozenset({"medical"} if medical[i] else ()), int(pool.street_ids[i]),
                        bool(pool.provisional[i])) for i in positions]
    expected_distance, expected_cost = pair_costs(people, rules, WEIGHTS, None)
    assert np.allclose(distance, expected_distance)
    assert np.array_equal(cost, expected_cost)


def test_the_registry_read_is_reused_until_a_volunteer_changes(rt):
    """Issue 15: the pool is read again only when the registry moved (here: an opt-out by a Core UPDATE, an edit
    through the ORM, a new volunteer), never served stale."""
    from mobilize.models import Volunteer
    from mobilize.wartime.audience import load_pool

    with rt.transaction() as session:
        sites(session)
        first, second = people(session, 2)
        first_id, second_id = first.id, second.id
    with rt.transaction() as session:
        pool = load_pool(session)
        assert load_pool(session) is pool and not pool.opted_out.any()
    with rt.transaction() as session:
        session.execute(update(Volunteer).where(Volunteer.id == first_id).values(opted_out_at=utcnow()))
    with rt.transaction() as session:
        pool = load_pool(session)
        assert pool.opted_out.tolist() == [True, False]
    with rt.transaction() as session:
        session.get(Volunteer, second_id).language = "en"
    with rt.transaction() as session:
        pool = load_pool(session)
        assert pool.language.tolist() == ["zh", "en"]
    with rt.transaction() as session:
        people(session, 1)
    with rt.transaction() as session:
        assert len(load_pool(session).ids) == 3


def test_a_patched_registry_read_equals_a_whole_one(rt, monkeypatch):
    """Issue 15: after a change the pool is patched with the rows changed since (not read whole again); whatever
    the change (opt-out, edit, new volunteer, deactivation, bounced number), the patch equals a whole read."""
    import numpy as np

    from mobilize.models import Volunteer
    from mobilize.wartime import audience

    def same_as_a_whole_read(session) -> None:
        pool, whole = audience.load_pool(session), audience._read_pool(session)
        for patched, read in zip(audience._columns(pool), audience._columns(whole)):
            assert patched.dtype == read.dtype
            assert np.array_equal(patched, read, equal_nan=patched.dtype.kind == "f")

    with rt.transaction() as session:
        sites(session)
        ids = [v.id for v in people(session, 6)]
    with rt.transaction() as session:
        same_as_a_whole_read(session)
    changes = [
        lambda s: s.execute(update(Volunteer).where(Volunteer.id == ids[0]).values(opted_out_at=utcnow())),
        lambda s: setattr(s.get(Volunteer, ids[1]), "lat", None),
        lambda s: people(s, 2, street="湛山"),
        lambda s: setattr(s.get(Volunteer, ids[2]), "deactivated_at", utcnow()),
        lambda s: s.execute(update(Volunteer).where(Volunteer.id == ids[3]).values(phone_invalid=True)),
        lambda s: setattr(s.get(Volunteer, ids[2]), "deactivated_at", None),  # back in the pool, in id order
    ]
    patched = []
    patch = audience._patched_pool
    monkeypatch.setattr(audience, "_patched_pool", lambda *args: patched.append(patch(*args)) or patched[-1])
    for change in changes:
        with rt.transaction() as session:
            change(session)
        with rt.transaction() as session:
            same_as_a_whole_read(session)
    assert len(patched) == len(changes) and None not in patched  # each change patched, none read whole
