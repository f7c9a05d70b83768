"""The /phones page's words in Chinese and English, and how the page picks its language and time zone.

The simulator is a program of its own (no Flask-Babel, no catalog): its one page has a few dozen words, kept
here side by side so a missing translation is a failing test, not an English word on a Chinese page.

Language: `?lang=zh|en` (remembered in the same cookie as the service's pages, `mobilize_lang`, which the
browser also sends here when both run on one host), else that cookie, else Chinese, like the service.
Times: the district's zone (`MOBILIZE_TIMEZONE`, as the service reads it; Asia/Shanghai by default), 24-hour,
whatever the browser's own zone.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from zoneinfo import ZoneInfo

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
COOKIE = "mobilize_lang"  # the service's language cookie (mobilize.web.ui.i18n.COOKIE)
COOKIE_MAX_AGE = 365 * 24 * 3600
DEFAULT_ZONE = "Asia/Shanghai"

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "html_lang": "zh-CN",
        "title": "短信模拟器 · 手机",
        "heading": "短信模拟器 · 手机",
        "switch_label": "English",
        "switch_lang": "en",
        "texts_to": "手机发往 {sender} · 转发至 {webhook}",
        "no_webhook": "未设置（没有 webhook 地址）",
        "zone": "时间：{zone}（24 小时制）",
        "search": "搜索号码…",
        "add_title": "E.164 格式：+ 国家代码和号码",
        "auto": "自动",
        "auto_title": "自动回复邀请（默认设定）",
        "add": "添加",
        "pick": "请选择手机",
        "choose": "在左侧选择一部手机，或添加一部。",
        "reply_placeholder": "以这部手机的身份给服务发短信（如 Y27、是 27、STOP）…",
        "send": "发送",
        "back": "返回",
        "phones_count": "{total} 部手机 · 版本 {version}",
        "no_phones": "还没有手机。",
        "no_messages": "还没有短信。",
        "opted_out": "已退订",
        "opt_in": "重新订阅",
        "mark_opted_out": "标记为已退订",
        "typed": "手动输入",
        "segments": "{count} 段",
    },
    "en": {
        "html_lang": "en",
        "title": "SMS simulator · phones",
        "heading": "SMS simulator · phones",
        "switch_label": "中文",
        "switch_lang": "zh",
        "texts_to": "phones text {sender} · forwarded to {webhook}",
        "no_webhook": "nowhere (no webhook URL)",
        "zone": "times: {zone} (24-hour)",
        "search": "Search a number…",
        "add_title": "E.164: + country code and number",
        "auto": "auto",
        "auto_title": "Answer invitations automatically (default profile)",
        "add": "Add",
        "pick": "Pick a phone",
        "choose": "Choose a phone on the left, or add one.",
        "reply_placeholder": "Text the service as this phone (e.g. Y27, 是 27, STOP)…",
        "send": "Send",
        "back": "Back",
        "phones_count": "{total} phone(s) · version {version}",
        "no_phones": "No phones yet.",
        "no_messages": "No messages yet.",
        "opted_out": "opted out",
        "opt_in": "Opt in again",
        "mark_opted_out": "Mark opted out",
        "typed": "typed",
        "segments": "{count} seg",
    },
}

# Twilio's message statuses, where the messages came from, what an automatic answer meant
STATUS_NAMES = {
    "zh": {"accepted": "已接受", "scheduled": "已排期", "queued": "排队中", "sending": "发送中", "sent": "已发送",
           "delivered": "已送达", "undelivered": "未送达", "failed": "发送失败", "receiving": "接收中",
           "received": "已接收", "read": "已读", "canceled": "已取消"},
    "en": {"accepted": "accepted", "scheduled": "scheduled", "queued": "queued", "sending": "sending",
           "sent": "sent", "delivered": "delivered", "undelivered": "undelivered", "failed": "failed",
           "receiving": "receiving", "received": "received", "read": "read", "canceled": "canceled"},
}
ORIGIN_NAMES = {
    "zh": {"api": "服务发送", "twiml": "服务回复", "carrier": "运营商回复", "phone": "自动回复", "manual": "手动输入"},
    "en": {"api": "sent by the service", "twiml": "the service's reply", "carrier": "carrier's reply",
           "phone": "auto", "manual": "typed"},
}
INTENT_NAMES = {
    "zh": {"accept": "参加", "decline": "不参加", "stop": "退订", "arrive": "到岗", "done": "签退",
           "drop": "放弃", "help": "求助"},
    "en": {"accept": "accept", "decline": "decline", "stop": "stop", "arrive": "arrived", "done": "done",
           "drop": "drop out", "help": "help"},
}
RESPONDER_NAMES = {"zh": {"default": "自动", "silent": "不回复"}, "en": {"default": "auto", "silent": "silent"}}


def choose_language(query: str | None, cookie: str | None) -> str:
    """`?lang=` first, then the service's language cookie, then Chinese."""
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return choice
    return DEFAULT_LANGUAGE


def district_zone(environ: Mapping[str, str] | None = None) -> str:
    """The district's time zone as the service reads it; an unknown name fails loudly (ZoneInfo raises)."""
    name = ((environ if environ is not None else os.environ).get("MOBILIZE_TIMEZONE") or DEFAULT_ZONE).strip()
    ZoneInfo(name)
    return name


def page_words(language: str) -> dict:
    """Everything the page and its script say, in one language."""
    return {"texts": TEXTS[language], "statuses": STATUS_NAMES[language], "origins": ORIGIN_NAMES[language],
            "intents": INTENT_NAMES[language], "responders": RESPONDER_NAMES[language]}
