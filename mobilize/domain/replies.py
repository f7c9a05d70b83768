"""What a volunteer meant by an SMS reply: the intent, the order's reply code, and carrier keywords.

Pure and total: `parse_reply` never raises, whatever the text. What it knows lives in the tables below; the
functions only normalise, cut the text into words and apply a few ordered rules.

How a reply is read
-------------------
1. Normalise: NFKC (full-width `Ｙ２７？` becomes `Y27?`), upper case, apostrophes dropped (`CAN'T` -> `CANT`);
   punctuation, emoji and spaces only separate words. Times and quantities (`8点`, `8:30`, `5月12日`, `27号`,
   `2 hours`) are recognised first, so that their digits are never taken for a reply code.
2. Cut into words: Latin words, single CJK characters, digit runs (`#27`, `27`), `?`. A greedy longest match
   against the vocabulary groups them into phrases (`不好意思`, `count me in`), each with a category. Runs of
   a repeated letter collapse (`YESSS`, `NOOO`, `okk`); keywords are whole words (`STOPWATCH`, `DROPBOX`,
   `TDK` are unknown words, not STOP, DROP, TD).
3. Reply codes: 1-4 ASCII digits, written `#27` or glued to or next to words (`Y27`, `是27`, `27是`, `Y 27`).
   In a reply of digits only, a lone 0, 1 or 2 is the keyword (`1 27` accepts order 27, `0 27` drops out of
   it); a bare `27` is UNKNOWN with code "27". Two different codes in one reply answer two orders at once: not
   guessed, UNKNOWN (an opt-out, opt-in, help or hours request still counts, without a code).
4. Decide; the first rule that applies wins, in the order of what matters most:
   opt-out > opt-in > hours > swap > shift > drop out > decline (negation) > help > question, doubt or soft
   negation (UNKNOWN) > done > arrived > excuse alone (decline) > accept > unknown.
5. Bound: a wall or a long body (below) is UNKNOWN, unless it opts out.
6. Guard: whatever rule produced it, a yes (ACCEPT, SHIFT_TAKE, SWAP_ACCEPT) must pass `_is_clear_yes` once
   more at the end: the yes word present, every other word understood and neutral, and no negator word or
   character (NOT, NO, NEVER, CANT, 不, 没, 别...) anywhere outside the few idioms that agree (`没问题`,
   `不见不散`, `no problem`, `不用担心`: AGREEING_IDIOMS, checked against the tables on import). A
   "no", a doubt or noise read as a "yes" is impossible by construction, not by the order of the rules.

Decisions on ambiguous replies (guided by the two worst errors: a "no" read as "yes", a missed opt-out)
----------------------------------------------------------------------------------------------------
- Negation wins: 不能, 去不了, 没空, 没时间, 无法, 算了, 拒绝, 否, N, NO, CAN'T, UNABLE, BUSY... make the reply a
  DECLINE (a DROP_OUT with 放弃/取消). 不一定能去 and "not available" decline; 没问题 and "no problem" accept.
- A negated yes is a no. An English negator (NOT, NEVER, DONT, DIDNT, ISNT...; NO, WONT, CANT, CANNOT are
  declines already) before a yes, with only fillers, times or codes between, declines: "not ok", "not yes",
  "never, Y27", "no, not ok", "I'm not able". A word we do not know between them leaves unsaid what is
  negated ("don't worry, I'll come" is a yes with DONT WORRY, an agreeing idiom; "I do not think I can" is
  UNKNOWN). After the yes ("ok, not") a negator makes it UNKNOWN. NOT YET stays a soft negation (UNKNOWN).
- Not every 不 negates the answer. 不 negates the word it stands before when we know that word: a yes,
  ability or attendance word (不好, 不是, 不去, 不同意, 不签到) or a neutral one (不在, 不想去, 不会去, 不 OK,
  不用了 "no need"). Before a word we do not know (不远了，马上到, 不堵车, 不怕) it is a soft negation: the
  reply is UNKNOWN because of that word anyway, and a volunteer on the way is not released for it. Before a
  question (好不? 去不?, "or not?") it is a question. Idioms, decided one by one:
  - doubt, UNKNOWN alone and never part of a yes: 不知道, 不清楚, 不太清楚, 不晓得, 说不定, 说不准, 不好说,
    "don't know", "idk", "no idea", "maybe" (不知道能不能去 asks; 不知道，好的 is not a clear yes);
  - negated certainty (不确定, 不太确定, 不一定, "not sure", "unsure"): a doubt alone (UNKNOWN: 不确定 was a
    DECLINE until issue 13, while "not sure" was UNKNOWN; one meaning, one reading), but a yes after it is
    negated: 不一定能去, 不确定，好的 and "not sure ok" decline;
  - asking for help: 不懂, 看不懂, 不明白, 不会回复 (HELP); a question: 不会吧? ("surely not?": alone, like "what?",
    it gets the help reply), 是不是, 能不能, 好不好...;
  - politeness that agrees, neutral around a yes: 不好意思, 不客气, 不用谢, 不错, 不要紧, 没关系, 不用担心, 别担心,
    不见不散 (a yes);
  - a problem, not an answer (UNKNOWN, a dispatch is not released for it): 找不到, 看不到, 听不清, 打不通,
    联系不上, 进不去; 对不起 and 抱歉 are apologies like 不好意思 (UNKNOWN alone);
  - excuses (a no alone): 不舒服, 不巧, 不凑巧; declines: 不用, 不干, 不过来, 不愿意, 不可能.
- Soft negation and questions commit nothing: 还没到, 没签退, "not yet", 可以吗?, "Y, where?" are UNKNOWN,
  never ACCEPT/ARRIVED/DONE; the caller's not-understood reply then says how to answer.
- ACCEPT needs an explicit yes (Y, YES, OK, 1, 是, 好, 可以, 能, 行, 去, 来, 参加, 报名, 确认, 没问题...) and every
  other word understood (politeness, times, "I", 马上, 明天...). Unknown words and doubt (可能, 应该, 尽量,
  考虑, maybe, but, sorry) make it UNKNOWN: 我是张三 is not a yes, 好的，不过晚点到 is not a clear one.
- A drop-out word must stand as the reply, with a code, politeness, times or other words we know around it
  (放弃27, "I need to drop out", 临时有事，放弃), not inside noise, since a DROP_OUT releases a dispatch: one
  word we do not know next to DROP, 放弃 or 取消 makes it no drop-out ("'; DROP TABLE volunteers; --", a URL
  ending in /drop, 我觉得放弃这个词很奇怪 are UNKNOWN), nor anything else (到了 lorem 放弃 is no arrival); with a
  negation it is the DECLINE that negation makes it. The same holds for leaving a shift by DROP/取消 with a
  code. A negated drop ("don't drop me", 不取消, 别放弃) is neither. 退出 in noise is an opt-out, never a
  drop-out.
- Walls. A character more than 4 times in a row (YYYYY, 好好好好好, NOOOOO) or one word more than 4 times in
  a row (Y Y Y Y Y, 签到签到签到签到签到) is a wall: UNKNOWN. A thumb that slips or leans types a letter two or
  three times (YESSS, okk, 好好好), emphasis stretches it once more (YESSSS, 好好好好); five or more of one
  character is a held key, a phone in a pocket, a paste or a machine, and a "yes" read out of 1,600 Y would
  dispatch someone who never answered. The cost of the bound is a help reply to an enthusiastic YESSSSSSS.
- Long bodies. A reply longer than 160 characters (one GSM segment; real answers, codes and politeness
  included, take well under 60) is UNKNOWN: a forwarded text, a pasted page or a rant that happens to hold a
  Y, a 不 or a DROP is not an answer to "can you come?". The help reply asks again.
- Opt-out is the exception to both: a wall or a long body that holds an opt-out (STOPPPPP, a rant ending in
  STOP, 退订 anywhere) still opts out. A missed opt-out breaks the law; a wrong one is undone by START.
- 收到 / got it / noted / roger: an acknowledgement, not a commitment: UNKNOWN alone (好的收到 accepts).
- Commitments to come accept: 马上到, 马上就到, 一定到, 准时到, "I'll be there". Status reports do not:
  在路上, 出发了, 快到了, "on my way" are UNKNOWN alone (they answer "where are you", not "will you come").
- 到 alone (or 我到了, 已到, 签到, 到达, 报到, ARRIVED, "I'm here", check in) is an arrival. 8点到 (a time),
  收到, 到家, 迟到, 看到 are not.
- 不好意思 alone is UNKNOWN (an apology, not yet an answer). Excuses (有事, 生病, 出差, 下次吧) decline when
  nothing else is said; with a yes (好的，有事联系) they are UNKNOWN.
- Emoji alone (👍, 👌) is UNKNOWN: we do not act on a picture.
- Opt-out: STOP, STOPALL, UNSUBSCRIBE, CANCEL, QUIT, REVOKE, OPTOUT, TD, 退订, 取消订阅, 不要再发, 拒收...
  anywhere in the text: a missed opt-out breaks the law, a wrong one is undone by START / 订阅. END and T
  only when nothing but a code or politeness comes with them (END is a common word; 回T退订 is customary in
  China, so even T27, perhaps a mistyped Y27, opts out). CANCEL is never "drop my dispatch": Twilio opts the
  sender out on it. 退出 opts out, unless it names the order or the task (退出27, 退出这次任务): a drop-out.
- DECLINE and DROP_OUT are both a "no": a caller with a live dispatch should release it on either, and a
  DROP_OUT from a volunteer who only has an invitation declines it.
- Opt-in (START, UNSTOP, SUBSCRIBE, 订阅) with a negation (不订阅, "don't start") is read as an opt-out.
- YES accepts, and carrier_keyword="YES" warns that Twilio may also send its own opt-in reply.

Peacetime shifts and swaps (their codes are the shift's or the swap's, not an order's)
---------------------------------------------------------------------------------------
- 班次 / SHIFT(S) without a code asks for open shifts near home (SHIFTS), questions included (有班次吗?).
- With one code and nothing but a yes, politeness or times around it, it takes that shift: 班次2718,
  报名班次2718, SHIFT 2718 (SHIFT_TAKE). Unknown words or a question with a code commit nothing (UNKNOWN).
- Negation wins here too: with a negation, 取消/放弃/DROP or 退出 it leaves the shift (SHIFT_LEAVE): 取消班次2718,
  不参加班次2718, DROP SHIFT 2718; never a take. Without a code the caller lists the volunteer's bookings.
- 换班 / SWAP answers a swap request: 换班357, SWAP 357 accept (SWAP_ACCEPT, only with a plain yes around);
  不换班357, NO SWAP 357, 取消换班 refuse (SWAP_DECLINE). Without a code it applies to the only open swap.
- 签到/签退 (ARRIVED/DONE) with 班次 stay arrivals and check-outs: the conversation decides whether they are
  about a shift or an order.
"""
from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass


