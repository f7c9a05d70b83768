"""Previews agree exactly with the actions (issue 10): for every action, the messages a preview shows are the
messages the action then writes, volunteer by volunteer, template by template, text by text; and a preview
writes nothing at all (every table's rows, the outbox included, and the transaction's after-commit wishes)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from mobilize.accounts import issue_token
from mobilize.app import create_app
from mobilize.db import Base
from mobilize.models import Order, OrderState, OutboundMessage, User, UserRole
from mobilize.models._types import utcnow
from mobilize.wartime import followups, previews, waves
from mobilize.wartime.drafts import DemandSpec
from mobilize.wartime.errors import Conflict
from tests import factories
from tests.wartime.conftest import COMMANDER, ZHANSHAN, draft, people, sites
from tests.wartime.test_endings import scene

PRICE = 0.045


def row_counts(rt) -> dict[str, int]:
    with rt.transaction() as session:
        return {table.name: session.scalar(select(func.count()).select_from(table))
                for table in Base.metadata.sorted_tables}


def preview(rt, order_id: int, action: str, now, **args) -> previews.ActionPreview:
    with rt.transaction() as session:
        info_before = {key: set(value) if isinstance(value, set) else value for key, value in session.info.items()}
        result = previews.preview_action(session, order_id, action, now, price_per_segment=PRICE, **args)
        assert session.info == info_before  # no wave, match or sender kick requested by a preview
    return result


def act(rt, order_id: int, action: str, now, **args) -> list[tuple[int, str, str]]:
    """Do the action (and its immediate follow-ups) for real; the (volunteer, template, text) it wrote."""
    with rt.transaction() as session:
        before = session.scalar(select(func.max(OutboundMessage.id))) or 0
        previews.run_action(session, order_id, action, now, actor=COMMANDER, **args)
    with rt.transaction() as session:
        rows = session.execute(select(OutboundMessage.volunteer_id, OutboundMessage.kind, OutboundMessage.body)
                               .where(OutboundMessage.id > before).order_by(OutboundMessage.id)).all()
    return [tuple(row) for row in rows]


def shown(result: previews.ActionPreview) -> list[tuple[int, str, str]]:
    return [(m["volunteer_id"], m["template"], m["text"]) for m in result.messages]


def check_preview_then_action(rt, order_id: int, action: str, **args) -> previews.ActionPreview:
    now = utcnow()
    counts = row_counts(rt)
    result = preview(rt, order_id, action, now, **args)
    assert row_counts(rt) == counts, "a preview wrote something"
    assert result.messages, f"{action}: the scene should make it send something"
    assert act(rt, order_id, action, now, **args) == shown(result)
    assert result.sms_count == len(result.messages)
    assert result.segments == sum(m["segments"] for m in result.messages)
    assert sum(result.by_template.values()) == result.sms_count
    assert result.estimated_cost == round(result.segments * PRICE, 2)
    return result


def crowd_and_draft(rt, capacity: int = 2, **overrides) -> tuple[int, list]:
    with rt.transaction() as session:
        site, other = sites(session)
        crowd = people(session, 4) + people(session, 3, "湛山", near=ZHANSHAN, language="en")
    order_id = draft(rt, [(site.id, "registration", capacity), (other.id, "queue_keeping", 1)], **overrides)
    return order_id, crowd


def test_launch_preview_is_the_first_wave(rt):
    order_id, crowd = crowd_and_draft(rt, expected_answer_rate=0.5)
    result = check_preview_then_action(rt, order_id, "launch")
    assert set(result.by_template) == {"invitation"} and result.recipients_by_status == {
        previews.NOT_INVITED: result.sms_count}
    languages = {m["language"] for m in result.messages}
    assert languages == {"zh", "en"}  # each in the volunteer's own language
    english = next(m for m in result.messages if m["language"] == "en")
    assert english["text"].startswith("Call-out #") and english["phone"].startswith("+86")
    assert {m["name"] for m in result.messages} <= {v.name for v in crowd}


def test_top_up_preview_is_its_wave_and_its_matching(rt):
    s = scene(rt)
    with rt.transaction() as session:
        site_id = session.get(Order, s.order_id).demands[0].site_id
    result = check_preview_then_action(rt, s.order_id, "top_up", additions=[DemandSpec(site_id, "registration", 1)],
                                       hold_max_s=0)
    assert result.by_template.get("dispatch") == 1  # the nearest on standby takes the new place
    assert result.recipients_by_status.get("accepted") == 1


@pytest.mark.parametrize("action", ["stop_recruiting", "finish", "cancel"])
def test_ending_previews_are_exactly_what_the_endings_send(rt, action):
    s = scene(rt, started=True)
    result = check_preview_then_action(rt, s.order_id, action)
    expected = {"stop_recruiting": ({"not_needed": 2}, {"accepted": 2}),
                "finish": ({"not_needed": 2, "thank_you": 1}, {"accepted": 2, "arrived": 1}),
                "cancel": ({"order_cancelled": 5}, {"accepted": 2, "arrived": 1, "confirmed": 1, "notified": 1})}
    assert (result.by_template, result.recipients_by_status) == expected[action]
    # besides texting: the scene's confirmed and notified volunteers never arrived (finish: no-shows); cancel
    # releases them and the arrived one
    effects = {"stop_recruiting": {"no_shows": 0, "released": 0}, "finish": {"no_shows": 2, "released": 2},
               "cancel": {"no_shows": 0, "released": 3}}
    assert {key: result.effects[key] for key in ("no_shows", "released")} == effects[action]


def test_finish_after_stop_recruiting_previews_only_the_thanks(rt):
    s = scene(rt, started=True)
    check_preview_then_action(rt, s.order_id, "stop_recruiting")
    result = check_preview_then_action(rt, s.order_id, "finish")
    assert result.by_template == {"thank_you": 1}


def test_a_refused_action_is_refused_by_its_preview_too(rt):
    s = scene(rt)  # the window starts tomorrow
    counts = row_counts(rt)
    with pytest.raises(Conflict) as error:
        preview(rt, s.order_id, "finish", utcnow())
    assert error.value.code == "window_not_started"
    with pytest.raises(Conflict) as error:
        preview(rt, s.order_id, "launch", utcnow())
    assert error.value.code == "illegal_transition"
    with pytest.raises(previews.UnknownAction, match="stop_recruiting"):
        preview(rt, s.order_id, "close", utcnow())
    assert row_counts(rt) == counts


def test_a_preview_inside_a_transaction_keeps_its_wishes_and_its_own_writes(rt):
    s = scene(rt)
    with rt.transaction() as session:
        followups.request_match(session, s.order_id)
        session.info.setdefault("queued_priorities", set()).add("high")
        session.execute(update(Order).where(Order.id == s.order_id).values(title="改过的标题"))
        result = previews.preview_action(session, s.order_id, "cancel", utcnow())
        assert session.info[followups.MATCH] == {s.order_id} and session.info["queued_priorities"] == {"high"}
        assert followups.WAVE not in session.info
        assert session.get(Order, s.order_id).title == "改过的标题"  # the caller's own change is kept
        assert session.get(Order, s.order_id).state is OrderState.filled
    assert all("改过的标题" in m["text"] for m in result.messages)
    with rt.transaction() as session:
        assert session.get(Order, s.order_id).title == "改过的标题"


# --- the API ---------------------------------------------------------------------------------------------------


@pytest.fixture
def api(rt):
    with rt.transaction() as session:
        tokens = {}
        for username, role, street in (("cmd", "commander", None), ("view", "viewer", None),
                                       ("off", "officer", "八大关")):
            user = User(username=username, password_hash="-", role=UserRole(role), active=True, failed_logins=0,
                        street_id=factories.street(session, street).id if street else None)
            session.add(user)
            session.flush()
            tokens[username] = {"Authorization": f"Bearer {issue_token(session, user)}"}
    return create_app(runtime=rt).test_client(), tokens


def test_api_previews_every_action_masks_phones_for_viewers_and_refuses_officers(rt, api):
    client, auth = api
    s = scene(rt)
    url = f"/api/v1/orders/{s.order_id}/preview"
    counts = row_counts(rt)
    stop = client.get(f"{url}/stop-recruiting", headers=auth["cmd"])
    assert stop.status_code == 200, stop.json
    body = stop.json
    assert body["by_template"] == {"not_needed": 2} and body["recipients_by_status"] == {"accepted": 2}
    assert body["currency"] == "CNY" and body["estimated_cost"] == round(body["segments"] * 0.045, 2)
    assert body["effects"]["no_shows"] == 0 and body["effects"]["withdrawn"] >= 0
    assert all(m["phone"].startswith("+86") and "*" not in m["phone"] for m in body["messages"])
    masked = client.get(f"{url}/stop-recruiting", headers=auth["view"]).json
    assert [m["text"] for m in masked["messages"]] == [m["text"] for m in body["messages"]]
    assert all("****" in m["phone"] for m in masked["messages"])
    assert client.get(f"{url}/cancel", headers=auth["off"]).status_code == 403
    finish = client.get(f"{url}/finish", headers=auth["cmd"])
    assert finish.status_code == 409 and finish.json["error"]["code"] == "window_not_started"
    unknown = client.get(f"{url}/close", headers=auth["cmd"])
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "unknown_action"
    for name in ("launch", "top-up", "stop-recruiting", "finish", "cancel"):
        assert name in unknown.json["error"]["message"]
    assert client.get(f"{url}/launch", headers=auth["cmd"]).status_code == 409
    assert row_counts(rt) == counts
    stopped = client.post(f"/api/v1/orders/{s.order_id}/stop-recruiting", headers=auth["cmd"])
    assert stopped.status_code == 200 and stopped.json["told"] == 2


def test_api_top_up_preview_by_query_or_body(rt, api):
    client, auth = api
    s = scene(rt)
    with rt.transaction() as session:
        site_id = session.get(Order, s.order_id).demands[0].site_id
    demands = [{"site_id": site_id, "role": "registration", "add": 1}]
    url = f"/api/v1/orders/{s.order_id}/preview/top-up"
    counts = row_counts(rt)
    by_query = client.get(url, query_string={"demands": json.dumps(demands)}, headers=auth["cmd"])
    assert by_query.status_code == 200, by_query.json
    by_body = client.post(url, json={"demands": demands}, headers=auth["cmd"])
    assert by_body.status_code == 200 and by_body.json["messages"] == by_query.json["messages"]
    assert row_counts(rt) == counts
    missing = client.get(url, headers=auth["cmd"])
    assert missing.status_code == 422 and "demands" in missing.json["error"]["message"]
    bad = client.get(url, query_string={"demands": "[{"}, headers=auth["cmd"])
    assert bad.status_code == 422 and "JSON" in bad.json["error"]["message"]
    invalid = client.get(url, query_string={"demands": json.dumps([{"site_id": site_id, "add": 0}])},
                         headers=auth["cmd"])
    assert invalid.status_code == 422 and "role" in invalid.json["error"]["message"]
    spec = client.get("/api/v1/openapi.json").json
    assert "/api/v1/orders/{order_id}/preview/{action}" in spec["paths"]
    assert "post" in spec["paths"]["/api/v1/orders/{order_id}/preview/top-up"]


def test_api_launch_preview_then_launch_and_wave_send_exactly_it(rt, api):
    client, auth = api
    order_id, _ = crowd_and_draft(rt, expected_answer_rate=0.5)
    shown_messages = client.get(f"/api/v1/orders/{order_id}/preview/launch", headers=auth["cmd"]).json["messages"]
    assert client.post(f"/api/v1/orders/{order_id}/launch", headers=auth["cmd"]).status_code == 200
    with rt.transaction() as session:  # the wave job the launch requested
        waves.send_wave(session, order_id, utcnow())
    with rt.transaction() as session:
        written = session.execute(select(OutboundMessage.volunteer_id, OutboundMessage.kind, OutboundMessage.body)
                                  .order_by(OutboundMessage.id)).all()
    assert [tuple(row) for row in written] == [(m["volunteer_id"], m["template"], m["text"])
                                               for m in shown_messages]


def test_the_price_per_segment_is_a_setting():
    from config import Settings

    settings = Settings.from_env({"SMS_PRICE_PER_SEGMENT": "0.05"}, load_dotenv_file=False)
    assert settings.sms_price_per_segment == 0.05 and settings.sms_currency == "CNY"
    assert Settings.from_env({}, load_dotenv_file=False).sms_price_per_segment == 0.045
