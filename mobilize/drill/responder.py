"""The drill's people: how a volunteer answers an invitation and a dispatch, in Chinese (and sometimes English)
with typos, after minutes of thought.

`drill_responder(phone, text) -> list[Reply]` has the simulator's responder signature (see
`mobilize.sms.simulator.phones`): it reads only the text that reached the phone, keeps its memory in
`phone.state` and draws from `phone.rng`, so it can be installed on the simulator's phones
(`register_responder("drill", drill_responder)`) as well as driven by the drill's own clock. Delays are
simulated seconds. What the person meant is in `Reply.intent`, so the drill can score the reply parser.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mobilize.sms.simulator.phones import Phone, Reply

_INVITATION = re.compile(r"(?:招募令|Call-out)\s*#(\d+)")
_DISPATCH = re.compile(r"(?:派遣|^)\s*#(\d+)[^\n]*(?:确认|confirm|Y\d+)", re.IGNORECASE)
_DISPATCH_ZH = re.compile(r"【派遣#(\d+)】")
_DISPATCH_EN = re.compile(r"^#(\d+): .* Reply Y\d+ to confirm", re.DOTALL)
_TIMEOUT = re.compile(r"(?:未在规定时间内确认|no confirmation in time)")
_STANDBY_ASK = re.compile(r"(?:列入候补|on standby)\D*(?:回复|reply )Y(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class AnswerModel:
    """Probabilities and delays (simulated seconds) of the drill's volunteers."""

    answer_rate: float = 0.75  # answers the invitation at all
    stop_rate: float = 0.006  # of the answers: TD / 退订 / STOP
    decline_rate: float = 0.25  # of the other answers
    delay_median_s: float = 240.0  # lognormal answer delay
    delay_sigma: float = 0.9
    code_rate: float = 0.5  # replies that carry the order's code
    typo_rate: float = 0.15  # punctuation, spaces, full-width letters, emoji, repeated characters
    confirm_rate: float = 0.92  # confirms a dispatch (else drops out or stays silent)
    dropout_rate: float = 0.05  # drops out after being dispatched ("0 27", 放弃)
    confirm_median_s: float = 180.0
    no_show_rate: float = 0.04  # confirmed but never comes (the officer marks them)
    reaccept_after_timeout: float = 0.3  # says yes again after a confirmation timeout


MODEL = AnswerModel()

ACCEPT_ZH = ("是", "是的", "好", "好的", "可以", "参加", "报名", "能", "1", "Y", "y", "可以参加", "我参加", "报名参加")
ACCEPT_EN = ("Y", "yes", "Y", "1", "ok I can come")
DECLINE_ZH = ("N", "不", "不能", "没空", "不能参加", "不好意思去不了", "2", "否", "不是很方便", "今天没空")
DECLINE_EN = ("N", "no", "2", "sorry can't")
STOP_WORDS = ("TD", "退订", "STOP", "td")
DROP_ZH = ("0", "放弃", "取消不了了放弃", "0")
DROP_EN = ("0", "DROP")
CONFIRM = ("Y", "是", "确认", "1", "好")
_FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789YyNn"}


def lognormal(rng, median: float, sigma: float) -> float:
    return rng.lognormvariate(math.log(median), sigma) if median > 0 else 0.0


def with_typos(rng, body: str, code: str | None, model: AnswerModel = MODEL) -> str:
    """The body with the order's code maybe attached, and maybe some noise a real thumb adds."""
    if code and rng.random() < model.code_rate:
        body = f"{body}{rng.choice(('', ' ', '#'))}{code}" if body[-1:] not in "0123456789" else f"{body} {code}"
    if rng.random() < model.typo_rate:
        kind = rng.randrange(5)
        if kind == 0:
            body = body + rng.choice(("。", "！", "!!", "～", "."))
        elif kind == 1:
            body = " " + body + "  "
        elif kind == 2:
            body = "".join(_FULL_WIDTH.get(c, c) for c in body)
        elif kind == 3:
            body = body + rng.choice(("👍", "🙏", "😊"))
        else:
            body = body[0] + body  # a repeated first character (好好, YY)
    return body


def drill_responder(phone: Phone, text: str, model: AnswerModel = MODEL) -> list[Reply]:
    rng, state = phone.rng, phone.state
    english = text.startswith(("Call-out", "#"))
    invitation = _INVITATION.search(text)
    if invitation:
        code = invitation.group(1)
        if rng.random() >= model.answer_rate:
            state["silent"] = True
            return []
        delay = lognormal(rng, model.delay_median_s, model.delay_sigma)
        roll = rng.random()
        if roll < model.stop_rate:
            return [Reply(rng.choice(STOP_WORDS), delay, "opt_out")]
        if rng.random() < model.decline_rate:
            words = DECLINE_EN if english else DECLINE_ZH
            return [Reply(with_typos(rng, rng.choice(words), code, model), delay, "decline")]
        state["accepted"] = True
        state["no_show"] = rng.random() < model.no_show_rate
        words = ACCEPT_EN if english else ACCEPT_ZH
        return [Reply(with_typos(rng, rng.choice(words), code, model), delay, "accept")]
    standby = _STANDBY_ASK.search(text)
    if standby:
        # "can you go at short notice?": answered as a dispatch's confirmation is (same rate and delay); those who
        # will not come after all (no-shows) say yes as readily as the others, as they did to the invitation
        if rng.random() < model.confirm_rate:
            return [Reply(with_typos(rng, rng.choice(CONFIRM), standby.group(1), model),
                          lognormal(rng, model.confirm_median_s, model.delay_sigma), "accept")]
        return []
    dispatch = _DISPATCH_ZH.search(text) or _DISPATCH_EN.search(text)
    if dispatch:
        code = dispatch.group(1)
        delay = lognormal(rng, model.confirm_median_s, model.delay_sigma)
        roll = rng.random()
        if roll < model.dropout_rate:
            state["dropped"] = True
            words = DROP_EN if english else DROP_ZH
            return [Reply(f"{rng.choice(words)} {code}", delay, "drop_out")]
        if roll < model.dropout_rate + model.confirm_rate:
            return [Reply(with_typos(rng, rng.choice(CONFIRM), code, model), delay, "accept")]
        return []  # silent: the confirmation times out
    timeout = _TIMEOUT.search(text)
    if timeout and rng.random() < model.reaccept_after_timeout:
        code = re.search(r"#(\d+)", text)
        return [Reply(f"Y{code.group(1)}" if code else "Y",
                      lognormal(rng, model.delay_median_s, model.delay_sigma), "accept")]
    return []
