"""What the wartime SMS say: local times, the volunteer's language, within two segments."""
from __future__ import annotations

from datetime import datetime, timezone

from mobilize.domain.segments import count_segments
from mobilize.domain.timefmt import format_start, format_window
from tests.wartime.conftest import launched, people, run_match, sent, sites, text

UTC = timezone.utc


def test_times_are_written_in_local_time_and_short():
    start, end = datetime(2026, 5, 11, 23, 0, tzinfo=UTC), datetime(2026, 5, 12, 4, 0, tzinfo=UTC)
    assert format_start(start, "zh", "Asia/Shanghai") == "5月12日07:00"
    assert format_start(start, "en", "Asia/Shanghai") == "12 May 07:00"
    assert format_window(start, end, "zh", "Asia/Shanghai") == "5月12日07:00-12:00"
    overnight = datetime(2026, 5, 12, 17, 0, tzinfo=UTC)
    assert format_window(end, overnight, "en", "Asia/Shanghai") == "12 May 12:00-13 May 01:00"


def test_invitation_and_dispatch_in_the_volunteers_language_within_two_segments(srt):
    with srt.transaction() as session:
        site, _ = sites(session)
        chinese = people(session, 1)[0]
        english = people(session, 1, language="en", step_m=150)[0]
    order_id = launched(srt, [(site.id, "registration", 2)], expected_answer_rate=1.0)
    for volunteer in (chinese, english):
        assert text(srt, volunteer, "Y") == "accepted"
    run_match(srt, order_id)
    invite_zh, invite_en = (sent(srt, "invitation", v)[0].body for v in (chinese, english))
    assert invite_zh.startswith("【招募令#") and "八大关街道" in invite_zh
    assert invite_en.startswith("Call-out #") and "Badaguan Street" in invite_en
    dispatch_zh, dispatch_en = (sent(srt, "dispatch", v)[0].body for v in (chinese, english))
    assert "登记" in dispatch_zh and "Registration" in dispatch_en and "+8613905320001" in dispatch_en
    for body in (invite_zh, invite_en, dispatch_zh, dispatch_en):
        assert count_segments(body).segments <= 2, body
