"""Names and free text are cleaned wherever they enter: the models' validators (every ORM write: API, pages,
SMS, CLI), the services' checks that run before them (so that a value of only hidden characters is the
service's own 4xx, not a blank name), and the Core UPDATEs that bypass the models. The CSV import has its own
tests (tests/test_import_rows.py, tests/test_import_cli.py)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import JSON, String, Text, select

from mobilize.db import Base
from mobilize.domain.text_safety import BlankText
from mobilize.models import (
    ApiToken,
    Assignment,
    Community,
    Notice,
    OpenCallDialogue,
    Order,
    Post,
    Role,
    RosterHoliday,
    ServiceRecord,
    Shift,
    ShiftSignup,
    Site,
    Skill,
    Street,
    Team,
    Volunteer,
)
from mobilize.models._types import utcnow
from mobilize.peacetime import posts, staffing
from mobilize.peacetime.errors import Invalid
from mobilize.wartime import drafts, notices
from mobilize.wartime.errors import WartimeError
from tests.peacetime.conftest import CFG, OFFICER, people, post, shift
from tests.wartime.conftest import COMMANDER, sites, spec

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
HIDDEN_ONLY = "\u202e\u200b\ufeff\u2066"

# Text columns left as they are, each for a reason: codes and identifiers the service makes or checks,
# phones (normalised to E.164), usernames, what the system writes itself, and SMS as received or sent (the
# inbox keeps evidence; outgoing bodies are rendered from cleaned names).
NOT_FREE_TEXT = {
    ("ApiToken", "token_hash"), ("ApiToken", "prefix"), ("AuditEvent", "actor"), ("AuditEvent", "action"),
    ("AuditEvent", "subject_type"), ("AuditEvent", "details"), ("GapReport", "streets"),
    ("InboundMessage", "message_sid"), ("InboundMessage", "from_phone"), ("InboundMessage", "to_phone"),
    ("InboundMessage", "body"), ("InboundMessage", "intent"), ("InboundMessage", "reply_code"),
    ("InboundMessage", "outcome"), ("InboundMessage", "last_error"), ("Notice", "street_ids"),
    ("Notice", "team_ids"), ("Notice", "skill_codes"), ("Notice", "languages"), ("Notice", "created_by"),
    ("OpenCallDialogue", "phone"), ("OpenCallDialogue", "language"), ("OpenCallDialogue", "end_reason"),
    ("Order", "reply_code"), ("Order", "street_ids"), ("Order", "languages"), ("OutboundMessage", "to_phone"),
    ("OutboundMessage", "body"), ("OutboundMessage", "kind"), ("OutboundMessage", "dedupe_key"),
    ("OutboundMessage", "twilio_sid"), ("OutboundMessage", "error_message"), ("Response", "intent"),
    ("Response", "outcome"), ("Role", "code"), ("RosterHoliday", "created_by"), ("Shift", "code"),
    ("ShiftPattern", "weekdays"), ("ShiftSignup", "source"), ("ShiftSignup", "created_by"),
    ("ShiftSwap", "code"), ("ShiftSwap", "created_by"), ("ShiftSwap", "outcome"), ("Site", "contact_phone"), ("Skill", "code"),
    ("Street", "slug"), ("User", "username"), ("User", "password_hash"), ("Volunteer", "phone"),
    ("Volunteer", "language"),
}

REQUIRED_LINES = [(Street, "name"), (Street, "short_name"), (Community, "name"), (Skill, "name_zh"),
                  (Role, "name_zh"), (Site, "name"), (Team, "name"), (Volunteer, "name"), (Order, "title"),
                  (Post, "name"), (RosterHoliday, "reason"), (ServiceRecord, "description")]
OPTIONAL_LINES = [(Street, "name_en"), (Skill, "name_en"), (Role, "name_en"), (Site, "address"),
                  (Site, "contact_name"), (Assignment, "end_reason"), (Shift, "cancel_reason"),
                  (ShiftSignup, "end_reason"), (ServiceRecord, "role"), (ServiceRecord, "certified_by"),
                  (ServiceRecord, "adjustment_reason"), (OpenCallDialogue, "name"),
                  (ApiToken, "name")]
MULTILINE = [(Volunteer, "notes"), (Assignment, "notes"), (Post, "notes"), (Notice, "note")]


def _text_columns() -> set[tuple[str, str]]:
    found = set()
    for mapper in Base.registry.mappers:
        for column in mapper.columns:
            if isinstance(column.type, (String, Text, JSON)) and not hasattr(column.type, "enums"):
                found.add((mapper.class_.__name__, column.key))
    return found


def _validated_columns() -> set[tuple[str, str]]:
    return {(mapper.class_.__name__, key) for mapper in Base.registry.mappers for key in mapper.validators}


def test_every_free_text_column_is_cleaned_by_its_model():
    """A new name or free-text column fails this until it gets a validator (or is listed as not free text)."""
    assert _text_columns() - _validated_columns() == NOT_FREE_TEXT
    listed = REQUIRED_LINES + OPTIONAL_LINES + MULTILINE + [(Notice, "texts")]
    assert {(model.__name__, key) for model, key in listed} == _validated_columns()


@pytest.mark.parametrize("model, key", REQUIRED_LINES + OPTIONAL_LINES, ids=lambda value: getattr(
    value, "__name__", value))
def test_single_line_columns_lose_hidden_characters(model, key):
    row = model(**{key: f" {RLO}张\t伟\n\u200b "})
    assert getattr(row, key) == "张 伟"
    setattr(row, key, "=HYPERLINK(\"x\")")  # not hidden: a formula is the exports' business
    assert getattr(row, key) == "=HYPERLINK(\"x\")"


@pytest.mark.parametrize("model, key", REQUIRED_LINES, ids=lambda value: getattr(value, "__name__", value))
def test_a_required_name_of_hidden_characters_only_is_refused(model, key):
    with pytest.raises(BlankText, match=f"^{model.__name__}.{key}: nothing left"):
        model(**{key: HIDDEN_ONLY})


@pytest.mark.parametrize("model, key", OPTIONAL_LINES, ids=lambda value: getattr(value, "__name__", value))
def test_an_optional_text_of_hidden_characters_only_becomes_empty(model, key):
    assert getattr(model(**{key: HIDDEN_ONLY}), key) == ""
    assert getattr(model(**{key: None}), key) is None


@pytest.mark.parametrize("model, key", MULTILINE, ids=lambda value: getattr(value, "__name__", value))
def test_multiline_text_keeps_its_lines_and_nothing_hidden(model, key):
    row = model(**{key: f"第一行{RLO}\r\n\r\n\r\n\t第二行\u200b\x00 "})
    assert getattr(row, key) == "第一行\n\n第二行"


def test_notice_texts_are_cleaned_and_blank_ones_dropped():
    notice = Notice(texts={"zh": f"今晚{RLO}停水\r\n请备水", "en": HIDDEN_ONLY})
    assert notice.texts == {"zh": "今晚停水\n请备水"}
    with pytest.raises(BlankText, match="^Notice.texts"):
        Notice(texts={"zh": HIDDEN_ONLY})


def test_legitimate_names_are_kept():
    for name in ("欧阳娜娜", "Nguyễn Văn An", "李雷 👨\u200d👩\u200d👧", "阿卜杜拉·买买提"):
        assert Volunteer(name=name).name == name


# --- the services check what the models will store ----------------------------------------------------------


def test_an_order_titled_with_hidden_characters_only_is_refused(srt):
    with srt.transaction() as session:
        site_id = sites(session)[0].id
    with pytest.raises(WartimeError) as error, srt.transaction() as session:
        drafts.create_draft(session, spec([(site_id, "registration", 1)], title=HIDDEN_ONLY), COMMANDER,
                            utcnow())
    assert error.value.status == 422 and "1 to 80 characters" in error.value.details["title"]
    with srt.transaction() as session:
        order = drafts.create_draft(session, spec([(site_id, "registration", 1)], title=f"{RLO}核酸\t招募"),
                                    COMMANDER, utcnow())
        assert order.title == "核酸 招募"


def test_a_notice_of_hidden_characters_only_is_refused(srt):
    with pytest.raises(WartimeError) as error, srt.transaction() as session:
        notices.create(session, notices.NoticeSpec(texts={"zh": HIDDEN_ONLY}), COMMANDER, utcnow())
    assert error.value.status == 422 and "at least one language" in error.value.details["texts"]


def test_post_names_holiday_reasons_and_cancel_reasons(srt):
    now = utcnow()
    with srt.transaction() as session:
        row = post(session)
        with pytest.raises(Invalid, match="1 to 80 characters"):
            posts.create_post(session, site_id=row.site_id, role="civility_guide", slots=2, actor=OFFICER,
                              now=now, name=HIDDEN_ONLY)
        with pytest.raises(Invalid, match="1 to 80 characters"):
            posts.update_post(session, row.id, actor=OFFICER, now=now, name=HIDDEN_ONLY)
        with pytest.raises(Invalid, match="needs a reason"):
            posts.add_holiday(session, on_date=(now + timedelta(days=3)).date(), post_id=row.id,
                              reason=HIDDEN_ONLY, actor=OFFICER, now=now, cfg=CFG)
        holiday, _cancelled = posts.add_holiday(session, on_date=(now + timedelta(days=3)).date(),
                                                post_id=row.id, reason=f"{RLO}国庆\n假期", actor=OFFICER,
                                                now=now, cfg=CFG)
        assert session.scalar(select(RosterHoliday.reason).where(RosterHoliday.id == holiday.id)) == "国庆 假期"
        later = shift(session, row, now + timedelta(days=1))
        posts.cancel_shift(session, later.id, reason=f"暴雨{RLO}\t停岗", actor=OFFICER, now=now, cfg=CFG)
        # a Core UPDATE, which the model's validator never sees
        assert session.scalar(select(Shift.cancel_reason).where(Shift.id == later.id)) == "暴雨 停岗"


def test_a_signup_cancelled_with_a_hostile_reason(srt):
    now = utcnow()
    with srt.transaction() as session:
        upcoming = shift(session, post(session), now + timedelta(days=1))
        [volunteer] = people(session, 1)
        signup = staffing.sign_up(session, upcoming.id, volunteer.id, actor=OFFICER, now=now, cfg=CFG,
                                  source="officer").signup
        staffing.cancel_signup(session, signup.id, actor=OFFICER, now=now, cfg=CFG, by_officer=True,
                               reason=f"{RLO}家中\u200b有事")
        assert session.scalar(select(ShiftSignup.end_reason).where(ShiftSignup.id == signup.id)) == "家中有事"
