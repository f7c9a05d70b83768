"""Outbound SMS texts: both languages render, standard ones fit in two segments, missing values are named."""
from __future__ import annotations

import string
from decimal import Decimal

import pytest

from mobilize.domain.replies import Intent, parse_reply
from mobilize.domain.segments import count_segments, is_gsm7
from mobilize.domain.templates import (
    LANGUAGES,
    MAX_SEGMENTS,
    SAMPLE_VALUES,
    TEMPLATES,
    Template,
    TemplateError,
    normalise_language,
    render,
    segment_report,
)

REQUIRED = {
    "invitation", "dispatch", "dispatch_confirmed", "standby", "decline_ack", "dropout_ack", "arrival_ack",
    "done_ack", "confirm_timeout", "order_cancelled", "thank_you", "which_order", "help", "not_understood",
    "opt_out_confirm", "opt_in_confirm", "unknown_sender", "hours_reply", "shift_reminder_day",
    "shift_reminder_hour", "notice",
}
CASES = [(name, language) for name in sorted(TEMPLATES) for language in LANGUAGES]
STANDARD = [(name, language) for name, language in CASES if TEMPLATES[name].standard]

# English volunteers with English values everywhere (a romanised site, say): the texts must stay GSM-7.
ASCII_VALUES = {
    **SAMPLE_VALUES["en"],
    "title": "Citywide testing, volunteers wanted",
    "area": "Taipingjiao Community, Badaguan Street",
    "site": "Taipingjiao Community Testing Site, Badaguan Street",
    "address": "12 Taipingjiao 1st Road",
    "officer": "Wang Jianguo",
}

# Longer than the samples but still real: the longest site names and addresses of the district's kind.
LONG_ZH = {
    **SAMPLE_VALUES["zh"],
    "title": "全员核酸检测第二轮志愿者紧急招募",
    "area": "八大峡街道团岛社区",
    "site": "八大峡街道团岛社区文化活动中心核酸检测点",
    "address": "团岛二路17号社区居委会一楼",
    "officer": "欧阳建国",
    "role": "信息录入",
}


def test_every_required_template_exists() -> None:
    assert REQUIRED <= set(TEMPLATES)


@pytest.mark.parametrize(("name", "language"), CASES)
def test_every_template_renders_in_both_languages(name: str, language: str) -> None:
    text = render(name, language, **SAMPLE_VALUES[language])
    assert text.strip() == text and text
    assert "{" not in text and "}" not in text
    assert "None" not in text


@pytest.mark.parametrize(("name", "language"), STANDARD)
def test_standard_templates_fit_in_two_segments(name: str, language: str) -> None:
    result = count_segments(render(name, language, **SAMPLE_VALUES[language]))
    assert result.segments <= MAX_SEGMENTS, result
    if language == "zh":
        assert result.units <= 134, result


@pytest.mark.parametrize("name", sorted(name for name, _ in STANDARD if _ == "zh"))
def test_chinese_templates_fit_in_two_segments_with_the_longest_names(name: str) -> None:
    assert count_segments(render(name, "zh", **LONG_ZH)).segments <= MAX_SEGMENTS


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_english_templates_are_gsm7_with_english_values(name: str) -> None:
    text = render(name, "en", **ASCII_VALUES)
    result = count_segments(text)
    assert result.encoding == "GSM-7", [char for char in text if not is_gsm7(char)]
    assert result.segments <= MAX_SEGMENTS, result


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_english_literal_text_has_no_character_outside_gsm7(name: str) -> None:
    literal = "".join(part for part, _, _, _ in string.Formatter().parse(TEMPLATES[name].en))
    assert is_gsm7(literal), [char for char in literal if not is_gsm7(char)]


@pytest.mark.parametrize(("name", "language"), [case for case in CASES if TEMPLATES[case[0]].fields])
def test_a_missing_value_raises_an_error_naming_it(name: str, language: str) -> None:
    for field in sorted(TEMPLATES[name].fields):
        values = {key: value for key, value in SAMPLE_VALUES[language].items() if key != field}
        with pytest.raises(TemplateError) as error:
            render(name, language, **values)
        assert field in str(error.value) and name in str(error.value)
        with pytest.raises(TemplateError, match=field):
            render(name, language, **{**SAMPLE_VALUES[language], field: None})


def test_all_missing_values_are_named_at_once() -> None:
    with pytest.raises(TemplateError) as error:
        render("dispatch", "zh", code="27")
    for field in ("address", "officer", "officer_phone", "role", "site", "start"):
        assert field in str(error.value)


def test_templates_without_values_render_with_none() -> None:
    assert render("opt_out_confirm", "zh").startswith("您已退订")
    assert "START" in render("opt_out_confirm", "en")


