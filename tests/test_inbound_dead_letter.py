"""Poison inbound messages (issue 12): a message whose processing always fails is retried a few times, then set
aside as dead with its error; it is never queued again, never holds up the others, is listed for the command
center and can be retried once more by an admin or a commander."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rq import SimpleWorker
from sqlalchemy import func, select

from mobilize import jobs
from mobilize.app import create_app
from mobilize.models import AuditEvent, InboundMessage, OutboundMessage
from mobilize.models._types import utcnow
from mobilize.sms import inbox
from tests.web.conftest import seed_registry
from workers.sms import process_inbound, requeue_unprocessed

ERROR = "a message needs a volunteer or a phone number"


@pytest.fixture
def rt(redis_rt):
    """Here the runtime has Redis: the jobs are queued and run for real."""
    return redis_rt


@pytest.fixture
def registry(rt):
    return seed_registry(rt)


@pytest.fixture
def client(rt, registry):
    return create_app(runtime=rt).test_client()


def auth(registry, role: str) -> dict:
    return {"Authorization": f"Bearer {registry.tokens[role]}"}


def store(rt, from_phone: str, body: str, sid: str, age_s: float = 60.0) -> int:
    """A row as the webhook stores it (before issue 12 it took an empty From too)."""
    with rt.transaction() as session:
        message = InboundMessage(message_sid=sid, from_phone=from_phone, to_phone="+8610690000", body=body,
                                 received_at=utcnow() - timedelta(seconds=age_s))
        session.add(message)
        session.flush()
        return message.id


def row(rt, inbound_id: int) -> InboundMessage:
    with rt.transaction() as session:
        message = session.get(InboundMessage, inbound_id)
        session.expunge(message)
        return message


def inbound_jobs(redis_client) -> list[int]:
    """The inbound messages queued for processing (the replies' sender jobs are not this test's subject)."""
    return sorted(job.args[0] for job in jobs.queue(jobs.HIGH, redis_client).get_jobs()
                  if job.func_name == jobs.JOBS["sms.process_inbound"])


def run_queued(redis_client) -> None:
    """A worker runs the queued inbound jobs, as in production (the sender jobs the replies kicked are taken
    off the queue first: no gateway here, and the outbox rows are what these tests look at)."""
    high = jobs.queue(jobs.HIGH, redis_client)
    for job in high.get_jobs():
        if job.func_name != jobs.JOBS["sms.process_inbound"]:
            high.remove(job)
    SimpleWorker([high], connection=redis_client).work(burst=True)


def sweep_and_run(redis_client) -> int:
    """One pass of the requeue sweep (every 10 s in production), then the workers run what it queued."""
    queued = requeue_unprocessed(older_than_s=0)
    run_queued(redis_client)
    return queued


def die(rt, redis_client, inbound_id: int) -> None:
    for _ in range(inbox.MAX_ATTEMPTS):
        assert row(rt, inbound_id).dead_at is None
        sweep_and_run(redis_client)
    assert row(rt, inbound_id).dead_at is not None


def test_a_poison_message_dies_after_max_attempts_and_others_keep_flowing(rt, redis_client, registry):
    poison = store(rt, "", "你好", "SM" + "p" * 32)
    phone_a = registry.volunteers_a[1][2]
    with rt.transaction() as session:
        seeded = session.scalar(select(InboundMessage.id)
                                .where(InboundMessage.message_sid == "SM" + "1" * 32))
    for attempt in range(1, inbox.MAX_ATTEMPTS + 1):
        with pytest.raises(ValueError, match=ERROR):  # a real failure, in the conversation's reply
            process_inbound(poison)
        message = row(rt, poison)
        assert message.attempts == attempt and message.processed_at is None
        assert message.last_error == f"ValueError: {ERROR}"
        assert (message.dead_at is not None) == (attempt == inbox.MAX_ATTEMPTS)
        # a message arriving meanwhile is processed as usual, the poison in front of it or not
        other = store(rt, phone_a, "帮助", f"SM{attempt:032d}", age_s=30 - attempt)
        assert process_inbound(other) == "help_sent"
    # dead: the sweep skips it, queues the rest (the registry's unprocessed message), and they flow
    assert requeue_unprocessed(older_than_s=0) == 1
    assert inbound_jobs(redis_client) == [seeded]
    run_queued(redis_client)
    assert row(rt, seeded).processed_at is not None
    assert requeue_unprocessed(older_than_s=0) == 0 and inbound_jobs(redis_client) == []
    # the failed attempts left nothing behind: the claim and the reply rolled back with them
    message = row(rt, poison)
    assert message.processed_at is None and message.outcome is None and message.attempts == inbox.MAX_ATTEMPTS
    with rt.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboundMessage)
                              .where(OutboundMessage.to_phone == "")) == 0
        # nor does the timeout sweep pick it up as a reply stored in time
        assert inbox.unprocessed_from(session, [""], utcnow()) == []
    # a dead message is not processed again even if a stray job runs it: nothing tried, nothing counted
    assert process_inbound(poison) == "dead"
    assert row(rt, poison).attempts == inbox.MAX_ATTEMPTS


def test_the_requeue_sweep_retries_until_dead_then_stops(rt, redis_client, registry):
    poison = store(rt, "", "Y27", "SM" + "q" * 32)
    for attempt in range(1, inbox.MAX_ATTEMPTS + 1):
        assert sweep_and_run(redis_client) >= 1
        assert row(rt, poison).attempts == attempt
    assert row(rt, poison).dead_at is not None
    for _ in range(3):
        assert sweep_and_run(redis_client) == 0
    assert row(rt, poison).attempts == inbox.MAX_ATTEMPTS


def test_dead_letters_listed_for_the_command_center(client, rt, redis_client, registry):
    poison = store(rt, "", "请联系13800138000", "SM" + "r" * 32)
    die(rt, redis_client, poison)
    for role in ("admin", "commander", "viewer"):
        response = client.get("/api/v1/inbound/dead", headers=auth(registry, role))
        assert response.status_code == 200, response.json
        [item] = response.json["items"]
        assert item["id"] == poison and item["attempts"] == inbox.MAX_ATTEMPTS and item["from_phone"] == ""
        assert item["last_error"] == f"ValueError: {ERROR}" and item["dead_at"]
        assert response.json["pagination"]["total"] == 1
        assert ("13800138000" in item["body"]) == (role != "viewer")
    assert client.get("/api/v1/inbound/dead", headers=auth(registry, "officer")).status_code == 403
    assert client.get("/api/v1/inbound/dead").status_code == 401


def test_viewers_see_dead_letters_phone_numbers_masked(client, rt, registry):
    phone = registry.volunteers_a[0][2]
    inbound_id = store(rt, phone, f"我的新号码是{phone}", "SM" + "v" * 32)
    with rt.transaction() as session:  # as after MAX_ATTEMPTS failed attempts
        for _ in range(inbox.MAX_ATTEMPTS):
            inbox.record_failure(session, inbound_id, f"RuntimeError: no answer for {phone}", utcnow())
    body = client.get("/api/v1/inbound/dead", headers=auth(registry, "viewer")).get_data(as_text=True)
    assert str(inbound_id) in body and phone not in body and phone[3:] not in body
    assert phone in client.get("/api/v1/inbound/dead", headers=auth(registry, "admin")).get_data(as_text=True)


def test_retry_queues_it_once_more_and_is_audited(client, rt, redis_client, registry):
    poison = store(rt, "", "你好", "SM" + "s" * 32)
    die(rt, redis_client, poison)
    path = f"/api/v1/inbound/{poison}/retry"
    for role in ("viewer", "officer"):
        assert client.post(path, headers=auth(registry, role)).status_code == 403
    assert row(rt, poison).dead_at is not None
    assert client.post("/api/v1/inbound/999999/retry", headers=auth(registry, "admin")).status_code == 404
    response = client.post(path, headers=auth(registry, "commander"))
    assert response.status_code == 200, response.json
    assert response.json["queued"] is True and response.json["message"]["dead_at"] is None
    assert inbound_jobs(redis_client) == [poison]
    again = client.post(path, headers=auth(registry, "admin"))  # not dead any more
    assert again.status_code == 409 and again.json["error"]["code"] == "not_dead"
    with rt.transaction() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "inbound_retried")).all()
        assert (event.actor, event.subject_type, event.subject_id) == ("commander", "inbound_message", poison)
        assert event.details["attempts"] == inbox.MAX_ATTEMPTS
    # still poison: one more failure sets it aside again at once
    run_queued(redis_client)
    message = row(rt, poison)
    assert message.dead_at is not None and message.attempts == inbox.MAX_ATTEMPTS + 1
    assert sweep_and_run(redis_client) == 0 and row(rt, poison).attempts == inbox.MAX_ATTEMPTS + 1


def test_retry_after_the_cause_is_fixed_processes_it(client, rt, redis_client, registry):
    poison = store(rt, "", "帮助", "SM" + "t" * 32)
    die(rt, redis_client, poison)
    with rt.transaction() as session:  # an operator puts the sender's number right
        session.get(InboundMessage, poison).from_phone = registry.volunteers_a[1][2]
    assert client.post(f"/api/v1/inbound/{poison}/retry", headers=auth(registry, "admin")).status_code == 200
    run_queued(redis_client)
    message = row(rt, poison)
    assert message.processed_at is not None and message.outcome == "help_sent" and message.dead_at is None
    assert client.get("/api/v1/inbound/dead", headers=auth(registry, "admin")).json["items"] == []
    conflict = client.post(f"/api/v1/inbound/{poison}/retry", headers=auth(registry, "admin"))
    assert conflict.status_code == 409


def test_openapi_describes_the_dead_letter_routes(client):
    spec = client.get("/api/v1/openapi.json").json
    listing = spec["paths"]["/api/v1/inbound/dead"]["get"]
    retry = spec["paths"]["/api/v1/inbound/{inbound_id}/retry"]["post"]
    assert {"200", "401", "403"} <= set(listing["responses"])
    assert {"200", "401", "403", "404", "409"} <= set(retry["responses"])
    schemas = spec["components"]["schemas"]
    assert {"id", "from_phone", "body", "attempts", "last_error", "dead_at"} <= set(
        schemas["DeadMessageOut"]["required"])
    assert {"message", "queued"} <= set(schemas["RetryOut"]["required"])
    assert {"items", "pagination"} <= set(schemas["DeadMessagePage"]["required"])


def test_migration_0008_goes_down_and_up_keeping_the_inbox(database_url):
    from alembic import command
    from sqlalchemy import inspect, text

    from mobilize.db import make_engine
    from mobilize.migrate import alembic_config, upgrade

    def columns(engine) -> set[str]:
        return {column["name"] for column in inspect(engine).get_columns("inbound_messages")}

    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO inbound_messages (message_sid, from_phone, to_phone, body, "
                                    "received_at) VALUES ('SMold', '+8613900000001', '+8610690000', 'Y', "
                                    "CURRENT_TIMESTAMP)"))
        assert {"attempts", "last_error", "dead_at"} <= columns(engine)
        command.downgrade(alembic_config(database_url), "0007")
        engine.dispose()
        assert not {"attempts", "last_error", "dead_at"} & columns(engine)
        upgrade(database_url)
        engine.dispose()
        assert {"attempts", "last_error", "dead_at"} <= columns(engine)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT message_sid, attempts, last_error, dead_at "
                                           "FROM inbound_messages")).all() == [("SMold", 0, None, None)]
    finally:
        engine.dispose()


def test_the_message_log_says_a_dead_letter_is_set_aside_with_its_error(rt, redis_client, registry):
    from mobilize.web.ui.message_log_queries import LogFilters, log_page

    poison = store(rt, "", "Y27", "SM" + "z" * 32)
    for _ in range(inbox.MAX_ATTEMPTS):
        sweep_and_run(redis_client)
    with rt.transaction() as session:
        logged = [r for r in log_page(session, LogFilters(direction="in")).rows if r.phone == ""]
    assert logged, "the poison message is in the log"
    logged = logged[0]
    assert row(rt, poison).dead_at is not None
    assert logged.state == "dead" and logged.dead_error and "Error" in logged.dead_error
