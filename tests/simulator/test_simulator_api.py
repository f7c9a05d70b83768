"""The simulator's Messages REST API, driven by the real twilio client, against Twilio's own contract."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from sim_support import ACCOUNT_SID, AUTH_TOKEN, SERVICE_NUMBER, wait_until
from mobilize.domain.segments import segments
from mobilize.sms.twilio_client import make_twilio_client

VOLUNTEER = "+8613800138000"
MESSAGING_SERVICE = "MG" + "ab" * 16


def raw(sim, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{sim.url}/2010-04-01/Accounts/{ACCOUNT_SID}{path}",
                            auth=(ACCOUNT_SID, AUTH_TOKEN), **kwargs)


def test_real_client_creates_fetches_and_lists(client, sim):
    body = "【招募令 #27】明早8点 八大关街道检测点，回复 Y27 参加，N27 不参加"
    created = client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body=body)
    assert created.sid.startswith("SM") and len(created.sid) == 34
    assert created.status == "queued"
    assert created.body == body
    assert created.num_segments == str(segments(body))
    assert created.direction == "outbound-api"
    assert created.account_sid == ACCOUNT_SID
    assert created.date_created is not None  # parsed from RFC 2822 by the client

    fetched = wait_until(lambda: (lambda m: m if m.status == "delivered" else None)(
        client.messages(created.sid).fetch()))
    assert fetched.sid == created.sid
    assert fetched.date_sent is not None
    assert fetched.price is not None and fetched.price_unit == "USD"

    listed = client.messages.list(to=VOLUNTEER)
    assert [message.sid for message in listed] == [created.sid]


def test_message_json_validates_against_twilio_schema(sim, openapi, message_validator):
    properties = set(openapi["components"]["schemas"]["api.v2010.account.message"]["properties"])
    created = raw(sim, "POST", "/Messages.json",
                  data={"To": VOLUNTEER, "From": SERVICE_NUMBER, "Body": "Hello! 👍"})
    assert created.status_code == 201
    assert created.headers["Content-Type"].startswith("application/json")
    message_validator.validate(created.json())
    assert set(created.json()) == properties

    sid = created.json()["sid"]
    delivered = wait_until(lambda: (lambda r: r if r.json()["status"] == "delivered" else None)(
        raw(sim, "GET", f"/Messages/{sid}.json")))
    message_validator.validate(delivered.json())
    assert delivered.json()["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json"
    assert delivered.json()["subresource_uris"]["media"].endswith(f"/Messages/{sid}/Media.json")

    page = raw(sim, "GET", "/Messages.json").json()
    assert page["messages"]
    for message in page["messages"]:
        message_validator.validate(message)


def test_schema_rejects_what_twilio_would_not_send(message_validator):
    """The validator is not vacuous: a wrong status, a wrong sid or a bad date are caught."""
    good = {"sid": "SM" + "0" * 32, "status": "delivered", "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
            "num_segments": "1", "error_code": None}
    message_validator.validate(good)
    for bad in ({"status": "done"}, {"sid": "XX" + "0" * 32}, {"date_created": "2023-08-24"},
                {"num_segments": 1}, {"error_code": "30003"}):
        assert not message_validator.is_valid({**good, **bad}), bad


def test_list_paging_follows_next_page_uri(client, sim):
    sids = [client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body=f"message {index}").sid
            for index in range(7)]
    client.messages.create(to="+8613800138001", from_=SERVICE_NUMBER, body="someone else")

    listed = client.messages.list(to=VOLUNTEER, page_size=3)
    assert [message.sid for message in listed] == list(reversed(sids))  # newest first, across three pages
    assert [message.sid for message in client.messages.stream(to=VOLUNTEER, limit=4, page_size=2)] == \
        list(reversed(sids))[:4]

    page = client.messages.page(to=VOLUNTEER, page_size=3)
    assert len(list(page)) == 3
    second = page.next_page()
    third = second.next_page()
    assert len(list(third)) == 1 and third.next_page() is None

    first_page = raw(sim, "GET", "/Messages.json", params={"To": VOLUNTEER, "PageSize": 3}).json()
    assert first_page["page"] == 0 and first_page["page_size"] == 3 and first_page["start"] == 0
    assert first_page["previous_page_uri"] is None
    assert "PageToken=PA" in first_page["next_page_uri"] and "Page=1" in first_page["next_page_uri"]
    following = requests.get(sim.url + first_page["next_page_uri"], auth=(ACCOUNT_SID, AUTH_TOKEN)).json()
    assert following["page"] == 1 and following["start"] == 3
    back = requests.get(sim.url + following["previous_page_uri"], auth=(ACCOUNT_SID, AUTH_TOKEN)).json()
    assert [m["sid"] for m in back["messages"]] == [m["sid"] for m in first_page["messages"]]


def test_list_filters_by_from_and_date_sent(client, sim):
    first = client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body="one")
    client.messages.create(to=VOLUNTEER, from_="+15005550007", body="two")
    wait_until(lambda: all(m.status == "delivered" for m in client.messages.list()))

    assert [m.sid for m in client.messages.list(from_=SERVICE_NUMBER)] == [first.sid]
    today = datetime.now(timezone.utc).date()  # Twilio filters by UTC day
    assert len(client.messages.list(date_sent=today.isoformat())) == 2
    assert client.messages.list(date_sent=(today - timedelta(days=2)).isoformat()) == []
    assert len(client.messages.list(date_sent_after=(today - timedelta(days=1)).isoformat())) == 2
    assert client.messages.list(date_sent_before=(today - timedelta(days=1)).isoformat()) == []
    assert len(client.messages.list(date_sent=today)) == 2  # a date object goes as YYYY-MM-DDT00:00:00Z
    assert len(client.messages.list(date_sent_before=today)) == 2


def test_a_just_accepted_message_is_found_by_a_date_sent_lookup(client):
    """What an outbox does before re-sending after a crash: list today's messages to the number."""
    message = client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body="only once")
    midnight = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    found = client.messages.list(to=VOLUNTEER, date_sent_after=midnight - timedelta(days=1), limit=200)
    assert [m.sid for m in found] == [message.sid]