def test_unknown_template_and_language_are_named() -> None:
    with pytest.raises(TemplateError, match="no_such_template"):
        render("no_such_template", "zh")
    with pytest.raises(TemplateError, match="fr"):
        render("help", "fr", hotline="110")


@pytest.mark.parametrize(
    ("given", "expected"), [("zh", "zh"), ("en", "en"), ("EN", "en"), ("zh-CN", "zh"), ("en_US", "en"),
                            (None, "zh"), ("", "zh")],
)
def test_language_codes(given: str | None, expected: str) -> None:
    assert normalise_language(given) == expected


def test_values_are_formatted_per_language() -> None:
    assert "#27、#31、#35" in render("which_order", "zh", **SAMPLE_VALUES["zh"])
    assert "#27, #31, #35" in render("which_order", "en", **SAMPLE_VALUES["en"])
    assert "4小时" in render("done_ack", "zh", code="27", hours=4.0)
    assert "4.5 h" in render("done_ack", "en", code="27", hours=4.5)
    assert "126.5小时" in render("done_ack", "zh", code="27", hours=Decimal("126.50"))
    assert "1234567.25 h" in render("done_ack", "en", code="27", hours=1234567.25)


def test_extra_values_are_ignored_and_braces_in_values_are_kept() -> None:
    text = render("notice", "en", text="Bring {your} ID", unrelated="x")
    assert text == "Notice: Bring {your} ID"


def test_segment_report() -> None:
    text, count = segment_report("invitation", "zh", **SAMPLE_VALUES["zh"])
    assert text.startswith("【招募令#27】") and count == 1


def test_both_languages_must_ask_for_the_same_values() -> None:
    with pytest.raises(TemplateError, match="broken"):
        Template("broken", "{a}", "{b}", "a template with mismatched values")


# Every reply instruction the texts teach must be understood by the parser, as what the text says it does.
TAUGHT = [
    ("invitation", "zh", "Y27", Intent.ACCEPT),
    ("invitation", "zh", "N27", Intent.DECLINE),
    ("invitation", "zh", "TD", Intent.OPT_OUT),
    ("invitation", "en", "Y27", Intent.ACCEPT),
    ("invitation", "en", "N27", Intent.DECLINE),
    ("invitation", "en", "TD", Intent.OPT_OUT),
    ("dispatch", "zh", "Y27", Intent.ACCEPT),
    ("dispatch", "zh", "到27", Intent.ARRIVED),
    ("dispatch", "zh", "0 27", Intent.DROP_OUT),
    ("dispatch", "en", "Y27", Intent.ACCEPT),
    ("dispatch", "en", "0 27", Intent.DROP_OUT),
    ("dispatch_confirmed", "zh", "到27", Intent.ARRIVED),
    ("dispatch_confirmed", "zh", "0 27", Intent.DROP_OUT),
    ("dispatch_confirmed", "en", "ARRIVED 27", Intent.ARRIVED),
    ("dispatch_confirmed", "en", "0 27", Intent.DROP_OUT),
    ("arrival_ack", "zh", "签退27", Intent.DONE),
    ("arrival_ack", "en", "DONE 27", Intent.DONE),
    ("confirm_timeout", "zh", "Y27", Intent.ACCEPT),
    ("confirm_timeout", "en", "Y27", Intent.ACCEPT),
    ("which_order", "zh", "Y27", Intent.ACCEPT),
    ("which_order", "zh", "N27", Intent.DECLINE),
    ("which_order", "en", "Y27", Intent.ACCEPT),
    ("which_order", "en", "N27", Intent.DECLINE),
    ("help", "zh", "时长", Intent.HOURS),
    ("help", "zh", "TD", Intent.OPT_OUT),
    ("help", "en", "HOURS", Intent.HOURS),
    ("help", "en", "STOP", Intent.OPT_OUT),
    ("not_understood", "zh", "帮助", Intent.HELP),
    ("not_understood", "en", "HELP", Intent.HELP),
    ("opt_out_confirm", "zh", "订阅", Intent.OPT_IN),
    ("opt_out_confirm", "en", "START", Intent.OPT_IN),
    ("opt_in_confirm", "zh", "TD", Intent.OPT_OUT),
    ("opt_in_confirm", "en", "STOP", Intent.OPT_OUT),
]


@pytest.mark.parametrize(("name", "language", "reply", "intent"), TAUGHT)
def test_the_replies_a_text_teaches_are_understood(
    name: str, language: str, reply: str, intent: Intent
) -> None:
    assert reply in render(name, language, **SAMPLE_VALUES[language])
    parsed = parse_reply(reply)
    assert parsed.intent is intent
    assert parsed.code == ("27" if "27" in reply else None)
