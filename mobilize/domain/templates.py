"""Every outbound SMS text, in Chinese and English.

`render("invitation", "zh", code="27", title=..., window=..., area=...)` picks the text by the volunteer's
language and fills it in; a missing value raises TemplateError naming the template and the value.

Cost and throughput are per segment (see `segments.py`), so the standard templates are written to fit in two
segments with realistic values (SAMPLE_VALUES: long Chinese site names and addresses, E.164 phone numbers).
Chinese texts go as UCS-2: two segments are 134 UTF-16 units. English texts use GSM-7 characters only (no
curly quotes, dashes or emoji), so they stay GSM-7 with English values (306 septets in two segments); with the
district's Chinese site names they become UCS-2 too, and are kept short enough to fit in 134 units as well.

The reply instructions the texts teach (Y27, N27, 0 27, 到27, 签退27, ARRIVED 27, DONE 27, TD, 订阅, START,
时长, HOURS, 帮助, HELP) are all understood by `replies.parse_reply`; tests hold the two together.
"""
from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mobilize.domain.segments import count_segments

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
MAX_SEGMENTS = 2  # what a standard template may cost with realistic values
LIST_SEPARATORS = {"zh": "、", "en": ", "}  # how a list value (e.g. several order codes) is written


class TemplateError(ValueError):
    """A template that cannot be rendered; the message names the template and what is wrong."""