class Intent(str, enum.Enum):
    ACCEPT = "accept"
    DECLINE = "decline"
    DROP_OUT = "drop_out"
    ARRIVED = "arrived"
    DONE = "done"
    HELP = "help"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HOURS = "hours"
    SHIFTS = "shifts"  # peacetime: which shifts near me are open?
    SHIFT_TAKE = "shift_take"  # take the shift named by the code
    SHIFT_LEAVE = "shift_leave"  # leave the shift named by the code (without one: list my shifts)
    SWAP_ACCEPT = "swap_accept"
    SWAP_DECLINE = "swap_decline"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ParsedReply:
    intent: Intent
    code: str | None  # the order's reply code digits as written, e.g. "27"; None when absent or ambiguous
    normalized: str  # the text after normalisation (upper case, NFKC, punctuation and emoji gone), for logs
    carrier_keyword: str | None  # "STOP", "YES", "HELP"...: Twilio itself acts on this body (carrier level)


# --- Twilio -------------------------------------------------------------------------------------------------
# Twilio acts on these when they are the whole (single-word, case-insensitive) body: it blocks or unblocks the
# sender (error 21610 afterwards) and may send its own reply. We still see the message.
TWILIO_KEYWORDS: dict[str, Intent] = {
    **dict.fromkeys(
        ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"), Intent.OPT_OUT
    ),
    **dict.fromkeys(("START", "UNSTOP"), Intent.OPT_IN),
    "YES": Intent.ACCEPT,  # an opt-in at Twilio, an accept for us
    **dict.fromkeys(("HELP", "INFO"), Intent.HELP),
}