@pytest.mark.parametrize("sender, ok", [("+8610690000", True), ("106900", True), ("MOBILIZE", True),
                                        ("+1", False), ("not a sender!", False)])
def test_from_accepts_numbers_short_codes_and_sender_ids(client, sender, ok):
    if ok:
        assert client.messages.create(to=VOLUNTEER, from_=sender, body="hi").from_ == sender
    else:
        with pytest.raises(TwilioRestException) as raised:
            client.messages.create(to=VOLUNTEER, from_=sender, body="hi")
        assert raised.value.code == 21212


def test_unknown_message_is_a_twilio_404(client, sim):
    with pytest.raises(TwilioRestException) as raised:
        client.messages("SM" + "f" * 32).fetch()
    assert raised.value.status == 404 and raised.value.code == 20404
    body = raw(sim, "GET", f"/Messages/SM{'f' * 32}.json").json()
    assert set(body) >= {"code", "message", "more_info", "status"}
    assert body["more_info"] == "https://www.twilio.com/docs/errors/20404"


def test_wrong_credentials_get_401_20003(sim):
    wrong = make_twilio_client(ACCOUNT_SID, "not-the-token", sim.url)
    with pytest.raises(TwilioRestException) as raised:
        wrong.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body="hi")
    assert raised.value.status == 401 and raised.value.code == 20003

    other_account = "AC" + "9" * 32
    mismatched = Client(ACCOUNT_SID, AUTH_TOKEN, account_sid=other_account)
    mismatched.api.base_url = sim.url
    with pytest.raises(TwilioRestException) as raised:
        mismatched.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body="hi")
    assert raised.value.status == 401 and raised.value.code == 20003

    anonymous = requests.post(f"{sim.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
                              data={"To": VOLUNTEER})
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == 20003
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("fields, code", [
    ({"To": "", "From": SERVICE_NUMBER, "Body": "hi"}, 21604),
    ({"To": VOLUNTEER, "From": SERVICE_NUMBER}, 21602),
    ({"To": VOLUNTEER, "From": SERVICE_NUMBER, "Body": ""}, 21602),
    ({"To": "12345", "From": SERVICE_NUMBER, "Body": "hi"}, 21211),
    ({"To": "+86138001380001234567", "From": SERVICE_NUMBER, "Body": "hi"}, 21211),
    ({"To": VOLUNTEER, "Body": "hi"}, 21603),
    ({"To": VOLUNTEER, "From": SERVICE_NUMBER, "Body": "x" * 1601}, 21617),
])
def test_invalid_requests_get_twilio_error_codes(client, fields, code):
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=fields.get("To"), from_=fields.get("From"), body=fields.get("Body"))
    assert raised.value.status == 400
    assert raised.value.code == code


def test_opted_out_recipient_gets_21610(client, control):
    control.register_phone(VOLUNTEER, responder="silent")
    control.update_phone(VOLUNTEER, opted_out=True)
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body="hi")
    assert raised.value.code == 21610 and raised.value.status == 400
    assert "unsubscribed recipient" in raised.value.msg


def test_messaging_service_starts_accepted_and_gets_a_sender(client, receiver):
    message = client.messages.create(to=VOLUNTEER, messaging_service_sid=MESSAGING_SERVICE, body="你好",
                                     status_callback=receiver.url("/twilio/status"))
    assert message.status == "accepted"
    assert message.from_ is None and message.num_segments == "0"  # as Twilio: no sender assigned yet
    assert message.messaging_service_sid == MESSAGING_SERVICE
    hooks = receiver.wait_for(3, "/twilio/status")
    assert [hook.form["MessageStatus"] for hook in hooks] == ["queued", "sent", "delivered"]
    assert all(hook.form["MessagingServiceSid"] == MESSAGING_SERVICE for hook in hooks)
    assert hooks[-1].form["From"] == SERVICE_NUMBER
    fetched = client.messages(message.sid).fetch()
    assert fetched.from_ == SERVICE_NUMBER and fetched.num_segments == "1"


def test_delivered_message_can_be_deleted(client):
    message = client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body="bye")
    wait_until(lambda: client.messages(message.sid).fetch().status == "delivered")
    assert client.messages(message.sid).delete() is True
    with pytest.raises(TwilioRestException):
        client.messages(message.sid).fetch()


def test_make_twilio_client_points_only_the_api_domain(sim):
    real = make_twilio_client(ACCOUNT_SID, AUTH_TOKEN)
    assert real.api.base_url == "https://api.twilio.com"
    simulated = make_twilio_client(ACCOUNT_SID, AUTH_TOKEN, sim.url + "/")
    assert simulated.api.base_url == sim.url
    assert simulated.http_client.session.adapters["http://"]._pool_maxsize >= 16


def test_client_reuses_its_connection(client, sim):
    """Keep-alive on the client side: one pooled connection serves a sequence of calls (werkzeug's server
    closes each connection, so the pool reconnects; the client does not open a new pool per call)."""
    for index in range(5):
        client.messages.create(to=VOLUNTEER, from_=SERVICE_NUMBER, body=f"n{index}")
    pools = client.http_client.session.adapters["http://"].poolmanager.pools
    assert len(pools) == 1
