"""The webhooks' single statements (mobilize.web.twilio._autocommit): on PostgreSQL they skip the pool's pre-ping
and retry once on a broken connection, on SQLite one writer at a time per process. Neither may change what is
stored or answered."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from mobilize.app import create_app
from mobilize.models import InboundMessage, OutboundMessage, OutboundStatus, Priority
from mobilize.sms import outbox
from tests import factories
from tests.test_twilio_webhooks import client, inbound_form, runtime, signed_post, status_form  # noqa: F401


def stored_sids(runtime) -> list[str]:
    with runtime.transaction() as session:
        return sorted(session.scalars(select(InboundMessage.message_sid)))


def drop_statement_connections(runtime) -> int:
    """Terminate, from another connection, every server process the statement engine's pool has open (as a
    server restart would): the pool keeps its connections, which are now broken."""
    with runtime.statement_engine.connect() as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
    with runtime.engine.begin() as admin:
        return admin.scalar(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                 "WHERE pid = :pid"), {"pid": pid})


def test_the_statements_skip_pre_ping_on_postgresql_only(runtime):
    engine = runtime.statement_engine
    if engine.dialect.name == "sqlite":
        assert engine is runtime.engine
    else:
        assert engine is not runtime.engine and not engine.pool._pre_ping
        assert runtime.engine.pool._pre_ping  # every other query still pings first


def test_inbound_after_the_server_dropped_the_connection_is_stored_once(client, runtime, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a server that drops connections: PostgreSQL")
    assert signed_post(client, "/twilio/sms", inbound_form(sid="SM" + "1" * 32)).status_code == 200
    assert drop_statement_connections(runtime) == 1
    response = signed_post(client, "/twilio/sms", inbound_form(sid="SM" + "2" * 32))
    assert response.status_code == 200 and response.get_data(as_text=True).endswith("<Response />")
    again = signed_post(client, "/twilio/sms", inbound_form(sid="SM" + "2" * 32))  # Twilio's retry
    assert again.status_code == 200
    assert stored_sids(runtime) == ["SM" + "1" * 32, "SM" + "2" * 32]


def test_status_callback_after_the_server_dropped_the_connection_moves_forward(client, runtime, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a server that drops connections: PostgreSQL")
    sid = "SM" + "e" * 32
    with runtime.transaction() as session:
        message = outbox.queue_message(session, body="hi", kind="notice", priority=Priority.high,
                                       volunteer=factories.volunteer(session))
        outbox.claim_batch(session, Priority.high, 10)
        outbox.record_accepted(session, message.id, sid, "queued")
    path = f"/twilio/status?mid={message.id}"
    assert signed_post(client, path, status_form(sid, "sent")).status_code == 204
    assert drop_statement_connections(runtime) == 1
    assert signed_post(client, path, status_form(sid, "delivered")).status_code == 204
    assert signed_post(client, path, status_form(sid, "sent")).status_code == 204  # late: never backwards
    with runtime.transaction() as session:
        assert session.get(OutboundMessage, message.id).status is OutboundStatus.delivered


def test_concurrent_webhooks_store_each_message_once(runtime):
    """Eight threads at once (as gunicorn's), each message sent twice (Twilio's retries): every answer a 200,
    every message stored once."""
    app = create_app(runtime=runtime)
    sids = [f"SM{n:032x}" for n in range(40)]

    def post(sid: str) -> int:
        return signed_post(app.test_client(), "/twilio/sms",
                           inbound_form(sid=sid, sender=f"+86139{int(sid[2:], 16):08d}")).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, sids + sids[::-1]))
    assert statuses == [200] * 80
    assert stored_sids(runtime) == sids
    with runtime.transaction() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 40


def test_webhook_answers_carry_each_security_header_once(client):
    from mobilize.web.security_headers import DATA_POLICY, PAGE_POLICY

    answers = {"stored": signed_post(client, "/twilio/sms", inbound_form()),
               "bad signature": signed_post(client, "/twilio/sms", inbound_form(), signature="bm90IGl0")}
    assert [answer.status_code for answer in answers.values()] == [200, 403]
    for answer in answers.values():
        headers = answer.headers
        for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
            assert len(headers.getlist(name)) == 1, name
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
        assert "Cache-Control" not in headers
    # the TwiML is data; the 403 is Flask's HTML error page, which gets the pages' policy
    assert answers["stored"].headers["Content-Security-Policy"] == DATA_POLICY
    assert answers["stored"].headers["Referrer-Policy"] == "no-referrer"
    assert answers["bad signature"].headers["Content-Security-Policy"] == PAGE_POLICY
