"""`mobilize orders ...` (issue 10: the three endings in the CLI too) through click's CliRunner on a real SQLite
database, and once in a real terminal: each action prints its preview, asks, and sends exactly what it showed;
a refusal or a "no" writes nothing."""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from mobilize.cli import build_cli
from mobilize.models import AuditEvent, Order, OrderState, OutboundMessage
from mobilize.models._types import utcnow
from mobilize.wartime import previews
from tests.wartime.conftest import BADAGUAN, ZHANSHAN, draft, order_row, people, sites
from tests.wartime.test_endings import scene
from tests.wartime.test_previews import row_counts

PRICE = 0.045  # SMS_PRICE_PER_SEGMENT's default, as the commands read it


@pytest.fixture
def env(srt) -> dict[str, str | None]:
    """The CLI's environment: the test's database and instance, no Redis (follow-ups wait for the sweep)."""
    return {"DATABASE_URL": srt.settings.database_url, "MOBILIZE_INSTANCE_PATH": str(srt.settings.instance_path),
            "REDIS_URL": None, "SMS_BACKEND": None}


@pytest.fixture
def mobilize(env):
    """Run `mobilize orders ...` as the console script does (registration included), on stdin `input`."""
    def invoke(*args, input: str | None = None, extra_env: dict | None = None):
        return CliRunner().invoke(build_cli(), ["orders", *map(str, args)], input=input,
                                  env={**env, **(extra_env or {})}, catch_exceptions=False)
    return invoke


def outbox(rt, after: int = 0) -> list[tuple[int, str, str]]:
    with rt.transaction() as session:
        return [tuple(row) for row in session.execute(
            select(OutboundMessage.volunteer_id, OutboundMessage.kind, OutboundMessage.body)
            .where(OutboundMessage.id > after).order_by(OutboundMessage.id))]


def last_outbox_id(rt) -> int:
    with rt.transaction() as session:
        return session.scalar(select(func.max(OutboundMessage.id))) or 0


def direct_preview(rt, order_id: int, action: str, **args) -> previews.ActionPreview:
    with rt.transaction() as session:
        result = previews.preview_action(session, order_id, action, utcnow(), rt.settings.timezone,
                                         price_per_segment=PRICE, **args)
        session.rollback()
    return result


def shown(preview: dict | previews.ActionPreview) -> list[tuple[int, str, str]]:
    messages = preview["messages"] if isinstance(preview, dict) else preview.messages
    return [(m["volunteer_id"], m["template"], m["text"]) for m in messages]


def crowd_and_draft(rt, **overrides) -> int:
    """A draft with places on two streets and people around them, some reading English."""
    with rt.transaction() as session:
        site, other = sites(session, (("八大关", "八大关小学检测点", BADAGUAN), ("湛山", "湛山小学检测点", ZHANSHAN)))
        people(session, 4)
        people(session, 3, "湛山", near=ZHANSHAN, language="en")
    return draft(rt, [(site.id, "registration", 2), (other.id, "queue_keeping", 1)], **overrides)


# --- reading ---------------------------------------------------------------------------------------------------


