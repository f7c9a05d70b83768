"""Simulated phones: who they are (a behaviour profile) and how they answer (a pluggable responder).

A responder is any callable `responder(phone, text) -> list[Reply]`: it is told what text reached the phone
and says what the phone texts back and after how long (in simulated seconds; the simulator scales them by its
`time_scale`). It may keep per-phone memory in `phone.state` and must draw its randomness from `phone.rng` so
that a seeded run is reproducible. Install one for every phone (`Simulator.set_responder(fn)`), for one phone
(`Simulator.set_responder(fn, number)`), or by name through the control API after
`register_responder(name, fn)` (or as an import path "package.module:function").
"""
from __future__ import annotations

import importlib
import math
import random
import re
import threading
import unicodedata
from dataclasses import asdict, dataclass, field, fields
from typing import Callable, Protocol

LANGUAGES = ("zh", "en")


class ProfileError(ValueError):
    """A phone profile with a value out of range; the message names it."""


@dataclass(frozen=True)
class PhoneProfile:
    """How a simulated person answers an invitation (a text carrying an order's reply code such as `#27`).

    answer_rate: probability of answering at all. An answer is an opt-out ("STOP"/"退订") with probability
    stop_rate, else a decline with probability decline_rate, else an accept. delay_median/delay_sigma: the
    answer comes after a lognormal delay (median in seconds, sigma of its log). typo_rate: probability the
    answer is mistyped. seed: makes the phone's choices reproducible (combined with its number).
    """

    answer_rate: float = 0.7
    decline_rate: float = 0.2
    delay_median: float = 30.0
    delay_sigma: float = 0.8
    language: str = "zh"
    typo_rate: float = 0.05
    stop_rate: float = 0.01
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("answer_rate", "decline_rate", "typo_rate", "stop_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ProfileError(f"{name} must be a probability between 0 and 1, not {value!r}")
        if not isinstance(self.delay_median, (int, float)) or self.delay_median < 0:
            raise ProfileError(f"delay_median must be non-negative seconds, not {self.delay_median!r}")
        if not isinstance(self.delay_sigma, (int, float)) or self.delay_sigma < 0:
            raise ProfileError(f"delay_sigma must be non-negative, not {self.delay_sigma!r}")
        if self.language not in LANGUAGES:
            raise ProfileError(f"language must be one of {', '.join(LANGUAGES)}, not {self.language!r}")
        if self.seed is not None and not isinstance(self.seed, int):
            raise ProfileError(f"seed must be an integer, not {self.seed!r}")

    @classmethod
    def from_dict(cls, data: dict | None, base: "PhoneProfile | None" = None) -> "PhoneProfile":
        """A profile from JSON; missing keys come from `base` (or the defaults), unknown keys are an error."""
        if data is not None and not isinstance(data, dict):
            raise ProfileError(f"a phone profile is an object of fields, not {data!r}")
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProfileError(f"unknown phone profile field(s): {', '.join(unknown)}")
        values = asdict(base) if base is not None else {}
        values.update(data)
        try:
            return cls(**values)
        except TypeError as error:
            raise ProfileError(str(error)) from None

    def to_dict(self) -> dict:
        return asdict(self)

    def delay(self, rng: random.Random) -> float:
        if self.delay_median <= 0:
            return 0.0
        return rng.lognormvariate(math.log(self.delay_median), self.delay_sigma)


@dataclass(frozen=True)
class Reply:
    """A text a phone sends back, `delay` simulated seconds after it received the message it answers."""

    body: str
    delay: float = 0.0
    intent: str | None = None  # accept, decline, stop...: what the person meant (for drills to score parsing)


class Responder(Protocol):
    def __call__(self, phone: "Phone", text: str) -> list[Reply]: ...


@dataclass(eq=False)
class Phone:
    """A number the simulator knows. Registered phones answer through a responder; others only receive."""

    number: str
    registered: bool = False
    profile: PhoneProfile | None = None
    responder: object = None  # None: the simulator's global responder; a name from RESPONDERS; or a callable
    opted_out: bool = False
    messages: list = field(default_factory=list)  # Message objects, oldest first (the store keeps them)
    state: dict = field(default_factory=dict)  # free memory for responders
    rng: random.Random = field(default_factory=random.Random)
    lock: threading.Lock = field(default_factory=threading.Lock)  # one responder call at a time per phone

    def register(self, profile: PhoneProfile, responder: object = None) -> None:
        self.registered = True
        self.profile = profile
        self.responder = responder
        self.state = {}
        # str seeds hash with SHA-512: stable across processes, unlike hash()
        seeded = profile.seed is not None
        self.rng = random.Random(f"{profile.seed}:{self.number}") if seeded else random.Random()

    def unregister(self) -> None:
        self.registered = False
        self.profile = None
        self.responder = None
        self.state = {}

    def reset_conversation(self) -> None:
        self.messages = []
        self.opted_out = False
        self.state = {}
        if self.profile is not None:
            self.register(self.profile, self.responder)

    def summary(self) -> dict:
        last = self.messages[-1] if self.messages else None
        responder = self.responder if isinstance(self.responder, str) or self.responder is None else getattr(
            self.responder, "__name__", "custom")
        return {
            "number": self.number,
            "registered": self.registered,
            "opted_out": self.opted_out,
            "profile": self.profile.to_dict() if self.profile else None,
            "responder": responder,
            "message_count": len(self.messages),
            "last": None if last is None else {
                "sid": last.sid, "body": last.body, "direction": last.direction, "status": last.status,
                "timestamp": last.date_created,
            },
        }


# -- the default responder: people answering an invitation ---------------------------------------------------

REPLY_CODE = re.compile(r"#\s*(\d{1,6})")

ACCEPT_VARIANTS = {
    "zh": ("Y{c}", "Y{c}", "y{c}", "是 {c}", "是{c}", "好的{c}", "好 {c}", "可以{c}", "参加 {c}", "报名{c}",
           "1 {c}", "Y #{c}", "{Y}{C}", "好的，{c}", "能参加 {c}"),
    "en": ("Y{c}", "Y{c}", "y{c}", "yes {c}", "Yes {c}", "Y {c}", "1 {c}", "Y #{c}", "y #{c}", "{Y}{C}"),
}
DECLINE_VARIANTS = {
    "zh": ("N{c}", "n{c}", "N {c}", "不去了 {c}", "没空{c}", "不能参加{c}", "2 {c}", "不好意思去不了 {c}",
           "否 {c}", "{N}{C}", "不了{c}"),
    "en": ("N{c}", "n{c}", "no {c}", "No {c}", "N {c}", "2 {c}", "n #{c}", "{N}{C}"),
}
STOP_VARIANTS = {
    "zh": ("退订", "TD", "STOP", "退订"),
    "en": ("STOP", "stop", "Stop", "UNSUBSCRIBE"),
}
_KEYBOARD_NEIGHBOURS = {"y": "tuh", "n": "bmh", "e": "wrd", "s": "adw", "o": "ipl", "Y": "TUH", "N": "BMH"}
_TRAILERS = ("!", "。", "~", " 👍", "！", ".", " 🙏")


def full_width(text: str) -> str:
    """ASCII letters and digits as their full-width forms (what many Chinese IMEs type): Y27 -> Ｙ２７."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


def render_variant(template: str, code: str) -> str:
    return template.format(c=code, C=full_width(code), Y=full_width("Y"), N=full_width("N"))


def mistype(text: str, rng: random.Random) -> str:
    """One realistic slip: a neighbouring key, a doubled character, stray spaces or a trailing mark."""
    kind = rng.randrange(4)
    letters = [index for index, char in enumerate(text) if char in _KEYBOARD_NEIGHBOURS]
    if kind == 0 and letters:
        index = rng.choice(letters)
        return text[:index] + rng.choice(_KEYBOARD_NEIGHBOURS[text[index]]) + text[index + 1:]
    doubles = [index for index, char in enumerate(text) if not char.isdigit() and not char.isspace()]
    if kind == 1 and doubles:  # never a digit: a mistyped reply code would answer another order
        index = rng.choice(doubles)
        return text[:index + 1] + text[index] + text[index + 1:]
    if kind == 2:
        return "  " + text.replace(" ", "  ") + " "
    return text + rng.choice(_TRAILERS)


def invitation_code(text: str) -> str | None:
    match = REPLY_CODE.search(unicodedata.normalize("NFKC", text))
    return match.group(1) if match else None


def default_responder(phone: Phone, text: str) -> list[Reply]:
    """Answer each invitation (a text with `#<digits>`) once, as the phone's profile says; ignore the rest."""
    profile = phone.profile or PhoneProfile()
    code = invitation_code(text)
    if code is None:
        return []
    answered = phone.state.setdefault("answered_codes", set())
    if code in answered:
        return []
    answered.add(code)
    rng = phone.rng
    if rng.random() >= profile.answer_rate:
        return []
    language = profile.language
    if rng.random() < profile.stop_rate:
        intent, body = "stop", rng.choice(STOP_VARIANTS[language])
    elif rng.random() < profile.decline_rate:
        intent, body = "decline", render_variant(rng.choice(DECLINE_VARIANTS[language]), code)
    else:
        intent, body = "accept", render_variant(rng.choice(ACCEPT_VARIANTS[language]), code)
    if intent != "stop" and rng.random() < profile.typo_rate:
        body = mistype(body, rng)
    return [Reply(body=body, delay=profile.delay(rng), intent=intent)]


def silent_responder(phone: Phone, text: str) -> list[Reply]:
    """A phone that reads everything and never answers."""
    return []


RESPONDERS: dict[str, Callable[[Phone, str], list[Reply]]] = {
    "default": default_responder,
    "silent": silent_responder,
}


def register_responder(name: str, responder: Callable[[Phone, str], list[Reply]]) -> None:
    """Make a responder selectable by name (control API: `"responder": name` when registering phones)."""
    RESPONDERS[name] = responder


def resolve_responder(responder: object) -> Callable[[Phone, str], list[Reply]] | None:
    """None, a callable, a registered name ("default", "silent"...) or an import path
    "package.module:function" (imported once, then known by that path)."""
    if responder is None or callable(responder):
        return responder  # type: ignore[return-value]
    name = str(responder)
    found = RESPONDERS.get(name)
    if found is not None:
        return found
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        try:
            found = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise ProfileError(f"cannot load responder {name!r}: {error}") from None
        if not callable(found):
            raise ProfileError(f"responder {name!r} is not callable")
        RESPONDERS[name] = found
        return found
    raise ProfileError(f"unknown responder {name!r} (known: {', '.join(sorted(RESPONDERS))}, "
                       f"or an import path package.module:function)")