class _Cat(enum.Enum):
    """What a word or phrase contributes to the decision."""

    ACCEPT = "accept"
    DECLINE = "decline"  # negation: wins over any yes
    DECLINE_WEAK = "decline_weak"  # an excuse (有事, 出差): a no when nothing else is said
    DROP = "drop"
    NEG_DROP = "neg_drop"  # 不取消, 别放弃: a negated drop-out is neither a drop-out nor a yes
    ARRIVE = "arrive"
    ARRIVE_WEAK = "arrive_weak"  # 到, HERE: an arrival only when nothing else of substance is said
    DONE = "done"
    HELP = "help"
    HOURS = "hours"
    SHIFT = "shift"  # 班次, SHIFT: a peacetime shift
    SWAP = "swap"  # 换班, SWAP: a swap between two volunteers
    OPT_OUT = "opt_out"
    OPT_OUT_SOLE = "opt_out_sole"  # END, T: an opt-out only as the whole reply
    QUIT = "quit"  # 退出: opt-out, or drop-out when the order or task is named
    OPT_IN = "opt_in"
    NEG = "neg"  # soft negation (没, 未, NOT YET, 不 before a word we do not know): commits nothing
    NEGATOR = "negator"  # NOT, NEVER, DONT...: negates the yes that follows it ("not ok" declines)
    UNSURE = "unsure"  # negated certainty (不确定, 不一定, NOT SURE): a doubt alone, a negator before a yes
    QUESTION = "question"
    FILLER = "filler"  # politeness, pronouns, times of day, "on my way": neutral
    BLOCK = "block"  # understood, never part of a yes: doubt (可能, 不知道, maybe), traps (可是, 到家), SORRY, NEED
    UNKNOWN = "unknown"
    NUMBER = "number"  # a digit run, before code resolution
    CODE = "code"
    TIME = "time"  # 8点, 8:30, 5月12日, 2 hours


# --- Vocabulary ---------------------------------------------------------------------------------------------
# Chinese entries are matched character by character, English ones word by word (runs of a repeated letter
# collapse: YESSS = YES, NOOO = NO, OKK = OK). Longest match wins, so 不好意思 is read before 不 and 好.
_ZH: dict[_Cat, str] = {
    _Cat.ACCEPT: """
        是 是的 是滴 是啊 好 好的 好滴 好哒 好嘞 好吧 好啊 好好 很好 太好了 可以 可以的 可 能 行 还行 也行 都行 行吧
        去 我去 来 我来 来了 过来 参加 参与 报名 已报名 报名参加 确认 确定 同意 愿意 乐意 接受 答应 妥 妥妥的 必须的
        当然 当然可以 没问题 不见不散 服从安排 听从安排 待命 随时待命 马上到 马上就到 立刻到 一定到 准时到 按时到
        保证到 会到 能到 能去 能参加 可以参加 一定参加 准时参加 可以帮助 能帮助
    """,
    _Cat.DECLINE: """
        不 否 不能 不行 不去 不来 不参加 不可以 不方便 去不了 来不了 到不了 来不及 没空 没有空 没时间 没有时间 没法
        没办法 无法 算了 拒绝 婉拒 下次一定 不用 不干 不干了 不过来
    """,
    _Cat.DECLINE_WEAK: """
        有事 有急事 家里有事 临时有事 出差 在外地 生病 病了 不舒服 身体不舒服 请假 加班 下次 下次吧 改天 不巧 不凑巧
    """,
    _Cat.DROP: "放弃 取消 取消报名 取消派遣 我要放弃 我放弃",
    _Cat.NEG_DROP: "不放弃 不取消 别取消 不要取消 不用取消 没取消 不退出",
    _Cat.ARRIVE: """
        签到 已签到 报到 已报到 已到 已经到 到了 我到了 到达 已到达 到场 已到场 到岗 已到岗 到位 已到位
        在岗 在现场 已在现场
    """,
    _Cat.ARRIVE_WEAK: "到",
    _Cat.DONE: "签退 已签退 完成 已完成 任务完成 完毕 结束 结束了 已结束 收工",
    _Cat.HELP: """
        帮助 求助 说明 使用说明 怎么回复 如何回复 回复什么 怎么回 怎么操作 怎么报名 怎么参加 什么意思 啥意思 不懂
        看不懂 不明白 不会回复 不知道怎么回复 菜单 指令 客服
    """,
    _Cat.HOURS: "时长 服务时长 积分 星级 几星 工时 小时数 多少小时 查时长 查积分",
    _Cat.SHIFT: "班次 空缺班次 值班班次 查班次 可报名班次 附近班次 排班",
    _Cat.SWAP: "换班 调班 换岗",
    _Cat.OPT_OUT: """
        退订 退订阅 取消订阅 不要再发 不要发 别再发 别发 别发了 不想收到 不想再收到 不要再收到 不再接收 停止发送 拒收
        拉黑 屏蔽 骚扰 别给我发 不要给我发
    """,
    _Cat.QUIT: "退出",
    _Cat.OPT_IN: "订阅 重新订阅 恢复订阅 恢复接收 恢复短信",
    _Cat.NEG: "没 没有 还没 没到 还没到 未到 没签 未 尚未 别 无 甭 莫 没事",
    _Cat.QUESTION: """
        吗 么 什么 啥 哪 哪里 哪儿 哪个 几 几点 怎么 怎样 如何 为什么 为啥 谁 多少 是否 能否 可否 是不是 能不能
        可不可以 行不行 好不好 去不去 要不要 有没有 请问 确定吗 不会吧
    """,
    _Cat.FILLER: """
        我 我们 本人 俺 你 您 你好 您好 大家好 的 了 啦 啊 呀 吧 哦 噢 喔 嗯 嗯嗯 哈 哈哈 呵呵 嘿 滴 哒 嘞 咧 呐 嘛 呢
        都 也 就 还 会 要 想 一定 肯定 必须 马上 立刻 立即 准时 按时 今天 明天 后天 今晚 明早 早上 上午 中午 下午
        晚上 现在 随时 有空 有时间 时间 正好 刚好 谢谢 感谢 多谢 谢了 辛苦了 辛苦 老师 领导 同志 主任 书记 收到
        收到了 明白 明白了 知道了 知道 了解 在 已 已经 正在 路上 在路上 出发 已出发 出发了 快到 快到了 就到 到时
        到时候 届时 到时见 见 准备 一起 积极 加油 现场 号 编号 回复 招募 招募令 任务 活动 这次 本次 此次 派遣 岗位
        值班 志愿者 志愿 服务 帮忙 支持 一下 请 放心 请放心 特别 非常 很 真 那 那就 这个 不好意思 不客气 不用谢
        不错 不要紧 没关系 不用担心 别担心 通知 等通知 安排 保证 刚 刚刚 才 刚看到 刚刚看到 才看到 差不多到了 差不多到 快要到了 快要到 就要到了 要到了
    """,
    _Cat.BLOCK: """
        可能 可是 可惜 可怕 只能 只是 但是 还是 就是 要是 于是 总是 不过 不仅 不管 不少 不久 差不多 好像 最好
        不知道 不清楚 不太清楚 不晓得 说不定 说不准 不好说 对不起 抱歉 临时
        找不到 找不着 看不到 看不见 看不清 听不到 听不见 听不清 打不通 联系不上 进不去
        好久 好多 好几 行程 银行 行李 行动 进行 旅行 出行 步行 执行 去年 过去 回去 出去 下去 上去 进去 去过 去掉
        失去 原来 后来 来电 来源 未来 起来 出来 回来 能力 功能 也许 大概 应该 尽量 考虑 再说 看情况 试试 暂时 确认一下
        收到吗 迟到 到家 回到 看到 听到 想到 得到 遇到 找到 做到 等到 到底 周到 到点 到期 别的 别人 无所谓
        已到家 已经到家 已到点 已经到点 已到期 已经到期
    """,
    _Cat.UNSURE: "不确定 不太确定 不一定",
}