def test_list_and_show_say_where_each_order_stands(srt, mobilize):
    s = scene(srt)
    waiting = crowd_and_draft(srt)
    result = mobilize("list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:5] == ["ID", "CODE", "TITLE", "STATE", "WINDOW"]
    assert lines[1].split()[0] == str(waiting) and "draft" in lines[1] and "0/3" in lines[1]  # newest first
    assert lines[2].split()[:2] == [str(s.order_id), f"#{s.code}"] and "filled" in lines[2] and "3/3" in lines[2]

    only_filled = json.loads(mobilize("list", "--state", "filled", "--json").stdout)
    assert [row["id"] for row in only_filled] == [s.order_id]
    assert only_filled[0] | {"window": None} == only_filled[0] | {
        "reply_code": s.code, "state": "filled", "capacity": 3, "filled": 3, "window": None}

    result = mobilize("show", s.order_id)
    assert result.exit_code == 0, result.output
    assert f"#{s.code}" in result.stdout and "places filled 3/3" in result.stdout
    assert "places: capacity 3, assigned 3, confirmed 2, arrived 1, no-show 0, open 0" in result.stdout
    street_row = next(line for line in result.stdout.splitlines() if line.startswith("八大关"))
    assert street_row.split()[1:7] == ["3", "3", "2", "1", "0", "0"]

    assert "needed by " in result.stdout  # the deadline (the start: none was set); filled: no projection

    shown_json = json.loads(mobilize("show", s.order_id, "--json").stdout)
    assert shown_json["order"]["state"] == "filled" and shown_json["projection"] is None
    assert shown_json["order"]["deadline"] == shown_json["order"]["starts_at"] and not shown_json["order"]["urgent"]
    assert shown_json["progress"]["totals"]["standby"] == 2
    assert [street["street"] for street in shown_json["progress"]["streets"]] == ["八大关街道"]


def test_an_unknown_order_is_a_clear_error(srt, mobilize):
    counts = row_counts(srt)
    for args in (("show", 999), ("preview", 999, "finish"), ("cancel", 999, "--yes"), ("launch", 999, "--yes")):
        result = mobilize(*args)
        assert result.exit_code == 1 and "no order 999" in result.stderr, (args, result.output)
    assert row_counts(srt) == counts


# --- previews --------------------------------------------------------------------------------------------------


def test_preview_prints_what_preview_action_counts(srt, mobilize):
    order_id = crowd_and_draft(srt)
    counts = row_counts(srt)
    expected = direct_preview(srt, order_id, "launch")
    assert expected.sms_count > 0

    as_json = json.loads(mobilize("preview", order_id, "launch", "--json").stdout)
    # the deadline's trade-off is reckoned from the moment of the preview (issue 14): its times differ by then
    assert as_json == expected.as_dict() | {"messages": as_json["messages"], "deadline": as_json["deadline"]}
    assert [row["invitations"] for row in as_json["deadline"]["rows"]] == \
        [row["invitations"] for row in expected.deadline["rows"]]
    assert shown(as_json) == shown(expected)

    text = mobilize("preview", order_id, "launch").stdout
    assert (f"launch order {order_id} would send {expected.sms_count} SMS ({expected.segments} segments), "
            f"estimated cost {expected.estimated_cost:.2f} CNY at 0.045 per segment") in text
    assert f"  invitation: {expected.by_template['invitation']}" in text
    assert f"  not_invited: {expected.recipients_by_status['not_invited']}" in text
    samples = [line for line in text.splitlines() if line.startswith("  [invitation, ")]
    assert [line.split(",")[1].strip() for line in samples] == ["zh", "en"]  # one text per language
    assert row_counts(srt) == counts  # a preview writes nothing


def test_a_finish_preview_says_who_becomes_a_no_show(srt, mobilize):
    s = scene(srt, started=True)
    expected = direct_preview(srt, s.order_id, "finish")
    text = mobilize("preview", s.order_id, "finish").stdout
    assert "2 dispatched volunteers who never arrived become no-shows" in text
    assert f"would send {expected.sms_count} SMS" in text and "  thank_you: 1" in text
    assert json.loads(mobilize("preview", s.order_id, "finish", "--json").stdout)["effects"] == expected.effects


# --- the actions -----------------------------------------------------------------------------------------------


def test_stop_recruiting_with_yes_sends_exactly_what_its_preview_said(srt, mobilize):
    s = scene(srt)
    expected = direct_preview(srt, s.order_id, "stop_recruiting")
    before = last_outbox_id(srt)
    result = mobilize("stop-recruiting", s.order_id, "--yes")
    assert result.exit_code == 0, result.output
    preview_at, outcome_at = result.stdout.index("would send 2 SMS"), result.stdout.index("is now staffed")
    assert preview_at < outcome_at  # said before it was done
    effects = expected.effects
    assert (f"told 2, released 0, no-shows 0, withdrawn {effects['withdrawn']}, lapsed {effects['lapsed']}, "
            "certified hours 0") in result.stdout
    assert (effects["withdrawn"], effects["lapsed"]) == (1, 2)  # the unsent invitation; it and the silent one
    assert outbox(srt, before) == shown(expected)
    assert order_row(srt, s.order_id).state is OrderState.staffed
    assert "warning: Redis is not reachable" in result.stderr  # the SMS wait in the outbox for the sweep
    with srt.transaction() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "order.recruiting_stopped"))
        assert event.actor.startswith("cli:")


def test_without_yes_and_without_a_terminal_nothing_is_sent(srt, mobilize):
    s = scene(srt)
    counts = row_counts(srt)
    result = mobilize("stop-recruiting", s.order_id, input="n\n")
    assert result.exit_code == 1
    assert "would send 2 SMS" in result.stdout  # the preview is shown all the same
    assert (f"no terminal to ask on: add --yes to stop recruiting order {s.order_id} and send 2 SMS; nothing was "
            "done") in result.stderr
    assert row_counts(srt) == counts and order_row(srt, s.order_id).state is OrderState.filled


def test_in_a_terminal_it_asks_and_a_no_sends_nothing(srt, env):
    s = scene(srt)
    counts = row_counts(srt)
    result = in_a_terminal(env, ["orders", "stop-recruiting", str(s.order_id)], answer="n")
    assert result.returncode == 1, result.stderr
    assert "would send 2 SMS" in result.stdout
    assert f"Stop recruiting order {s.order_id} and send 2 SMS? [y/N]" in result.stderr
    assert "nothing done, nothing sent" in result.stderr
    assert row_counts(srt) == counts

    before = last_outbox_id(srt)
    result = in_a_terminal(env, ["orders", "stop-recruiting", str(s.order_id)], answer="y")
    assert result.returncode == 0, result.stderr
    assert [kind for _, kind, _ in outbox(srt, before)] == ["not_needed", "not_needed"]