@dataclass(frozen=True)
class Template:
    name: str
    zh: str
    en: str
    purpose: str
    standard: bool = True  # False: the text is the caller's (a notice), so its length is the caller's too
    fields: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        zh_fields, en_fields = _fields(self.zh), _fields(self.en)
        if zh_fields != en_fields:  # both languages must ask for the same values, or callers break in one
            raise TemplateError(
                f"template {self.name!r}: zh uses {sorted(zh_fields)}, en uses {sorted(en_fields)}"
            )
        object.__setattr__(self, "fields", frozenset(zh_fields))

    def text(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


_ALL: tuple[Template, ...] = (
    Template(
        "invitation",
        "【招募令#{code}】{title}，{window}，{area}。回复Y{code}参加，N{code}不参加。退订回TD",
        "Call-out #{code}: {title}, {window}, {area}. Reply Y{code} to join, N{code} if you can't. "
        "TD to opt out",
        "a wartime order invites the volunteer",
    ),
    Template(
        "dispatch",
        "【派遣#{code}】请于{start}到{site}（{address}）任{role}，联系人{officer}{officer_phone}。"
        "{deadline}前回复Y{code}确认，到达回复到{code}，不能来回复0 {code}",
        "#{code}: {start} at {site} ({address}), {role}. Ask {officer} {officer_phone}. "
        "Y{code} = confirm by {deadline}, 0 {code} = drop out",
        "an accepted volunteer is placed at a site and role",
    ),
    Template(
        "dispatch_confirmed",
        "【#{code}已确认】{start}，{site}。到达后回复到{code}签到，如有变化回复0 {code}。",
        "#{code} confirmed: {start}, {site}. Reply ARRIVED {code} when you get there, "
        "0 {code} if plans change.",
        "the volunteer confirmed the dispatch",
    ),
    Template(
        "standby",
        "【#{code}】已收到您的报名。岗位暂满，您已列入候补。如有空缺可随时前往，请回复Y{code}，届时将直接派您上岗。",
        "#{code}: thank you. All places are taken for now; you are on standby. If you can go at short notice, "
        "reply Y{code}: we will then send you straight to the next free place.",
        "accepted but not placed (yet); asks whether they can go at short notice (ready standby)",
    ),
    Template(
        "standby_ready",
        "【#{code}】好的，有空缺将直接派您上岗，无需再确认。如不能前往，请回复N{code}。",
        "#{code}: noted. If a place frees up we will send you straight there, no need to confirm again. "
        "Reply N{code} if you can no longer go.",
        "a volunteer on standby says they can go at short notice",
    ),
    Template(
        "dispatch_direct",
        "【派遣#{code}】请于{start}到{site}（{address}）任{role}，联系人{officer}{officer_phone}。"
        "无需再确认，到达回复到{code}，不能来回复0 {code}",
        "#{code}: {start} at {site} ({address}), {role}. Ask {officer} {officer_phone}. "
        "Confirmed, just go; 0 {code} = drop out",
        "a dispatch that needs no confirmation: a ready standby volunteer, or an order without confirmation",
    ),
    Template(
        "decline_ack",
        "【#{code}】已收到，您本次不参加。感谢关注，期待下次相聚！",
        "#{code}: noted, you are not coming this time. Thank you for letting us know.",
        "the volunteer declined an invitation",
    ),
    Template(
        "dropout_ack",
        "【#{code}】已为您取消本次派遣，名额将另行安排。感谢及时告知！",
        "#{code}: your dispatch is cancelled and the place will be given to someone else. "
        "Thanks for telling us.",
        "the volunteer dropped out of a dispatch",
    ),
    Template(
        "dispatch_released",
        "【#{code}】负责人已取消您在{site}的派遣，无需前往。感谢您的支持！",
        "#{code}: the officer cancelled your dispatch to {site}, please do not go. Thank you for your support.",
        "an officer released a dispatched volunteer before arrival",
    ),
    Template(
        "arrival_ack",
        "【#{code}】签到成功：{site}。服务结束时回复签退{code}。",
        "#{code}: checked in at {site}. Reply DONE {code} when you finish.",
        "the volunteer's arrival is recorded",
    ),
    Template(
        "done_ack",
        "【#{code}】签退成功，本次服务约{hours}小时，待负责人认证。辛苦了！",
        "#{code}: checked out, about {hours} h of service, to be certified by the officer. Thank you!",
        "the volunteer signed out",
    ),
    Template(
        "confirm_timeout",
        "【#{code}】您未在规定时间内确认，{site}的名额已释放。如仍能参加，回复Y{code}进入候补。",
        "#{code}: no confirmation in time, your place at {site} was released. "
        "Reply Y{code} to go on standby.",
        "an unconfirmed dispatch timed out",
    ),
    Template(
        "order_cancelled",
        "【招募令#{code}已取消】{title}取消，无需前往，如已出发请返回。感谢您的支持！",
        "Call-out #{code} ({title}) is cancelled: please do not go, or turn back. "
        "Thank you for your support.",
        "the command center cancelled the order",
    ),
    Template(
        "not_needed",
        "【招募令#{code}】{title}人员已足，本次无需前往，您不必再等候通知。感谢您的报名与支持！",
        "Call-out #{code} ({title}) has enough people: you are not needed this time and need not wait. "
        "Thank you for answering!",
        "recruiting stopped (or the order finished) while the volunteer was on standby; sent once",
    ),
    Template(
        "order_full",
        "【招募令#{code}】感谢您的回复！本次岗位已满，无需前往。期待下次相聚！",
        "Call-out #{code}: thank you! All places are filled, no need to come. Hope to see you next time.",
        "a yes to an order that no longer recruits (recruiting stopped, or finished)",
    ),
    Template(
        "thank_you",
        "【#{code}】{title}已结束，您本次服务{hours}小时已认证，累计{total_hours}小时。感谢您的付出！",
        "#{code} ({title}) is finished. {hours} h certified for you, {total_hours} h in total. Thank you!",
        "the order is finished and the hours of those who came certified",
    ),
    Template(
        "which_order",
        "您有多个招募令待回复：{codes}。请在回复中带上编号，如Y{code}参加、N{code}不参加。",
        "You have several open call-outs: {codes}. Please add the number to your reply, "
        "e.g. Y{code} or N{code}.",
        "a reply without a code while several invitations are open; codes: the open ones as written in the "
        "invitations (['#27', '#31']), code: one of them for the example",
    ),
    Template(
        "help",
        "志愿服务短信：Y加编号参加，N加编号不参加，0 编号放弃派遣，到编号签到，签退编号结束，"
        "时长查询服务时长，TD退订。咨询{hotline}",
        "Volunteer SMS: Y+number to join, N+number to decline, 0 number to drop out, ARRIVED number, "
        "DONE number, HOURS for your hours, STOP to opt out. Help: {hotline}",
        "answer to HELP / 帮助",
    ),
    Template(
        "not_understood",
        "抱歉，没能看懂您的回复。参加请回Y加编号，不参加回N加编号（编号为#后数字），说明请回帮助。",
        "Sorry, we did not understand. Reply Y+number to join or N+number to decline (the number after #), "
        "HELP for more.",
        "a reply nobody could read (sent once, never in a loop)",
    ),
    Template(
        "opt_out_confirm",
        "您已退订志愿服务短信，将不再收到通知。如需恢复，请回复订阅。",
        "You are unsubscribed and will get no more messages. Reply START to subscribe again.",
        "the volunteer opted out (the last message they get)",
    ),
    Template(
        "opt_in_confirm",
        "您已恢复接收志愿服务短信。退订请回TD。",
        "You will receive volunteer messages again. Reply STOP to opt out.",
        "the volunteer opted in again",
    ),
    Template(
        "unknown_sender",
        "您的号码尚未登记为志愿者，无法处理本条短信。请联系所在社区或致电{hotline}登记。",
        "This number is not registered as a volunteer. "
        "Please register with your community or call {hotline}.",
        "an SMS from a number we do not know",
    ),
    Template(
        "hours_reply",
        "您累计认证服务{hours}小时，积分{points}，当前为{stars}星志愿者。感谢您的奉献！",
        "You have {hours} certified hours, {points} points, star rating {stars}. Thank you for your service!",
        "answer to 时长 / HOURS",
    ),
    Template(
        "shift_reminder_day",
        "【值班提醒】明天{start}在{site}（{address}）{role}，负责人{officer}{officer_phone}。如不能到岗请提前联系。",
        "Shift tomorrow {start}: {site} ({address}), {role}. Officer {officer} {officer_phone}. "
        "Call if you can't come.",
        "peacetime shift, the day before",
    ),
    Template(
        "shift_reminder_hour",
        "【值班提醒】{start}在{site}{role}，1小时后开始，请准时到岗。",
        "Shift in 1 hour, {start}: {site}, {role}. Please be on time.",
        "peacetime shift, an hour before",
    ),
    # --- peacetime roster (mobilize.peacetime): shift codes are 4 digits, swap codes 3 -------------------------
    Template(
        "shift_list",
        "【可报名班次】{shifts}。回复班次加编号报名，如班次{code}",
        "Open shifts near you: {shifts}. Reply SHIFT + number to sign up, e.g. SHIFT {code}",
        "answer to 班次 / SHIFTS: open shifts near home (shifts: '2718 5月12日07:00-09:00 某路口', joined by the "
        "caller to fit two segments)",
    ),
    Template(
        "shift_none",
        "附近{days}天内暂无可报名的班次，感谢关注！",
        "No open shifts near you in the next {days} days. Thank you!",
        "answer to 班次 / SHIFTS when nothing is open nearby",
    ),
    Template(
        "shift_booked",
        "【班次{code}】报名成功：{window}，{site}，{role}。不能来请回复取消班次{code}",
        "Shift {code} booked: {window}, {site}, {role}. Can't come? Reply DROP SHIFT {code}",
        "the volunteer is booked on a shift (by SMS, the API or an officer)",
    ),
    Template(
        "shift_waitlisted",
        "【班次{code}】{window}{site}已满，您在候补第{position}位，有空位将自动为您报名并短信通知。",
        "Shift {code} ({window}, {site}) is full. You are no. {position} on the waitlist; we book and text "
        "you if a place frees.",
        "the shift is full: the volunteer is on its waitlist",
    ),
    Template(
        "shift_promoted",
        "【班次{code}】候补成功：{window}，{site}，{role}，请准时到岗。不能来请回复取消班次{code}",
        "Shift {code}: a place freed, you are booked: {window}, {site}, {role}. "
        "Can't come? Reply DROP SHIFT {code}",
        "a place freed and the first volunteer on the waitlist got it",
    ),
    Template(
        "shift_left",
        "【班次{code}】已为您取消{window}{site}的值班，感谢告知！",
        "Shift {code} ({window}, {site}): you are off it. Thanks for telling us.",
        "the volunteer left a shift (or its waitlist)",
    ),
    Template(
        "shift_cancelled",
        "【班次{code}】{window}{site}的值班已取消，无需到岗。感谢您的支持！",
        "Shift {code} ({window}, {site}) is cancelled, please do not go. Thank you!",
        "a holiday or an officer cancelled the shift, or an officer took the volunteer off it",
    ),
    Template(
        "shift_unavailable",
        "【班次{code}】该班次不存在或已开始。回复班次查看附近可报名的班次。",
        "Shift {code} does not exist or has started. Reply SHIFTS for open shifts near you.",
        "a shift code that names nothing the volunteer can take or leave",
    ),
    Template(
        "shift_conflict",
        "【班次{code}】报名未成功：与您{window}的其他值班或任务时间冲突。",
        "Shift {code}: not booked, it overlaps your other shift or call-out at {window}.",
        "the volunteer is busy at that time (another shift, a wartime dispatch)",
    ),
    Template(
        "shift_already",
        "【班次{code}】您已报名{window}{site}，无需重复报名。",
        "Shift {code}: you are already on it, {window}, {site}.",
        "the volunteer is already booked (or waitlisted) on the shift",
    ),
    Template(
        "shift_mine",
        "您的班次：{shifts}。取消请回复取消班次加编号。",
        "Your shifts: {shifts}. To drop one, reply DROP SHIFT + number.",
        "the volunteer's booked shifts (asked to leave one without a code)",
    ),
    Template(
        "shift_mine_none",
        "您目前没有已报名的班次。回复班次查看附近可报名的班次。",
        "You have no shifts booked. Reply SHIFTS for open shifts near you.",
        "asked to leave a shift without having one",
    ),
    Template(
        "shift_checkin_ack",
        "【班次{code}】签到成功：{site}。结束时回复签退。",
        "Shift {code}: checked in at {site}. Reply DONE when you finish.",
        "the volunteer checked in on a shift (签到 / ARRIVED)",
    ),
    Template(
        "shift_checkout_ack",
        "【班次{code}】签退成功，本次服务约{hours}小时，待负责人认证。辛苦了！",
        "Shift {code}: checked out, about {hours} h of service, to be certified by the officer. Thank you!",
        "the volunteer checked out of a shift (签退 / DONE)",
    ),
    Template(
        "shift_backfill",
        "【值班空缺】{window}{site}{role}还缺{open}人，您就在附近，回复班次{code}即可报名。退订回TD",
        "Help needed near you: {window}, {site}, {role}, {open} open. Reply SHIFT {code} to join. "
        "TD to opt out",
        "backfill invitation to nearby volunteers for an unfilled shift",
    ),
    Template(
        "swap_request",
        "【换班{code}】{name}请求换班：您交出{gives}，换得{gets}。同意回复换班{code}，不同意回复不换班{code}",
        "Swap {code} with {name}: you give {gives}, you get {gets}. Reply SWAP {code} to accept, "
        "NO SWAP {code} to refuse.",
        "a swap between two volunteers waits for this one's consent",
    ),
    Template(
        "swap_done",
        "【换班{code}】换班成功，您的新班次：{gets}。",
        "Swap {code} done. Your shift now: {gets}.",
        "both volunteers accepted and the swap is applied",
    ),
    Template(
        "swap_declined",
        "【换班{code}】换班未达成，原班次不变。",
        "Swap {code} did not happen; your shifts stay as they were.",
        "a volunteer refused the swap, or it is no longer possible",
    ),
    Template(
        "swap_which",
        "您有多个换班请求：{codes}。请在回复中带上编号，如换班{code}。",
        "You have several swap requests: {codes}. Please add the number, e.g. SWAP {code}.",
        "a swap answer without a code while several swaps wait",
    ),
    # --- open call (mobilize.wartime.open_call): an unregistered sender joins an open order by SMS ----------
    Template(
        "open_call_ask_name",
        "【招募令#{code}】欢迎报名！请回复您的真实姓名（到岗时核验身份）。退订回TD",
        "Call-out #{code}: welcome! Please reply with your full name (checked on arrival). TD to opt out",
        "an unregistered sender texted 报名 while an open call runs: the dialogue starts",
    ),
    Template(
        "open_call_ask_street",
        "请回复您所在街道名称或序号：1香港中路 2八大峡 3云南路 4中山路 5江苏路 6八大关 7湛山 8八大湖 9金门路 "
        "10珠海路 11金湖路",
        "Reply with your street, name or number: 1 Xianggang Zhonglu 2 Badaxia 3 Yunnanlu 4 Zhongshanlu "
        "5 Jiangsulu 6 Badaguan 7 Zhanshan 8 Badahu 9 Jinmenlu 10 Zhuhailu 11 Jinhulu",
        "open call dialogue: the street (numbers in the order of domain.district.STREETS; a test holds them)",
    ),
    Template(
        "open_call_bad_name",
        "抱歉，姓名请用2-20个汉字或字母，不含数字、链接。请重新回复您的姓名。",
        "Sorry, a name is 2 to 40 letters, without digits or links. Please reply with your name again.",
        "open call dialogue: the answer is not a name",
    ),
    Template(
        "open_call_confirm",
        "请确认：姓名{name}，{area}。回复Y确认报名#{code}，回复N重新填写。",
        "Please confirm: {name}, {area}. Reply Y to join call-out #{code}, N to start over.",
        "open call dialogue: the summary to confirm (area: the street's name)",
    ),
    Template(
        "open_call_joined",
        "【#{code}】报名成功！您已登记为临时志愿者，派遣信息将短信通知，到岗时请出示身份证件。退订回TD",
        "#{code}: you are signed up as a provisional volunteer. We will text you where to go; show your ID "
        "on arrival. TD to opt out",
        "open call dialogue: done, the person is a provisional volunteer who accepted the order",
    ),
    Template(
        "open_call_ended",
        "本次报名未完成，已结束。如需报名请重新回复报名{code}，咨询{hotline}",
        "Your sign-up was not completed and has ended. Reply JOIN {code} to start again. Help: {hotline}",
        "open call dialogue: cancelled by the sender or too many unreadable answers",
    ),
    Template(
        "open_call_refused",
        "抱歉，本次报名已终止。如需帮助请致电{hotline}",
        "Sorry, this sign-up has been stopped. For help call {hotline}",
        "open call dialogue: links, abuse or an overlong message end it",
    ),
    Template(
        "open_call_expired",
        "您的报名因超时未完成已失效。如需报名请重新回复报名{code}",
        "Your sign-up timed out. Reply JOIN {code} to start again.",
        "open call dialogue: an answer after the dialogue expired",
    ),
    Template(
        "open_call_over",
        "招募令#{code}已结束报名，感谢您的热心支持！",
        "Call-out #{code} is no longer taking sign-ups. Thank you for your support!",
        "open call dialogue: the order ended before the sign-up was confirmed",
    ),
    Template(
        "open_call_which",
        "正在公开招募：{codes}。请回复报名加编号，如报名{code}。",
        "Open call-outs: {codes}. Please reply JOIN + number, e.g. JOIN {code}.",
        "an unregistered sender texted 报名 without a code while several open calls run",
    ),
    Template(
        "open_call_hint",
        "正在公开招募志愿者（#{code}），回复报名{code}即可报名。咨询{hotline}",
        "Volunteers wanted (call-out #{code}): reply JOIN {code} to sign up. Help: {hotline}",
        "an SMS from an unknown number while an open call runs (instead of the registration hint)",
    ),
    Template(
        "notice",
        "【通知】{text}",
        "Notice: {text}",
        "a free text from the command center, wrapped",
        standard=False,
    ),
)

TEMPLATES: dict[str, Template] = {template.name: template for template in _ALL}

# Realistic values, per language, for tests and previews. Sites, addresses, officers and order titles exist
# only in Chinese in this district, so English volunteers get them in Chinese too (and their SMS go as UCS-2).
_COMMON: dict[str, Any] = {
    "code": "27",
    "title": "全员核酸检测志愿者招募",
    "area": "八大关街道太平角社区",
    "site": "八大关街道太平角社区核酸检测点",
    "address": "太平角一路12号",
    "officer": "王建国",
    "officer_phone": "+8613800138000",
    "hours": 4.5,
    "total_hours": 126.5,
    "points": 1265,
    "stars": 1,
    "codes": ("#27", "#31", "#35"),
    "hotline": "0532-82870000",
    "position": 2,
    "open": 3,
    "days": 7,
}
SAMPLE_VALUES: dict[str, dict[str, Any]] = {
    "zh": {
        **_COMMON,
        "window": "5月12日07:00-12:00",
        "start": "5月12日07:00",
        "deadline": "05:40",
        "role": "秩序维护",
        "text": "明日起八大关街道各核酸检测点开放时间调整为07:00-19:00，请相互转告。",
        "shifts": "2718 5月12日07:00-09:00 香港中路与山东路路口；4406 5月13日17:00-19:00 五四广场地铁站",
        "name": "欧阳建国",
        "gives": "5月12日07:00-09:00 香港中路与山东路路口",
        "gets": "5月13日17:00-19:00 八大峡街道团岛社区治安巡逻岗",
    },
    "en": {
        **_COMMON,
        "window": "12 May 07:00-12:00",
        "start": "12 May 07:00",
        "deadline": "05:40",
        "role": "Medical support",
        "text": "From tomorrow the testing sites of Badaguan Street open 07:00-19:00. Please pass it on.",
        "shifts": "2718 12 May 07:00-09:00 Xianggang Rd/Shandong Rd; 4406 13 May 17:00-19:00 May Fourth Square",
        "name": "Wang Jianguo",
        "gives": "12 May 07:00-09:00 Xianggang Rd/Shandong Rd",
        "gets": "13 May 17:00-19:00 Tuandao Community Patrol",
    },
}


def normalise_language(language: str | None) -> str:
    """zh or en from what a volunteer record or a header may hold: None/"" (the default), "zh-CN", "EN"."""
    if not language:
        return DEFAULT_LANGUAGE
    primary = str(language).strip().lower().replace("_", "-").split("-")[0]
    if primary not in LANGUAGES:
        raise TemplateError(f"unsupported language {language!r} (expected one of {', '.join(LANGUAGES)})")
    return primary


def render(template: str, language: str, **values: Any) -> str:
    """The SMS text of `template` in `language`, filled with `values` (extra values are ignored)."""
    spec = TEMPLATES.get(template)
    if spec is None:
        raise TemplateError(f"unknown SMS template {template!r} (known: {', '.join(sorted(TEMPLATES))})")
    language = normalise_language(language)
    missing = sorted(name for name in spec.fields if values.get(name) is None)
    if missing:
        raise TemplateError(
            f"SMS template {template!r} ({language}) is missing value(s): {', '.join(missing)}"
        )
    formatted = {name: _format_value(values[name], language) for name in spec.fields}
    return spec.text(language).format_map(formatted)


def _format_value(value: Any, language: str) -> str:
    if isinstance(value, (float, Decimal)):  # hours: 4.0 reads "4", 4.50 reads "4.5", 1265.25 stays
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return LIST_SEPARATORS[language].join(_format_value(item, language) for item in value)
    if isinstance(value, Mapping):
        raise TemplateError(f"a mapping cannot be put in an SMS: {value!r}")
    return str(value)


def segment_report(template: str, language: str, **values: Any) -> tuple[str, int]:
    """The rendered text and its segment count: what a preview or a cost estimate needs."""
    text = render(template, language, **values)
    return text, count_segments(text).segments