_EN: dict[_Cat, tuple[str, ...]] = {
    _Cat.ACCEPT: (
        "Y", "YES", "YSE", "YEP", "YEAH", "YEA", "YA", "YUP", "OK", "OKAY", "K", "SURE", "ACCEPT", "ACCEPTED",
        "AGREE", "CONFIRM", "CONFIRMED", "ALRIGHT", "ALL RIGHT", "FINE", "CAN", "COMING", "JOIN", "AVAILABLE",
        "COUNT ME IN", "IM IN", "I AM IN", "WILL COME", "ILL COME", "BE THERE", "SEE YOU THERE", "NO PROBLEM",
        "NO PROB", "NO WORRIES", "NP", "OF COURSE", "I CAN HELP", "CAN HELP", "WILL HELP", "TO HELP",
        "I CAN COME", "CAN COME", "I WILL COME", "I WILL BE THERE", "ILL BE THERE", "COUNT ON ME",
    ),
    _Cat.DECLINE: (
        "N", "NO", "NOPE", "NAH", "NEGATIVE", "DECLINE", "DECLINED", "CANT", "CANNOT", "CAN NOT", "UNABLE",
        "WONT", "WILL NOT", "BUSY", "UNAVAILABLE", "NOT AVAILABLE", "NOT COMING", "NOT GOING", "NOT ABLE",
        "NOT FREE", "NOT POSSIBLE", "NOT REALLY", "NOT TODAY", "NOT NOW", "NOT THIS TIME", "PASS", "SKIP",
        "NEXT TIME", "COUNT ME OUT",
    ),
    _Cat.DROP: ("DROP", "DROP OUT", "DROPOUT", "WITHDRAW"),
    _Cat.ARRIVE: (
        "ARRIVED", "ARRIVE", "CHECK IN", "CHECKIN", "CHECKED IN", "ON SITE", "ONSITE", "I AM HERE", "IM HERE",
    ),
    _Cat.ARRIVE_WEAK: ("HERE",),
    _Cat.DONE: (
        "DONE", "ALL DONE", "FINISHED", "FINISH", "CHECK OUT", "CHECKOUT", "CHECKED OUT", "SIGN OUT",
        "SIGNED OUT",
    ),
    _Cat.HELP: ("HELP", "INFO", "HOW TO REPLY"),
    _Cat.HOURS: ("HOURS", "MY HOURS", "STARS", "POINTS"),
    _Cat.SHIFT: ("SHIFT", "SHIFTS", "OPEN SHIFTS", "ANY SHIFTS", "TAKE SHIFT", "BOOK SHIFT"),
    _Cat.SWAP: ("SWAP", "SWAPS"),
    _Cat.OPT_OUT: (
        "STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "UNSUB", "CANCEL", "QUIT", "REVOKE", "OPTOUT",
        "OPT OUT", "TD", "ARRET", "REMOVE ME", "DONT TEXT", "DO NOT TEXT", "STOP TEXTING", "DONT MESSAGE",
    ),
    _Cat.OPT_OUT_SOLE: ("END", "T"),
    _Cat.OPT_IN: ("START", "UNSTOP", "SUBSCRIBE", "OPT IN", "OPTIN"),
    _Cat.NEG: ("NOT YET",),
    _Cat.NEGATOR: (
        "NOT", "NEVER", "DONT", "DIDNT", "DOESNT", "ISNT", "ARENT", "HAVENT", "HASNT", "WASNT", "AINT",
    ),
    _Cat.UNSURE: ("NOT SURE", "UNSURE", "NOT CERTAIN"),
    _Cat.QUESTION: ("WHAT", "WHERE", "WHEN", "WHO", "WHY", "HOW", "WHICH"),
    _Cat.FILLER: (
        "I", "IM", "I AM", "ME", "MY", "WE", "US", "YOU", "U", "IT", "ITS", "IS", "AM", "ARE", "BE", "WILL",
        "ILL", "WOULD", "SHALL", "THE", "A", "AN", "TO", "FOR", "AT", "IN", "ON", "OF", "AND", "SO", "THEN",
        "THERE", "THANKS", "THANK", "THX", "TY", "PLEASE", "PLS", "PLZ", "HI", "HELLO", "HEY", "DEAR", "SIR",
        "MADAM", "MAAM", "TEAM", "OFFICER", "TODAY", "TOMORROW", "TONIGHT", "NOW", "SOON", "ASAP", "RIGHT",
        "AWAY", "JUST", "ALSO", "GOT", "GOT IT", "NOTED", "RECEIVED", "ROGER", "COPY", "UNDERSTOOD", "GREAT",
        "GOOD", "COOL", "NICE", "HAPPY", "GLAD", "WILLING", "READY", "DEFINITELY", "ABSOLUTELY", "ORDER",
        "CODE", "REPLY", "VOLUNTEER", "ON MY WAY", "OMW", "ON THE WAY", "HEADING", "LOL", "HAHA", "OH",
        "TIME", "SEE", "YOU THERE", "DONT WORRY",
    ),
    _Cat.BLOCK: (
        "MAYBE", "PERHAPS", "PROBABLY", "BUT", "DONT KNOW", "DUNNO", "IDK", "NO IDEA", "SORRY",
        "UNFORTUNATELY", "NEED", "NEED TO", "HAVE TO", "MUST", "GOTTA", "WANT", "WANT TO", "ANYMORE",
        "NON STOP", "NONSTOP",  # "non-stop": the hyphen splits it, but STOP is no word of its own here
    ),
}