def in_a_terminal(env: dict, args: list[str], answer: str) -> subprocess.CompletedProcess:
    """The console script with a real terminal on stdin, answering its question."""
    controller, terminal = pty.openpty()
    process_env = {key: value for key, value in {**os.environ, **env}.items() if value is not None}
    try:
        process = subprocess.Popen([sys.executable, "-m", "mobilize", *args], stdin=terminal,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=process_env, text=True)
        os.close(terminal)
        os.write(controller, f"{answer}\n".encode())  # the terminal keeps the line until the question reads it
        stdout, stderr = process.communicate(timeout=120)
    finally:
        os.close(controller)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_finish_before_the_window_is_refused_with_the_services_message(srt, mobilize):
    s = scene(srt)  # its window starts tomorrow
    counts = row_counts(srt)
    result = mobilize("finish", s.order_id, "--yes")
    assert result.exit_code == 1
    assert "cannot finish before its window starts" in result.stderr
    assert "stop recruiting" in result.stderr and "cancel it" in result.stderr
    assert row_counts(srt) == counts and order_row(srt, s.order_id).state is OrderState.filled
    assert "would send" not in result.stdout  # refused by the preview already: nothing offered


def test_finish_after_the_window_starts_certifies_and_marks_no_shows(srt, mobilize):
    s = scene(srt, started=True)
    before = last_outbox_id(srt)
    result = mobilize("finish", s.order_id, "--yes")
    assert result.exit_code == 0, result.output
    assert "is now closed" in result.stdout and "no-shows 2" in result.stdout
    assert sorted(kind for _, kind, _ in outbox(srt, before)) == ["not_needed", "not_needed", "thank_you"]


def test_cancel_with_a_reason(srt, mobilize):
    s = scene(srt)
    expected = direct_preview(srt, s.order_id, "cancel", reason="typhoon")
    before = last_outbox_id(srt)
    result = mobilize("cancel", s.order_id, "--reason", "typhoon", "--yes")
    assert result.exit_code == 0, result.output
    assert f"told {expected.sms_count}, released 3" in result.stdout
    assert outbox(srt, before) == shown(expected)
    with srt.transaction() as session:
        assert session.get(Order, s.order_id).state is OrderState.cancelled
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "order.cancelled"))
        assert event.details["reason"] == "typhoon" and event.actor.startswith("cli:")


def test_an_action_the_state_refuses_exits_non_zero_and_writes_nothing(srt, mobilize):
    s = scene(srt)
    assert mobilize("cancel", s.order_id, "--yes").exit_code == 0
    counts = row_counts(srt)
    result = mobilize("stop-recruiting", s.order_id, "--yes")
    assert result.exit_code == 1 and f"order {s.order_id}:" in result.stderr
    assert row_counts(srt) == counts


def test_launch_without_redis_warns_that_the_sweep_sends_the_first_wave(srt, mobilize):
    order_id = crowd_and_draft(srt)
    result = mobilize("launch", order_id, "--yes")
    assert result.exit_code == 0, result.output
    assert "is now open" in result.stdout and "first wave" in result.stdout
    assert "warning: Redis is not reachable" in result.stderr and "the first wave will go out" in result.stderr
    assert order_row(srt, order_id).state is OrderState.open
    assert outbox(srt) == []  # the wave job writes the invitations, not the launch


def test_launch_queues_its_first_wave_when_redis_is_reachable(srt, mobilize, redis_url, redis_client):
    from workers.orders import WAVE_KEY, send_wave
    from workers.queues import DEFAULT, queue

    order_id = crowd_and_draft(srt)
    result = mobilize("launch", order_id, "--yes", extra_env={"REDIS_URL": redis_url})
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    assert redis_client.exists(WAVE_KEY.format(order_id=order_id))
    jobs = queue(DEFAULT, redis_client).jobs
    assert [(job.func_name, job.args) for job in jobs] == [(f"{send_wave.__module__}.send_wave", (order_id,))]


def test_an_action_that_texts_nobody_says_so(srt, mobilize):
    order_id = crowd_and_draft(srt)  # cancelling a draft tells nobody: nobody heard of it
    result = mobilize("cancel", order_id)
    assert result.exit_code == 1 and "would send 0 SMS" in result.stdout
    assert f"add --yes to cancel order {order_id} (it sends no SMS); nothing was done" in result.stderr
    assert order_row(srt, order_id).state is OrderState.draft
    assert mobilize("cancel", order_id, "--yes").exit_code == 0
    assert order_row(srt, order_id).state is OrderState.cancelled
