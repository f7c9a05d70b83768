"""Notices: an audience by street, team, skill and language, previewed with exclusions and cost, sent once through
the outbox (bulk, deduplicated), read back with delivery counts; officers limited to their street."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from mobilize.accounts import issue_token
from mobilize.app import create_app
from mobilize.models import AuditEvent, OutboundMessage, OutboundStatus, Priority, User, UserRole, Volunteer
from mobilize.models._types import utcnow
from mobilize.sms import outbox
from mobilize.wartime import notices
from mobilize.wartime.audit import Actor
from mobilize.wartime.errors import Conflict
from tests import factories

ZH = "明日起八大关街道各核酸检测点开放时间调整为07:00-19:00，请相互转告。"


@pytest.fixture
def crowd(rt):
    """八大关: 3 zh (one opted out, one invalid phone), 1 en with first aid in team A, 1 provisional;
    湛山: 2 zh in team A."""
    with rt.transaction() as session:
        people = {
            "a": factories.volunteer(session, "八大关", "甲"),
            "b": factories.volunteer(session, "八大关", "乙"),
            "c": factories.volunteer(session, "八大关", "丙"),
            "en": factories.volunteer(session, "八大关", "Tom", language="en", skills=("first_aid",),
                                      teams=("A队",)),
            "prov": factories.volunteer(session, "八大关", "临时"),
            "z1": factories.volunteer(session, "湛山", "丁", teams=("A队",)),
            "z2": factories.volunteer(session, "湛山", "戊", teams=("A队",)),
        }
        people["b"].opted_out_at = utcnow()
        people["c"].phone_invalid = True
        people["prov"].provisional = True
        return {key: volunteer.id for key, volunteer in people.items()}


def create(rt, **spec) -> int:
    with rt.transaction() as session:
        return notices.create(session, notices.NoticeSpec(**{"texts": {"zh": ZH}, **spec}), Actor("cmd"),
                              utcnow()).id


def preview(rt, notice_id: int) -> dict:
    with rt.transaction() as session:
        return notices.preview(session, notices.get(session, notice_id))


def send(rt, notice_id: int):
    with rt.transaction() as session:
        return notices.send(session, notice_id, Actor("cmd"), utcnow()).recipients


def notice_messages(rt, notice_id: int) -> list[OutboundMessage]:
    with rt.transaction() as session:
        return list(session.scalars(select(OutboundMessage).where(
            OutboundMessage.dedupe_key.startswith(notices.key_prefix(notice_id))).order_by(OutboundMessage.id)))


def test_preview_counts_exclusions_and_cost(rt, crowd):
    notice_id = create(rt, streets=["八大关"], texts={"zh": ZH, "en": "Testing sites open 07:00-19:00 tomorrow."})
    got = preview(rt, notice_id)
    assert got["recipients"] == 2 and got["by_language"] == {"zh": 1, "en": 1}
    assert got["excluded"] == {"opted_out": 1, "phone_invalid": 1, "provisional": 1}
    assert got["sms"]["segments_per_message"] == {"zh": 1, "en": 1}
    assert got["sms"] == {"messages": 2, "segments": 2, "segments_per_message": {"zh": 1, "en": 1}}
    assert got["texts"]["zh"] == "【通知】" + ZH
    with_provisional = create(rt, streets=["八大关街道"], include_provisional=True)
    assert preview(rt, with_provisional)["recipients"] == 3
    # filters: team AND street; skill; language; an English volunteer without an English text gets the Chinese
    assert preview(rt, create(rt, teams=["A队"]))["recipients"] == 3
    assert preview(rt, create(rt, teams=["A队"], streets=["湛山"]))["recipients"] == 2
    assert preview(rt, create(rt, skills=["first_aid"]))["recipients"] == 1
    only_en = preview(rt, create(rt, languages=["en"]))
    assert only_en["recipients"] == 1 and only_en["texts"]["en"] == "【通知】" + ZH


def test_send_once_through_the_outbox(rt, crowd):
    notice_id = create(rt, streets=["八大关"], texts={"zh": ZH, "en": "Sites open 07:00-19:00."})
    assert send(rt, notice_id) == 2
    messages = notice_messages(rt, notice_id)
    assert sorted(m.volunteer_id for m in messages) == sorted([crowd["a"], crowd["en"]])
    assert {(m.kind, m.priority, m.status) for m in messages} == {("notice", Priority.bulk, OutboundStatus.pending)}
    assert {m.dedupe_key for m in messages} == {notices.dedupe_key(notice_id, crowd[k]) for k in ("a", "en")}
    assert next(m for m in messages if m.volunteer_id == crowd["en"]).body == "Notice: Sites open 07:00-19:00."
    with pytest.raises(Conflict):
        send(rt, notice_id)
    assert len(notice_messages(rt, notice_id)) == 2
    with rt.transaction() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "notice.sent", AuditEvent.subject_id == notice_id)) == 1


def test_opted_out_after_send_is_cancelled_and_counts_follow_the_outbox(rt, crowd):
    notice_id = create(rt, streets=["八大关"], texts={"zh": ZH, "en": "Sites open."})
    send(rt, notice_id)
    messages = notice_messages(rt, notice_id)
    with rt.transaction() as session:
        outbox.mark_opted_out(session, crowd["en"])
        session.execute(update(OutboundMessage).where(OutboundMessage.volunteer_id == crowd["a"],
                                                      OutboundMessage.kind == "notice")
                        .values(status=OutboundStatus.delivered))
        counts = notices.delivery(session, notice_id)
    assert len(messages) == 2
    assert (counts["queued"], counts["delivered"], counts["cancelled"], counts["failed"]) == (0, 1, 1, 0)


def test_invalid_notices_name_the_problem(rt, crowd):
    from mobilize.wartime.notices import InvalidNotice

    for spec, key in (({"texts": {}}, "texts"), ({"streets": ["火星"]}, "streets"), ({"teams": ["无此队"]}, "teams"),
                      ({"skills": ["flying"]}, "skills"), ({"texts": {"zh": "长" * 301}}, "texts.zh"),
                      ({"languages": ["fr"]}, "languages")):
        with pytest.raises(InvalidNotice) as error:
            create(rt, **spec)
        assert key in error.value.details


# --- the API ------------------------------------------------------------------------------------------------


@pytest.fixture
def api(srt):
    with srt.transaction() as session:
        tokens = {}
        for username, role, street in (("cmd", "commander", None), ("off", "officer", "八大关"),
                                       ("zhan", "officer", "湛山"), ("view", "viewer", None)):
            user = User(username=username, password_hash="-", role=UserRole(role), active=True, failed_logins=0,
                        street_id=factories.street(session, street).id if street else None)
            session.add(user)
            session.flush()
            tokens[username] = issue_token(session, user)
        for i in range(3):
            factories.volunteer(session, "八大关", f"八{i}")
        factories.volunteer(session, "湛山", "湛")
        quiet = factories.volunteer(session, "八大关", "退")
        quiet.opted_out_at = utcnow()
    return {"client": create_app(runtime=srt).test_client(), "tokens": tokens}


def h(api, who: str) -> dict:
    return {"Authorization": f"Bearer {api['tokens'][who]}"}


def test_api_draft_preview_send_list_read(srt, api):
    client = api["client"]
    made = client.post("/api/v1/notices", json={"texts": {"zh": ZH}, "streets": ["八大关"]}, headers=h(api, "cmd"))
    assert made.status_code == 201, made.json
    notice = made.json
    assert notice["state"] == "draft" and notice["streets"] == ["八大关街道"]
    got = client.get(f"/api/v1/notices/{notice['id']}/preview", headers=h(api, "cmd")).json
    assert got["recipients"] == 3 and got["excluded"]["opted_out"] == 1 and got["sms"]["segments"] == 3
    sent = client.post(f"/api/v1/notices/{notice['id']}/send", headers=h(api, "cmd"))
    assert sent.status_code == 200 and sent.json["state"] == "sent" and sent.json["recipients"] == 3
    assert sent.json["delivery"]["queued"] == 3
    again = client.post(f"/api/v1/notices/{notice['id']}/send", headers=h(api, "cmd"))
    assert again.status_code == 409 and again.json["error"]["code"] == "already_sent"
    with srt.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboundMessage)) == 3
    read = client.get(f"/api/v1/notices/{notice['id']}", headers=h(api, "view")).json
    assert read["delivery"]["queued"] == 3 and read["segments"] == 3
    listing = client.get("/api/v1/notices", headers=h(api, "view")).json
    assert [n["id"] for n in listing["items"]] == [notice["id"]] and listing["pagination"]["total"] == 1
    assert client.get("/api/v1/notices/999", headers=h(api, "cmd")).status_code == 404


@pytest.mark.parametrize("payload", [{}, {"texts": "hello"}, {"texts": {"zh": "x" * 301}}, {"texts": {}},
                                     {"texts": {"zh": ZH}, "streets": ["火星"]},
                                     {"texts": {"zh": ZH}, "languages": ["fr"]},
                                     {"texts": {"zh": ZH}, "skills": ["flying"]},
                                     {"texts": {"zh": ZH}, "include_provisional": "maybe"}])
def test_api_bad_payloads_get_422(srt, api, payload):
    response = api["client"].post("/api/v1/notices", json=payload, headers=h(api, "cmd"))
    assert response.status_code == 422, response.json
    assert set(response.json["error"]) == {"code", "message", "details"}
    with srt.transaction() as session:
        assert session.scalar(select(func.count()).select_from(notices.Notice)) == 0


def test_api_officers_reach_their_own_street_only(srt, api):
    client = api["client"]
    own = client.post("/api/v1/notices", json={"texts": {"zh": ZH}}, headers=h(api, "off"))
    assert own.status_code == 201 and own.json["streets"] == ["八大关街道"]  # limited to their street
    other = client.post("/api/v1/notices", json={"texts": {"zh": ZH}, "streets": ["湛山"]}, headers=h(api, "off"))
    assert other.status_code == 403
    wide = client.post("/api/v1/notices", json={"texts": {"zh": ZH}, "streets": ["八大关", "湛山"]},
                       headers=h(api, "off"))
    assert wide.status_code == 403
    district = client.post("/api/v1/notices", json={"texts": {"zh": ZH}}, headers=h(api, "cmd")).json
    assert client.post(f"/api/v1/notices/{district['id']}/send", headers=h(api, "off")).status_code == 403
    assert client.get(f"/api/v1/notices/{district['id']}", headers=h(api, "off")).status_code == 403
    assert client.get(f"/api/v1/notices/{own.json['id']}", headers=h(api, "zhan")).status_code == 403
    assert client.post(f"/api/v1/notices/{own.json['id']}/send", headers=h(api, "zhan")).status_code == 403
    assert client.post("/api/v1/notices", json={"texts": {"zh": ZH}}, headers=h(api, "view")).status_code == 403
    sent = client.post(f"/api/v1/notices/{own.json['id']}/send", headers=h(api, "off"))
    assert sent.status_code == 200 and sent.json["recipients"] == 3
    listing = client.get("/api/v1/notices", headers=h(api, "off")).json
    assert [n["id"] for n in listing["items"]] == [own.json["id"]]
    with srt.transaction() as session:
        phones = set(session.scalars(select(Volunteer.street_id).join(
            OutboundMessage, OutboundMessage.volunteer_id == Volunteer.id)))
        assert phones == {factories.street(session, "八大关").id}