# Substrings that make any reply a "no" (tested: a reply containing one is never ACCEPT).
DECLINE_MARKERS: tuple[str, ...] = (
    "不能", "不行", "不去", "不来", "不参加", "不可以", "不方便", "不是很", "不太", "去不了", "来不了", "到不了", "不了",
    "没空", "没有空", "没时间", "没有时间", "没法", "没办法", "无法", "算了", "拒绝", "否",
)
# Idioms with 不/否 that do not negate the answer; taken out before looking for a decline marker (the last three
# hold one, but 不太清楚 and 不太确定 are doubts and 进不去 "cannot get in" is a problem, not declines).
_NOT_NEGATING: tuple[str, ...] = (
    "不好意思", "不见不散", "不客气", "不用谢", "不错", "不过", "不仅", "不管", "不少", "不久", "差不多",
    "不放弃", "不取消", "不要取消", "不用取消", "不退出", "不懂", "看不懂", "不明白", "不会回复", "不知道怎么回复",
    "是不是", "能不能", "可不可以", "行不行", "好不好", "去不去", "要不要", "是否", "能否", "可否",
    "不太清楚", "不太确定", "进不去",
)
# Opt-out is also looked for as a plain substring of the Chinese text: missing one is the worst error.
_OPT_OUT_SUBSTRINGS: tuple[str, ...] = tuple(_ZH[_Cat.OPT_OUT].split())
_TASK_WORDS = ("任务", "活动", "这次", "本次", "此次", "这个", "派遣", "岗位", "值班", "报名", "招募", "班次")

_KEYWORD_DIGITS = {"0": _Cat.DROP, "1": _Cat.ACCEPT, "2": _Cat.DECLINE}
_MAX_CODE_DIGITS = 4

# Bounds of a reply (see the module docstring): a character repeated more than _MAX_RUN times in a row, the
# same word more than _MAX_RUN times in a row, or a body longer than one SMS segment is not an answer.
_MAX_RUN = 4
_MAX_REPLY_CHARS = 160

_REPEATED = re.compile(r"(.)\1+")
_WALL = re.compile(rf"(.)\1{{{_MAX_RUN},}}")


def _collapse(word: str) -> str:
    """YESSS -> YES, NOOO -> NO: people lean on keys (a longer run makes the reply a wall, see _has_wall)."""
    return _REPEATED.sub(r"\1", word)


def _zh_key(word: str) -> tuple[str, ...]:
    return tuple(word)


def _en_key(phrase: str) -> tuple[str, ...]:
    return tuple(_collapse(word) for word in phrase.split())


def _build_vocabulary() -> dict[tuple[str, ...], _Cat]:
    entries = [(_zh_key(word), category) for category, words in _ZH.items() for word in words.split()]
    entries += [(_en_key(phrase), category) for category, phrases in _EN.items() for phrase in phrases]
    vocabulary: dict[tuple[str, ...], _Cat] = {}
    for key, category in entries:
        if vocabulary.setdefault(key, category) is not category:  # a table edit must not silently shadow
            raise ValueError(f"reply vocabulary: {key} is both {vocabulary[key].name} and {category.name}")
    return vocabulary


# --- The gate every yes passes ------------------------------------------------------------------------------
# Words that negate, whatever category a table edit gives the phrase they stand in. A reply read as a yes may
# hold none of them outside the agreeing idioms below (_is_clear_yes).
_NEGATOR_WORDS = frozenset(_collapse(word) for word in (
    "N", "NO", "NOPE", "NAH", "NOT", "NEVER", "DONT", "DIDNT", "DOESNT", "ISNT", "ARENT", "WASNT", "HAVENT",
    "HASNT", "AINT", "CANT", "CANNOT", "WONT", "UNABLE", "UNSURE", "NEITHER", "NOR", "NONE",
))
_NEGATOR_CHARS = frozenset("不没否别未无甭莫勿")
# Vocabulary entries that may stand next to a yes although they hold a negator: each one agrees, none negates.
# It must equal the entries of the categories that may stand next to a yes that hold a negator (checked when
# the module loads, see _check_agreeing_idioms), so adding one is a decision, not an accident.
AGREEING_IDIOMS: tuple[str, ...] = (
    "没问题", "不见不散", "不好意思", "不客气", "不用谢", "不错", "不要紧", "没关系", "不用担心", "别担心",
    "差不多到", "差不多到了", "特别", "NO PROBLEM", "NO PROB", "NO WORRIES", "DONT WORRY",
)
_AGREEING_KEYS = frozenset(
    _en_key(idiom) if idiom.isascii() else _zh_key(idiom) for idiom in AGREEING_IDIOMS
)
_ACCEPT_COMPANIONS = {_Cat.ACCEPT, _Cat.FILLER, _Cat.TIME, _Cat.ARRIVE_WEAK, _Cat.CODE}
_TAKE_COMPANIONS = {_Cat.ACCEPT, _Cat.FILLER, _Cat.TIME, _Cat.CODE}
# Each yes-like intent, the word that must be in the reply, and what alone may stand around it.
_YES_INTENTS: dict[Intent, tuple[_Cat, set[_Cat]]] = {
    Intent.ACCEPT: (_Cat.ACCEPT, _ACCEPT_COMPANIONS),
    Intent.SHIFT_TAKE: (_Cat.SHIFT, _TAKE_COMPANIONS),
    Intent.SWAP_ACCEPT: (_Cat.SWAP, _TAKE_COMPANIONS),
}
_NEXT_TO_A_YES = {cat for wanted, companions in _YES_INTENTS.values() for cat in {wanted, *companions}}


