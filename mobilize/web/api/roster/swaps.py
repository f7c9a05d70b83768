"""Shift swaps over HTTP: propose one between two volunteers, read it, record an answer told to an officer."""
from __future__ import annotations

from mobilize.models import ShiftSwap
from mobilize.models._types import utcnow
from mobilize.peacetime import swaps
from mobilize.web import db
from mobilize.web.api import api
from mobilize.web.api.auth import check_street, current, token_auth
from mobilize.web.api.roster.access import checked_assignee, checked_signup, require_writer
from mobilize.web.api.roster.context import actor, commit, roster_config
from mobilize.web.api.roster.views import swap_view
from mobilize.web.api.roster_schemas import SwapAnswerIn, SwapIn, SwapOut


@api.post("/swaps")
@api.auth_required(token_auth)
@api.input(SwapIn)
@api.output(SwapOut, status_code=201)
@api.doc(responses={403: "Viewers may not; officers only in their street.",
                     404: "No such sign-up.",
                     409: "A sign-up is not booked, a shift has started, or a swap already waits."})
def create_swap(json_data):
    """Propose a swap; both volunteers are asked by SMS and it happens when both accepted."""
    require_writer()
    checked_signup(json_data["signup_id"])
    checked_assignee(json_data["with_volunteer_id"])
    if json_data["their_signup_id"] is not None:
        checked_signup(json_data["their_signup_id"])
    swap = swaps.propose(db(), json_data["signup_id"], json_data["with_volunteer_id"], actor=actor(),
                         now=utcnow(), cfg=roster_config(), second_signup_id=json_data["their_signup_id"])
    swap_id = swap.id
    commit()
    return swap_view(swaps.load_swap(db(), swap_id))


def _swap(swap_id: int) -> ShiftSwap:
    """The swap, for an officer of either side's street (a swap across two streets concerns both officers)."""
    swap = swaps.load_swap(db(), swap_id)
    sides = swaps.side_streets(db(), swap)
    if not any(current().may_access_street(street) for street in sides.values()):
        check_street(sides[swap.first_volunteer_id])  # the 403, as for any other street's row
    return swap


@api.get("/swaps/<int:swap_id>")
@api.auth_required(token_auth)
@api.output(SwapOut)
@api.doc(responses={403: "Neither side of the swap is in the officer's street."})
def get_swap(swap_id: int):
    return swap_view(_swap(swap_id))


@api.post("/swaps/<int:swap_id>/answer")
@api.auth_required(token_auth)
@api.input(SwapAnswerIn)
@api.output(SwapOut)
@api.doc(responses={403: "Viewers may not; officers only for the side of the swap in their street.",
                     409: "The swap is no longer open."})
def answer_swap(swap_id: int, json_data):
    """Record a volunteer's answer given to the officer (volunteers usually answer by SMS: 换班 / SWAP)."""
    require_writer()
    swap = _swap(swap_id)
    side = swaps.side_streets(db(), swap)
    if json_data["volunteer_id"] in side:  # an officer records the answers of their own street's side only
        check_street(side[json_data["volunteer_id"]])
    swaps.answer(db(), swap_id, json_data["volunteer_id"], json_data["accept"], actor=actor(), now=utcnow(),
                 cfg=roster_config())
    commit()
    return swap_view(swaps.load_swap(db(), swap_id))
