"""Carrier-level keywords as Twilio handles them by default: a whole body of STOP (and its synonyms) opts the
phone out, START opts it back in, HELP is answered; and the carrier's own replies to them."""
from __future__ import annotations

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
CARRIER_REPLIES = {
    "opt_out": "You have successfully been unsubscribed. You will not receive any more messages from this "
               "number. Reply START to resubscribe.",
    "opt_in": "You have successfully been re-subscribed to messages from this number. Reply HELP for help. "
              "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
    "help": "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
}


def keyword(body: str) -> str:
    """The body as the carrier compares it: trimmed, end punctuation dropped, upper case."""
    return body.strip().strip(".!?。！？").strip().upper()


def carrier_action(body: str) -> str | None:
    """"opt_out", "opt_in" or "help" when the whole body is such a keyword (a key of CARRIER_REPLIES), else None."""
    word = keyword(body)
    if word in OPT_OUT_KEYWORDS:
        return "opt_out"
    if word in OPT_IN_KEYWORDS:
        return "opt_in"
    if word in HELP_KEYWORDS:
        return "help"
    return None