def _holds_negator(key: tuple[str, ...]) -> bool:
    return any(word in _NEGATOR_WORDS or word in _NEGATOR_CHARS for word in key)


def _check_agreeing_idioms(vocabulary: dict[tuple[str, ...], _Cat],
                           agreeing: frozenset[tuple[str, ...]]) -> None:
    """Raise when the tables put a negator next to a yes without saying so in AGREEING_IDIOMS, or when an
    agreeing idiom is not (or no longer) such an entry."""
    holding = {key for key, category in vocabulary.items()
               if category in _NEXT_TO_A_YES and _holds_negator(key)}
    if holding != agreeing:
        raise ValueError(f"reply vocabulary: agreeing idioms differ from the tables: {holding ^ agreeing}")


_VOCABULARY = _build_vocabulary()
_check_agreeing_idioms(_VOCABULARY, _AGREEING_KEYS)
_LONGEST = max(len(key) for key in _VOCABULARY)

# --- Normalisation and words --------------------------------------------------------------------------------
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TIME_SUFFIX = (
    "点半|点钟|点|分钟|分|号|日|月|年|小时|个|人|岁|天|周|楼|栋|单元|室|米|公里|块|元|"
    "KM|AM|PM|HOURS|HOUR|HRS|HR|H|MINUTES|MINUTE|MINS|MIN"
)
_UNIT = re.compile(
    rf"(?P<time>[0-9]+月[0-9]+[日号]?|[0-9]{{1,2}}[:.][0-9]{{2}}|[0-9]+\s*(?:{_TIME_SUFFIX})(?![A-Z]))"
    rf"|(?P<hash>#[0-9]+)|(?P<digits>[0-9]+)|(?P<latin>[A-Z]+)|(?P<cjk>[{_CJK}])|(?P<q>\?)"
    rf"|(?P<other>[^\W_A-Z0-9{_CJK}]+)"
)
# Dropped before anything else: apostrophes (CAN'T -> CANT), zero-width characters, soft hyphens.
_DROPPED = dict.fromkeys(map(ord, "'‘’`´\u200b\u200c\u200d\u2060\ufeff\u00ad"))
# Units the vocabulary does not name keep the category of their kind; unknown words stay UNKNOWN.
_KIND_CATEGORY = {"time": _Cat.TIME, "hash": _Cat.NUMBER, "digits": _Cat.NUMBER, "q": _Cat.QUESTION}


@dataclass(frozen=True)
class _Unit:
    kind: str  # time, hash, digits, latin, cjk, q, other
    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        return _collapse(self.text) if self.kind == "latin" else self.text


@dataclass(frozen=True)
class _Token:
    cat: _Cat
    text: str
    words: tuple[str, ...]  # the vocabulary key: Chinese characters, collapsed Latin words, digits


def _prepare(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_DROPPED).upper()


def _units(prepared: str) -> list[_Unit]:
    units = []
    for match in _UNIT.finditer(prepared):
        kind = match.lastgroup or "other"
        units.append(_Unit(kind, re.sub(r"\s+", "", match.group()), match.start(), match.end()))
    return units


def _join(units: list[_Unit]) -> str:
    """The normalised text: words touching in the original stay together (Y27, 好的), others get one space."""
    parts: list[str] = []
    for index, unit in enumerate(units):
        if index and units[index - 1].end != unit.start:
            parts.append(" ")
        parts.append(unit.text)
    return "".join(parts)


def _segment(units: list[_Unit]) -> list[_Token]:
    """Greedy longest match against the vocabulary; what is not in it keeps the category of its kind."""
    tokens: list[_Token] = []
    index = 0
    while index < len(units):
        found = _match_at(units, index)
        if found is None and _stutter(units, index):
            index += 1  # 报报名, 确确认: a character typed twice, the word starts again at the next one
            continue
        if found is not None:
            category, length = found
            matched = units[index:index + length]
            text = "".join(unit.text for unit in matched)
            tokens.append(_Token(category, text, tuple(unit.key for unit in matched)))
            index += length
        else:
            unit = units[index]
            tokens.append(_Token(_KIND_CATEGORY.get(unit.kind, _Cat.UNKNOWN), unit.text, (unit.key,)))
            index += 1
    return tokens


def _match_at(units: list[_Unit], index: int) -> tuple[_Cat, int] | None:
    """The longest vocabulary entry starting at `index`: its category and length in units."""
    for length in range(min(_LONGEST, len(units) - index), 0, -1):
        category = _VOCABULARY.get(tuple(unit.key for unit in units[index:index + length]))
        if category is not None:
            return category, length
    return None


def _stutter(units: list[_Unit], index: int) -> bool:
    """A Chinese character repeated by a slipping thumb: it is not a word here, the same character follows,
    and a word of the vocabulary starts there."""
    unit = units[index]
    return (unit.kind == "cjk" and index + 1 < len(units) and units[index + 1].text == unit.text
            and units[index + 1].start == unit.end and _match_at(units, index + 1) is not None)


# What a bare 不 cannot be seen to negate: a word we do not know (不远, 不怕: the reply is UNKNOWN because of
# that word anyway) or a question (好不? 去不?: "or not?", a question tag).
_NOT_NEGATED_BY_BARE_NO = {_Cat.UNKNOWN, _Cat.QUESTION}


def _soften_bare_negations(tokens: list[_Token]) -> list[_Token]:
    """A 不 that starts no vocabulary word negates the word after it when we know that word (不在, 不想去,
    不 OK); before a word we do not know or a question it is a soft negation: it commits nothing."""
    softened: list[_Token] = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1].cat if index + 1 < len(tokens) else None
        if token.text == "不" and token.cat is _Cat.DECLINE and following in _NOT_NEGATED_BY_BARE_NO:
            token = _Token(_Cat.NEG, token.text, token.words)
        softened.append(token)
    return softened


