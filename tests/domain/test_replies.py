"""The SMS reply parser: real-world replies, negation traps, opt-outs, codes, and properties over any text."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobilize.domain.replies import (
    DECLINE_MARKERS,
    TWILIO_KEYWORDS,
    Intent,
    ParsedReply,
    carrier_keyword,
    extract_code,
    parse_reply,
)

A, D, X, R, F = Intent.ACCEPT, Intent.DECLINE, Intent.DROP_OUT, Intent.ARRIVED, Intent.DONE
H, OUT, IN, HRS, U = Intent.HELP, Intent.OPT_OUT, Intent.OPT_IN, Intent.HOURS, Intent.UNKNOWN
SH, TAKE, LEAVE = Intent.SHIFTS, Intent.SHIFT_TAKE, Intent.SHIFT_LEAVE
SWY, SWN = Intent.SWAP_ACCEPT, Intent.SWAP_DECLINE

# (reply as typed, expected intent, expected code)
REPLIES: list[tuple[str, Intent, str | None]] = [
    # --- accept, bare and with codes, in every way people write them
    ("Y", A, None), ("y", A, None), ("YES", A, None), ("yes", A, None), ("Yes!", A, None), ("yes.", A, None),
    ("OK", A, None), ("ok", A, None), ("Okay", A, None), ("okk", A, None), ("YESSS", A, None),
    ("Yse", A, None),
    ("yep", A, None), ("Sure", A, None), ("1", A, None), ("１", A, None), ("Ｙ", A, None),
    ("是", A, None), ("是的", A, None), ("好", A, None), ("好的", A, None), ("好嘞", A, None), ("可以", A, None),
    ("能", A, None), ("参加", A, None), ("报名", A, None), ("我要报名", A, None), ("去", A, None), ("我去", A, None),
    ("行", A, None), ("确认", A, None), ("确认参加", A, None), ("同意", A, None), ("没问题", A, None),
    ("没问题！👍", A, None), ("不见不散", A, None), ("当然可以", A, None), ("好的好的", A, None),
    ("Y27", A, "27"), ("y27", A, "27"), ("y27!", A, "27"), ("Y 27", A, "27"), ("Y #27", A, "27"),
    ("#27 Y", A, "27"), ("#27Y", A, "27"), ("是27", A, "27"), ("27是", A, "27"), ("２７是", A, "27"),
    ("Ｙ２７", A, "27"), ("1 27", A, "27"), ("1 #27", A, "27"), ("#27 1", A, "27"), ("27 1", A, "27"),
    ("１　２７", A, "27"), ("Y7", A, "7"), ("Y1234", A, "1234"), ("yes 27", A, "27"), ("OK 27", A, "27"),
    ("好的27", A, "27"), ("参加#27", A, "27"), ("#27参加", A, "27"), ("  y 27  ", A, "27"), ("Y27。", A, "27"),
    ("【Y27】", A, "27"), ("Y27 Y27", A, "27"), ("😀Y27😀", A, "27"),
    # a character typed twice (the drill's answer model does it): the word still counts, negation still wins
    ("报报名 10", A, "10"), ("确确认", A, None), ("参参加#27", A, "27"), ("我我不参加", D, None),
    ("ok I can come", A, None), ("I can come 27", A, "27"), ("I will be there", A, None),
    ("I can not come", D, None), ("I will not come", D, None),
    ("好的，我马上到", A, None), ("好的，8点到", A, None), ("好的，明天准时到", A, None), ("马上到", A, None),
    ("一定到", A, None), ("准时到", A, None), ("是的，我参加，谢谢！", A, None), ("您好，可以参加", A, None),
    ("好的收到", A, None), ("收到，参加", A, None), ("可以的，随时待命", A, None), ("服从安排", A, None),
    ("我来", A, None), ("能去", A, None), ("好，在路上", A, None), ("嗯嗯好的", A, None), ("OK的", A, None),
    ("Yes, I'll be there", A, None), ("I'll come", A, None), ("Count me in!", A, None),
    ("I can help", A, None), ("Yes I'm on my way", A, None), ("No problem", A, None),
    ("no problem!", A, None), ("sure thing?", U, None),
    ("I'm available", A, None), ("yes please", A, None), ("Y, thanks", A, None), ("好的呢", A, None),
    ("谢谢通知，准时参加", A, None), ("我也去", A, None), ("27号参加", A, None), ("Y 明天8:00到", A, None),
    ("I'll be there at 8am", A, None), ("ＯＫ", A, None), ("kk", A, None), ("参加参加！！", A, None),
    # --- decline, including every negation trap: 能/是/好/可以/去 inside a no
    ("N", D, None), ("n", D, None), ("NO", D, None), ("No.", D, None), ("nope", D, None), ("NOOO", D, None),
    ("2", D, None), ("２", D, None), ("否", D, None), ("不", D, None), ("N27", D, "27"), ("n 27", D, "27"),
    ("2 27", D, "27"), ("否27", D, "27"), ("不27", D, "27"), ("#27 N", D, "27"), ("不能", D, None),
    ("不能参加", D, None), ("不能参加27", D, "27"), ("不是很方便", D, None), ("不太方便", D, None),
    ("不好意思去不了", D, None), ("不好意思，去不了", D, None), ("不行", D, None), ("可以不去吗?", D, None),
    ("可以不去吗？", D, None), ("不去了", D, None), ("我去不了了", D, None), ("来不了", D, None),
    ("到不了", D, None), ("来不及", D, None), ("没空", D, None), ("今天没空", D, None), ("没时间", D, None),
    ("没有时间", D, None), ("无法参加", D, None), ("算了", D, None), ("还是算了吧", D, None), ("不参加", D, None),
    ("不好", D, None), ("不是", D, None), ("不可以", D, None), ("好的，不过不能去", D, None),
    ("是的，我不能去", D, None), ("没问题，但是去不了", D, None), ("能不能不去", D, None),
    ("不一定能去", D, None), ("可能去不了", D, None), ("有事", D, None), ("家里有事", D, None), ("出差", D, None),
    ("下次吧", D, None), ("生病了", D, None), ("Y27 N27", D, "27"), ("是，不去", D, None), ("好不去", D, None),
    ("No, sorry", D, None), ("can't make it", D, None), ("Cannot", D, None), ("sorry cant", D, None),
    ("not available", D, None), ("I'm busy", D, None), ("won't make it", D, None), ("Yes... no", D, None),
    ("sorry, can't help this time", D, None), ("maybe next time", D, None), ("N/A", D, None),
    ("下午可以，上午不行", D, None), ("好的，不去了", D, None), ("收到，不能去", D, None), ("YES NO", D, None),
    ("不用了", D, None), ("Ｎ２７", D, "27"),
    # --- drop out of a dispatch (CANCEL is not one: see opt-out)
    ("0", X, None), ("０", X, None), ("0 27", X, "27"), ("０ ２７", X, "27"), ("27 0", X, "27"),
    ("#27 0", X, "27"), ("放弃", X, None), ("放弃27", X, "27"), ("我放弃", X, None), ("取消", X, None),
    ("取消27", X, "27"), ("取消报名", X, None), ("DROP", X, None), ("drop 27", X, "27"),
    ("I need to drop out", X, None), ("不好意思，我要放弃", X, None), ("不去了，取消吧", X, None),
    ("退出27", X, "27"), ("退出这次任务", X, None), ("可以取消吗？", X, None),
    ("不取消", U, None), ("别取消", U, None), ("不放弃", U, None),
    # --- arrival and done
    ("到", R, None), ("到27", R, "27"), ("27到", R, "27"), ("到了", R, None), ("我到了", R, None),
    ("已到", R, None), ("已到27", R, "27"), ("已经到了", R, None), ("签到", R, None), ("签到27", R, "27"),
    ("已签到", R, None), ("到达", R, None), ("已到岗", R, None), ("报到", R, None), ("好的到了", R, None),
    ("我已经到太平角核酸点了", R, None), ("ARRIVED", R, None), ("arrived 27", R, "27"), ("I'm here", R, None),
    ("here", R, None), ("check in 27", R, "27"), ("check-in", R, None),
    ("签退", F, None), ("签退27", F, "27"), ("已签退", F, None), ("完成", F, None), ("任务完成", F, None),
    ("DONE", F, None), ("done 27", F, "27"), ("I'm done", F, None), ("finished", F, None),
    ("check out", F, None),
    # --- not arrivals: future, status, other words with 到
    ("8点到", U, None), ("8:30到", U, None), ("快到了", U, None), ("我快到了", U, None), ("还没到", U, None),
    ("没到", U, None), ("差不多到了", U, None), ("我到家了", U, None), ("已经到家了", U, None),
    ("我迟到了", U, None), ("收到", U, None), ("收到了", U, None), ("看到了", U, None), ("在路上", U, None),
    ("已出发", U, None), ("On my way", U, None), ("omw", U, None), ("not yet", U, None), ("还没结束", U, None),
    ("到了吗？", U, None),
    # --- help
    ("HELP", H, None), ("help", H, None), ("Help!", H, None), ("INFO", H, None), ("帮助", H, None),
    ("?", H, None), ("？", H, None), ("??", H, None), ("？？？", H, None), ("怎么回复", H, None),
    ("怎么回复？", H, None), ("什么意思", H, None), ("看不懂", H, None), ("不懂", H, None), ("HELP 27", H, "27"),
    ("what?", H, None),
    # --- opt-out: Twilio's keywords, CANCEL included, and the Chinese ones
    ("STOP", OUT, None), ("stop", OUT, None), ("Stop.", OUT, None), ("ＳＴＯＰ", OUT, None),
    ("STOPALL", OUT, None),
    ("stop all", OUT, None), ("UNSUBSCRIBE", OUT, None), ("CANCEL", OUT, None), ("cancel", OUT, None),
    ("cancel 27", OUT, "27"), ("Cancel my dispatch", OUT, None), ("END", OUT, None), ("end", OUT, None),
    ("QUIT", OUT, None), ("quit 27", OUT, "27"), ("OPTOUT", OUT, None), ("opt-out", OUT, None),
    ("REVOKE", OUT, None), ("please stop texting me", OUT, None), ("Y27 STOP", OUT, "27"), ("TD", OUT, None),
    ("td", OUT, None), ("T", OUT, None), ("退订", OUT, None), ("退订！", OUT, None), ("回复退订", OUT, None),
    ("取消订阅", OUT, None), ("不要再发了", OUT, None), ("别再发了，谢谢", OUT, None), ("拒收", OUT, None),
    ("我要退出", OUT, None), ("退出", OUT, None), ("不订阅", OUT, None), ("不想再收到这种短信", OUT, None),
    ("好的，退订", OUT, None), ("不能参加，退订", OUT, None), ("STOP STOP", OUT, None), ("Don't start", OUT, None),
    # --- opt-in
    ("START", IN, None), ("start", IN, None), ("UNSTOP", IN, None), ("订阅", IN, None), ("重新订阅", IN, None),
    ("不好意思，订阅", IN, None),
    # --- hours and stars
    ("时长", HRS, None), ("我的时长", HRS, None), ("积分", HRS, None), ("积分多少？", HRS, None), ("星级", HRS, None),
    ("服务时长多少", HRS, None), ("HOURS", HRS, None), ("my hours?", HRS, None), ("stars", HRS, None),
    # --- peacetime shifts: ask for open ones, take one by its code, leave one (negation wins: never a take)
    ("班次", SH, None), ("查班次", SH, None), ("班次？", SH, None), ("有什么班次吗", SH, None), ("附近班次", SH, None),
    ("明天有班次吗？", SH, None), ("我想报名班次", SH, None), ("SHIFTS", SH, None), ("shift", SH, None),
    ("open shifts?", SH, None), ("any shifts", SH, None), ("班次2718 班次4406", SH, None),
    ("班次2718", TAKE, "2718"), ("班次 2718", TAKE, "2718"), ("报名班次2718", TAKE, "2718"),
    ("好的，班次2718", TAKE, "2718"), ("班次#2718", TAKE, "2718"), ("SHIFT 2718", TAKE, "2718"),
    ("shift2718", TAKE, "2718"), ("take shift 2718", TAKE, "2718"), ("Y SHIFT 2718", TAKE, "2718"),
    ("班次2718，谢谢", TAKE, "2718"), ("班次2718明天8点", TAKE, "2718"),
    ("取消班次2718", LEAVE, "2718"), ("放弃班次2718", LEAVE, "2718"), ("不参加班次2718", LEAVE, "2718"),
    ("班次2718去不了", LEAVE, "2718"), ("退出班次2718", LEAVE, "2718"), ("DROP SHIFT 2718", LEAVE, "2718"),
    ("can't take shift 2718", LEAVE, "2718"), ("N SHIFT 2718", LEAVE, "2718"), ("取消班次", LEAVE, None),
    ("退出班次", LEAVE, None), ("不要班次", LEAVE, None),
    ("班次2718是几点？", U, "2718"), ("班次2718可能去", U, "2718"), ("不取消班次2718", U, "2718"),
    ("签到班次2718", R, "2718"), ("班次2718签退", F, "2718"), ("退订班次", OUT, None), ("STOP SHIFT 2718", OUT, "2718"),
    ("cancel shift 2718", OUT, "2718"), ("时长 班次", HRS, None),
    # --- swaps between two volunteers, accepted by both
    ("换班357", SWY, "357"), ("换班 357", SWY, "357"), ("同意换班357", SWY, "357"), ("好的换班357", SWY, "357"),
    ("SWAP 357", SWY, "357"), ("swap357", SWY, "357"), ("换班", SWY, None), ("OK swap", SWY, None),
    ("不换班357", SWN, "357"), ("不同意换班357", SWN, "357"), ("取消换班357", SWN, "357"), ("NO SWAP 357", SWN, "357"),
    ("不换班", SWN, None), ("换班没空", SWN, None), ("can't swap", SWN, None), ("换班357 换班358", U, None),
    ("可以换班吗？", U, None), ("换班357可能", U, "357"), ("不取消换班", U, None), ("退订换班", OUT, None),
    # --- not shifts: 上班 (at work), 加班 (overtime: an excuse), 值班 alone
    ("我在上班", U, None), ("加班", D, None), ("值班", U, None),
    # --- unknown: bare codes, doubts, questions, greetings, names, emoji, noise
    ("27", U, "27"), ("#27", U, "27"), ("２７", U, "27"), ("12 27", U, None), ("Y27 N28", U, None),
    ("Y27 Y28", U, None), ("", U, None), ("   ", U, None), ("👍", U, None), ("👌👌", U, None), ("。。。", U, None),
    ("你好", U, None), ("您好", U, None), ("我是张三", U, None), ("张三报名", U, None), ("可能去", U, None),
    ("应该可以", U, None), ("尽量去", U, None), ("考虑一下", U, None), ("我可以参加吗？", U, None),
    ("能参加吗", U, None), ("去哪里?", U, None), ("什么时候去", U, None), ("几点到？", U, None),
    ("能不能换个岗位", U, None), ("好的，不过晚点到", U, None), ("好的，有事联系", U, None), ("不好意思", U, None),
    ("不确定", U, None),  # a doubt, like "not sure" (a DECLINE before issue 13: see the module docstring)
    ("嗯", U, None), ("哦", U, None), ("谢谢", U, None), ("银行", U, None), ("可是", U, None), ("maybe", U, None),
    ("not sure", U, None), ("Sorry", U, None), ("Yes, where?", U, None), ("Y?", U, None), ("thanks", U, None),
    ("hello", U, None), ("13800138000", U, None), ("Y 13800138000", U, None), ("#12345", U, None),
    ("abc", U, None), ("T27 please call me", U, "27"), ("Yés", U, None), ("はい", U, None),
    ("带家属可以吗", U, None), ("是不是要带身份证", U, None), ("只能下午", U, None), ("Y27 please call me", U, "27"),
    ("Yes 27 and 28", U, None), ("那我呢", U, None),
]


@pytest.mark.parametrize(("text", "intent", "code"), REPLIES, ids=[repr(case[0]) for case in REPLIES])
def test_reply(text: str, intent: Intent, code: str | None) -> None:
    parsed = parse_reply(text)
    assert (parsed.intent, parsed.code) == (intent, code), parsed


def test_the_table_is_big_and_has_no_contradictions() -> None:
    assert len(REPLIES) >= 300
    seen: dict[str, tuple[Intent, str | None]] = {}
    for text, intent, code in REPLIES:
        assert seen.setdefault(text, (intent, code)) == (intent, code), text


def _noisy(text: str) -> str:
    """The same reply as a phone keyboard may send it: spaces, full stops, emoji around."""
    return f"  {text} 。👍\n"


@pytest.mark.parametrize(("text", "intent", "code"), REPLIES, ids=[repr(case[0]) for case in REPLIES])
def test_noise_around_a_reply_changes_nothing(text: str, intent: Intent, code: str | None) -> None:
    parsed = parse_reply(_noisy(text))
    assert (parsed.intent, parsed.code) == (intent, code), parsed


_FULL_WIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}


@pytest.mark.parametrize(("text", "intent", "code"), REPLIES, ids=[repr(case[0]) for case in REPLIES])
def test_full_width_and_case_change_nothing(text: str, intent: Intent, code: str | None) -> None:
    for variant in (text.translate(_FULL_WIDTH), text.lower(), text.upper(), text.swapcase()):
        parsed = parse_reply(variant)
        assert (parsed.intent, parsed.code) == (intent, code), (variant, parsed)


def test_normalized_text() -> None:
    assert parse_reply("好的，我马上到😀").normalized == "好的 我马上到"
    assert parse_reply("ｙ２７！").normalized == "Y27"
    assert parse_reply("#27   y").normalized == "#27 Y"
    assert parse_reply("can't").normalized == "CANT"
    assert parse_reply("可以不去吗？").normalized == "可以不去吗?"
    assert parse_reply("👍").normalized == ""


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", "STOP"), ("stop", "STOP"), (" Stop. ", "STOP"), ("STOPALL", "STOPALL"), ("CANCEL", "CANCEL"),
        ("END", "END"), ("QUIT", "QUIT"), ("UNSUBSCRIBE", "UNSUBSCRIBE"), ("START", "START"), ("YES", "YES"),
        ("yes", "YES"), ("Yes!", "YES"), ("UNSTOP", "UNSTOP"), ("HELP", "HELP"), ("info", "INFO"),
        ("Y", None), ("Y27", None), ("yes 27", None), ("STOP PLEASE", None), ("please cancel", None),
        ("TD", None),
        ("退订", None), ("", None), ("HELP?", "HELP"),
    ],
)
def test_carrier_keyword(text: str, keyword: str | None) -> None:
    assert carrier_keyword(text) == keyword
    assert parse_reply(text).carrier_keyword == keyword


@pytest.mark.parametrize("keyword", sorted(TWILIO_KEYWORDS))
def test_every_twilio_keyword_means_for_us_what_it_means_at_twilio(keyword: str) -> None:
    assert parse_reply(keyword).intent is TWILIO_KEYWORDS[keyword]
    assert parse_reply(keyword.lower()).carrier_keyword == keyword


def test_cancel_is_never_a_drop_out() -> None:
    for text in ("CANCEL", "cancel 27", "Cancel my dispatch please", "CANCEL #27"):
        assert parse_reply(text).intent is Intent.OPT_OUT, text


def test_yes_accepts_and_warns_about_twilio() -> None:
    assert parse_reply("YES") == ParsedReply(Intent.ACCEPT, None, "YES", "YES")


@pytest.mark.parametrize(
    ("text", "code"),
    [("Y27", "27"), ("#27", "27"), ("是27", "27"), ("1 27", "27"), ("２７是", "27"), ("Y", None), ("27 28", None),
     ("8点到", None), ("Y 12345", None), ("Y0027", "0027"), ("5月12日", None), ("#27号", "27")],
)
def test_extract_code(text: str, code: str | None) -> None:
    assert extract_code(text) == code


# --- properties ---------------------------------------------------------------------------------------------
_INTERESTING = list("是好可以能参加去行来不没空到了签退订吗？?!！ ，。YyNnOoKk0123456789#＃７👍TDSTOPstop")


@settings(max_examples=500)
@given(st.one_of(st.text(), st.text(alphabet=st.sampled_from(_INTERESTING), max_size=20)))
def test_parse_reply_never_raises_and_returns_a_known_intent(text: str) -> None:
    parsed = parse_reply(text)
    assert isinstance(parsed, ParsedReply)
    assert parsed.intent in set(Intent)
    code = parsed.code
    assert code is None or (code.isascii() and code.isdigit() and 1 <= len(code) <= 4)
    assert isinstance(parsed.normalized, str)
    assert parsed.carrier_keyword is None or parsed.carrier_keyword in TWILIO_KEYWORDS
    assert extract_code(text) in (None, parsed.code) or parsed.intent is not Intent.UNKNOWN


@settings(max_examples=500)
@given(
    st.one_of(st.text(max_size=30), st.text(alphabet=st.sampled_from(_INTERESTING), max_size=15)),
    st.sampled_from(DECLINE_MARKERS),
    st.one_of(st.text(max_size=30), st.text(alphabet=st.sampled_from(_INTERESTING), max_size=15)),
)
def test_a_reply_with_a_decline_marker_is_never_an_accept(before: str, marker: str, after: str) -> None:
    assert parse_reply(before + marker + after).intent is not Intent.ACCEPT


_YES_WORDS = (Intent.ACCEPT, Intent.SHIFT_TAKE, Intent.SWAP_ACCEPT)


@settings(max_examples=500)
@given(
    st.one_of(st.text(max_size=20), st.text(alphabet=st.sampled_from(_INTERESTING + list("班次换")), max_size=12)),
    st.sampled_from(DECLINE_MARKERS + ("取消", "放弃", " DROP ", " NO ", " CANT ")),
    st.sampled_from(["班次", "换班", " SHIFT ", " SWAP ", "班次2718", "换班357", " SHIFT 2718 ", " SWAP 357 "]),
    st.one_of(st.text(max_size=20), st.text(alphabet=st.sampled_from(_INTERESTING), max_size=12)),
)
def test_a_negated_shift_or_swap_reply_never_takes_or_accepts(before: str, marker: str, word: str,
                                                               after: str) -> None:
    for text in (before + marker + word + after, before + word + marker + after):
        assert parse_reply(text).intent not in _YES_WORDS, text


@settings(max_examples=300)
@given(st.text(max_size=20), st.sampled_from(["退订", "取消订阅", " STOP ", " TD ", " UNSUBSCRIBE "]),
       st.sampled_from(["班次2718", "换班357", " SHIFT 2718 ", " SWAP 357 ", "取消班次"]), st.text(max_size=20))
def test_an_opt_out_with_a_shift_or_swap_word_is_still_an_opt_out(before: str, word: str, shift: str,
                                                                    after: str) -> None:
    assert parse_reply(before + word + shift + after).intent is Intent.OPT_OUT
    assert parse_reply(before + shift + word + after).intent is Intent.OPT_OUT


@settings(max_examples=300)
@given(
    st.text(max_size=30),
    st.sampled_from(["退订", "取消订阅", "不要再发", " STOP ", " stop ", " UNSUBSCRIBE ", " TD ", " Cancel "]),
    st.text(max_size=30),
)
def test_an_opt_out_word_anywhere_is_an_opt_out(before: str, word: str, after: str) -> None:
    assert parse_reply(before + word + after).intent is Intent.OPT_OUT


_CODES = st.from_regex(r"[0-9]{1,4}", fullmatch=True)


def _read(text: str) -> tuple[Intent, str | None]:
    parsed = parse_reply(text)
    return parsed.intent, parsed.code


@given(_CODES)
def test_codes_are_read_in_every_written_form(code: str) -> None:
    full_width = code.translate(_FULL_WIDTH)
    accepts = (f"Y{code}", f"y{code}!", f"是{code}", f"{full_width}是", f"#{code} Y", f"Y #{code}", f"1 {code}")
    for text in accepts:
        assert _read(text) == (Intent.ACCEPT, code), text
    for text in (f"N{code}", f"不能参加{code}", f"2 {code}", f"否{code}"):
        assert _read(text) == (Intent.DECLINE, code), text
    assert _read(f"0 {code}") == (Intent.DROP_OUT, code)
    assert _read(f"到{code}") == (Intent.ARRIVED, code)
    assert _read(f"签退{code}") == (Intent.DONE, code)
    for text in (f"班次{code}", f"SHIFT {code}", f"班次{full_width}", f"报名班次#{code}"):
        assert _read(text) == (Intent.SHIFT_TAKE, code), text
    for text in (f"取消班次{code}", f"DROP SHIFT {code}", f"不参加班次{code}"):
        assert _read(text) == (Intent.SHIFT_LEAVE, code), text
    assert _read(f"换班{code}") == (Intent.SWAP_ACCEPT, code)
    assert _read(f"不换班{code}") == (Intent.SWAP_DECLINE, code)
    assert _read(f"NO SWAP {code}") == (Intent.SWAP_DECLINE, code)


@given(_CODES)
def test_a_bare_number_is_only_a_keyword_when_it_is_0_1_or_2(code: str) -> None:
    keywords = {"0": Intent.DROP_OUT, "1": Intent.ACCEPT, "2": Intent.DECLINE}
    assert parse_reply(code).intent is keywords.get(code, Intent.UNKNOWN)
