"""The simulator's /phones page in Chinese and English (issue 17, item 5): Chinese by default like the service,
English on `?lang=en` or with the service's language cookie, every word of the page and its script in both
languages, and times in the district's zone (the page names it; the browser test reads the rendered times)."""
from __future__ import annotations

import json
import re
from zoneinfo import ZoneInfoNotFoundError

import pytest
import requests

from mobilize.sms.simulator import page_text

ENGLISH_ONLY = ("Pick a phone", "Search a number", "No phones yet", "Send</button>", "forwarded to")


def words_of(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="words">(.*?)</script>', html, re.S).group(1))


def test_the_page_is_chinese_by_default_with_the_districts_zone(sim):
    html = requests.get(sim.url + "/phones").text
    assert '<html lang="zh-CN">' in html and "<title>短信模拟器 · 手机</title>" in html
    assert "请选择手机" in html and "搜索号码" in html and "发送</button>" in html
    assert 'data-zone="Asia/Shanghai"' in html and "时间：Asia/Shanghai（24 小时制）" in html
    assert not [text for text in ENGLISH_ONLY if text in html]
    words = words_of(html)
    assert words["statuses"]["delivered"] == "已送达" and words["texts"]["no_messages"] == "还没有短信。"
    assert 'href="?lang=en"' in html  # the switch to English


def test_english_on_request_and_remembered(sim):
    session = requests.Session()
    html = session.get(sim.url + "/phones?lang=en").text
    assert '<html lang="en">' in html and "Pick a phone" in html and "请选择手机" not in html
    assert words_of(html)["statuses"]["delivered"] == "delivered"
    assert session.cookies.get("mobilize_lang") == "en"
    assert "Pick a phone" in session.get(sim.url + "/phones").text  # the cookie keeps it
    assert "请选择手机" in session.get(sim.url + "/phones?lang=zh").text
    assert "请选择手机" in session.get(sim.url + "/phones").text


def test_the_services_language_cookie_is_followed_and_nonsense_ignored(sim):
    assert "Pick a phone" in requests.get(sim.url + "/phones", cookies={"mobilize_lang": "en"}).text
    page = requests.get(sim.url + "/phones?lang=fr", cookies={"mobilize_lang": "de"})
    assert page.status_code == 200 and "请选择手机" in page.text and "mobilize_lang" not in page.cookies


def test_the_zone_follows_the_services_setting(sim, monkeypatch):
    monkeypatch.setenv("MOBILIZE_TIMEZONE", "Asia/Urumqi")
    assert 'data-zone="Asia/Urumqi"' in requests.get(sim.url + "/phones").text
    with pytest.raises(ZoneInfoNotFoundError):
        page_text.district_zone({"MOBILIZE_TIMEZONE": "Mars/Olympus_Mons"})


def test_both_languages_say_everything():
    for table in (page_text.TEXTS, page_text.STATUS_NAMES, page_text.ORIGIN_NAMES, page_text.INTENT_NAMES,
                  page_text.RESPONDER_NAMES):
        assert set(table) == set(page_text.LANGUAGES)
        assert set(table["zh"]) == set(table["en"])
        assert all(value.strip() for language in table.values() for value in language.values())
    chinese = [value for key, value in page_text.TEXTS["zh"].items() if key not in ("switch_label", "switch_lang",
                                                                                    "html_lang")]
    assert all(re.search(r"[\u4e00-\u9fff]", value) for value in chinese), "an English word on the Chinese page"