# --- Codes --------------------------------------------------------------------------------------------------
def _resolve_numbers(tokens: list[_Token]) -> tuple[list[_Token], list[str]]:
    """Turn digit runs into reply codes or the 0/1/2 keywords; returns the new tokens and the codes found."""
    numbers = [token for token in tokens if token.cat is _Cat.NUMBER]
    digits_only = len(numbers) == len(tokens)
    keyword = _keyword_number(numbers) if digits_only else None
    codes: list[str] = []
    resolved: list[_Token] = []
    for token in tokens:
        if token.cat is not _Cat.NUMBER:
            resolved.append(token)
        elif token is keyword:
            resolved.append(_Token(_KEYWORD_DIGITS[token.text], token.text, token.words))
        elif len(token.text.lstrip("#")) <= _MAX_CODE_DIGITS:
            codes.append(token.text.lstrip("#"))
            resolved.append(_Token(_Cat.CODE, token.text, token.words))
        else:  # a phone number or another long figure: not something we understand
            resolved.append(_Token(_Cat.UNKNOWN, token.text, token.words))
    return resolved, codes


def _keyword_number(numbers: list[_Token]) -> _Token | None:
    """In a digits-only reply, which number is the 0/1/2 keyword: `1`, `1 27`, `27 1`, `#27 1`."""
    plain = [token for token in numbers if not token.text.startswith("#")]
    hashed = len(numbers) - len(plain)
    if hashed and len(plain) == 1 and plain[0].text in _KEYWORD_DIGITS:
        return plain[0]
    if hashed or not 1 <= len(plain) <= 2:
        return None
    for token in plain:  # the first keyword-like one: "1 2" accepts order 2, the order the templates teach
        if token.text in _KEYWORD_DIGITS:
            return token
    return None


# --- Decision -----------------------------------------------------------------------------------------------
_NEEDS_ONE_CODE = {Intent.ACCEPT, Intent.DECLINE, Intent.DROP_OUT, Intent.ARRIVED, Intent.DONE,
                   Intent.SHIFT_TAKE, Intent.SHIFT_LEAVE, Intent.SWAP_ACCEPT, Intent.SWAP_DECLINE}
# A negator reaches the yes (or the drop) after it across these: "not ok", "not Y27", "not sure, ok".
_NEGATES_WHAT_FOLLOWS = {_Cat.NEGATOR, _Cat.UNSURE}
_CARRIES_NEGATION_ON = {_Cat.FILLER, _Cat.TIME, _Cat.CODE, _Cat.NEGATOR, _Cat.UNSURE}
_UNCOMMITTED = {_Cat.NEG, _Cat.NEGATOR, _Cat.UNSURE, _Cat.QUESTION}


def _chinese(units: list[_Unit]) -> str:
    return "".join(unit.text for unit in units if unit.kind == "cjk")


def _has_decline_marker(chinese: str) -> bool:
    for idiom in _NOT_NEGATING:
        chinese = chinese.replace(idiom, " ")
    return any(marker in chinese for marker in DECLINE_MARKERS)


def _negator_reaches(tokens: list[_Token], target: _Cat) -> bool:
    """True when a negator (NOT, NEVER, DONT, 不确定...) comes before a `target` word with nothing but fillers,
    times, codes or other negators between: "not ok", "never, Y27", "not sure ok". A word we do not know in
    between ("don't worry, I'll come" has one) leaves it unsaid what the negator negates."""
    negating = False
    for token in tokens:
        if negating and token.cat is target:
            return True
        negating = token.cat in _NEGATES_WHAT_FOLLOWS or (negating and token.cat in _CARRIES_NEGATION_ON)
    return False


def _negated(tokens: list[_Token], chinese: str) -> bool:
    """Negation wins: a decline word (不 before a word we know, 不能, NO, CANT...), a decline marker anywhere
    in the Chinese (不太, 去不了, 没空...), or a negator before a yes ("not ok")."""
    return (any(token.cat is _Cat.DECLINE for token in tokens) or _has_decline_marker(chinese)
            or _negator_reaches(tokens, _Cat.ACCEPT))


def _carries_negator(token: _Token) -> bool:
    return token.words not in _AGREEING_KEYS and _holds_negator(token.words)


def _is_clear_yes(tokens: list[_Token], chinese: str, wanted: _Cat, companions: set[_Cat]) -> bool:
    """The one definition of a yes: the yes word is there, everything else is understood and neutral (no
    doubt, no question, no noise), and nothing negates: no negator word or character outside the agreeing
    idioms, whatever category a table gives it, and no decline marker."""
    return (any(token.cat is wanted for token in tokens)
            and all(token.cat is wanted or token.cat in companions for token in tokens)
            and not any(_carries_negator(token) for token in tokens)
            and not _has_decline_marker(chinese))


def _only(cats_in_order: list[_Cat], wanted: _Cat, allowed: set[_Cat]) -> bool:
    """True when `wanted` is present and everything else is in `allowed`."""
    return wanted in cats_in_order and all(cat is wanted or cat in allowed for cat in cats_in_order)


def _decide(tokens: list[_Token], chinese: str, has_code: bool) -> Intent:
    order = [token.cat for token in tokens]
    cats = set(order)
    substantive = cats - {_Cat.CODE}
    noisy = _Cat.UNKNOWN in cats  # a word we do not know: a drop word in it may be part of something else
    if not substantive:
        return Intent.UNKNOWN  # empty, emoji only, or a bare code like "27"
    if substantive == {_Cat.QUESTION}:
        return Intent.HELP  # "?" or "？"
    if _Cat.OPT_OUT in cats or any(marker in chinese for marker in _OPT_OUT_SUBSTRINGS):
        return Intent.OPT_OUT
    if _Cat.QUIT in cats:
        return _quit(cats, chinese, has_code, noisy)
    if _only(order, _Cat.OPT_OUT_SOLE, {_Cat.FILLER, _Cat.CODE}):
        return Intent.OPT_OUT
    negated = _negated(tokens, chinese)
    if _Cat.OPT_IN in cats:
        return Intent.OPT_OUT if negated or cats & {_Cat.NEG, _Cat.NEGATOR} else Intent.OPT_IN
    if _Cat.HOURS in cats:
        return Intent.HOURS
    if _Cat.SWAP in cats:
        return _swap(tokens, chinese, negated)
    if _Cat.SHIFT in cats and not cats & {_Cat.ARRIVE, _Cat.ARRIVE_WEAK, _Cat.DONE}:
        return _shift(tokens, chinese, negated, has_code)
    if (_Cat.NEG_DROP in cats or _negator_reaches(tokens, _Cat.DROP)) and not negated:
        return Intent.UNKNOWN  # 不取消, "don't drop me": neither a drop-out nor a yes
    if _Cat.DROP in cats and not noisy:
        return Intent.DROP_OUT
    if _Cat.DROP in cats:  # a drop word in noise: no drop-out, and nothing else to commit to either
        return Intent.DECLINE if negated else Intent.UNKNOWN
    if negated:
        return Intent.DECLINE
    if _Cat.HELP in cats:
        return Intent.HELP
    if cats & _UNCOMMITTED:
        return Intent.UNKNOWN  # a question, a "not yet", a "not sure" commits to nothing
    if _Cat.DONE in cats:
        return Intent.DONE
    if _Cat.ARRIVE in cats or _only(order, _Cat.ARRIVE_WEAK, {_Cat.FILLER, _Cat.CODE}):
        return Intent.ARRIVED
    if _Cat.DECLINE_WEAK in cats:  # an excuse alone is a no; with a yes it is a doubt
        return Intent.UNKNOWN if _Cat.ACCEPT in cats else Intent.DECLINE
    if _is_clear_yes(tokens, chinese, _Cat.ACCEPT, _ACCEPT_COMPANIONS):
        return Intent.ACCEPT
    return Intent.UNKNOWN


def _quit(cats: set[_Cat], chinese: str, has_code: bool, noisy: bool) -> Intent:
    """退出: leaving the shift or the task it names, else (and in noise, where a task word may be part of
    something else) an opt-out, the reading that cannot break the law."""
    if _Cat.SHIFT in cats:
        return Intent.SHIFT_LEAVE  # 退出班次2718: leaves the shift (names the task, like 退出这次任务)
    names_the_task = has_code or any(word in chinese for word in _TASK_WORDS)
    return Intent.DROP_OUT if names_the_task and not noisy else Intent.OPT_OUT


def _swap(tokens: list[_Token], chinese: str, negated: bool) -> Intent:
    cats = {token.cat for token in tokens}
    if _Cat.NEG_DROP in cats and not negated:
        return Intent.UNKNOWN  # 不取消换班: neither a yes nor a no
    if negated or cats & {_Cat.DROP, _Cat.DECLINE_WEAK}:
        return Intent.SWAP_DECLINE
    if _is_clear_yes(tokens, chinese, _Cat.SWAP, _TAKE_COMPANIONS):
        return Intent.SWAP_ACCEPT
    return Intent.UNKNOWN


def _shift(tokens: list[_Token], chinese: str, negated: bool, has_code: bool) -> Intent:
    cats = {token.cat for token in tokens}
    if _Cat.NEG_DROP in cats and not negated:
        return Intent.UNKNOWN  # 不取消班次
    if negated or (_Cat.DROP in cats and _Cat.UNKNOWN not in cats):
        return Intent.SHIFT_LEAVE
    if not has_code:
        return Intent.SHIFTS  # asking costs nothing: 有什么班次?, 明天的班次
    if _is_clear_yes(tokens, chinese, _Cat.SHIFT, _TAKE_COMPANIONS):
        return Intent.SHIFT_TAKE
    return Intent.UNKNOWN


# --- Bounds and the final guard -----------------------------------------------------------------------------
def _longest_repeat(keys: list[object]) -> int:
    longest = run = 0
    for index, key in enumerate(keys):
        run = run + 1 if index and key == keys[index - 1] else 1
        longest = max(longest, run)
    return longest


def _has_wall(units: list[_Unit], tokens: list[_Token]) -> bool:
    """A character more than _MAX_RUN times in a row (YYYYY..., 好好好好好...) or the same word more than
    _MAX_RUN times in a row (Y Y Y Y Y, 签到签到签到签到签到): a held key, a pocket, a paste or a machine."""
    return (any(_WALL.search(unit.text) for unit in units)
            or _longest_repeat([unit.key for unit in units]) > _MAX_RUN
            or _longest_repeat([token.words for token in tokens]) > _MAX_RUN)


def _beyond_bounds(text: str, units: list[_Unit], tokens: list[_Token]) -> bool:
    return len(text.strip()) > _MAX_REPLY_CHARS or _has_wall(units, tokens)


def _guarded(intent: Intent, tokens: list[_Token], chinese: str) -> Intent:
    """The last word on every yes, whatever rule produced it: a reply holding a negator, a doubt, a question
    or noise is never ACCEPT, SHIFT_TAKE or SWAP_ACCEPT. Redundant with _decide today, on purpose: a rule
    added tomorrow cannot turn a "no" into a "yes" without also changing this."""
    if intent in _YES_INTENTS:
        wanted, companions = _YES_INTENTS[intent]
        if not _is_clear_yes(tokens, chinese, wanted, companions):
            return Intent.UNKNOWN
    return intent


# --- Public API ---------------------------------------------------------------------------------------------
def carrier_keyword(text: str) -> str | None:
    """The Twilio keyword this body is, if Twilio itself acts on it: the whole body, one word, any case."""
    word = (text or "").strip().strip(".!?。！？ \t\r\n").upper()
    return word if word in TWILIO_KEYWORDS else None


def extract_code(text: str) -> str | None:
    """The one reply code in the text (`Y27`, `#27`, `是27`, `1 27`), or None when there is none or several."""
    units = _units(_prepare(text if isinstance(text, str) else ""))
    _, codes = _resolve_numbers(_segment(units))
    return codes[0] if len(set(codes)) == 1 else None


def parse_reply(text: str) -> ParsedReply:
    """Read an inbound SMS body. Never raises; anything not understood is Intent.UNKNOWN."""
    text = text if isinstance(text, str) else ""
    units = _units(_prepare(text))
    tokens, codes = _resolve_numbers(_segment(units))
    tokens = _soften_bare_negations(tokens)
    distinct = set(codes)
    code = codes[0] if len(distinct) == 1 else None
    chinese = _chinese(units)
    intent = _decide(tokens, chinese, has_code=code is not None)
    if len(distinct) > 1 and intent in _NEEDS_ONE_CODE:
        intent = Intent.UNKNOWN  # "Y27 N28": two orders answered at once, we do not pick one
    if intent is not Intent.OPT_OUT and _beyond_bounds(text, units, tokens):
        intent = Intent.UNKNOWN  # a wall or a long body is not a reply; an opt-out in it still counts
    intent = _guarded(intent, tokens, chinese)
    return ParsedReply(intent, code, _join(units), carrier_keyword(text))
