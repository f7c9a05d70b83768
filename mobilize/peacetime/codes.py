"""Short codes for SMS: 4 digits per live shift (班次2718), 3 digits per open swap (换班357).

A code is unique among live rows only (partial unique indexes: scheduled shifts, proposed swaps), so codes are
reused once a shift has ended or a swap is decided. Picked at random among the free ones: a typo then rarely
names another live shift of the same volunteer's neighbourhood.
"""
from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilize.models import Shift, ShiftStatus, ShiftSwap, SwapStatus
from mobilize.peacetime.errors import Conflict

SHIFT_CODES = range(1000, 10000)
SWAP_CODES = range(100, 1000)
_random = random.SystemRandom()


def _pick(used: set[str], space: range, n: int, rng) -> list[str]:
    if n > len(space) - len(used):
        raise Conflict(f"not enough free codes ({len(space) - len(used)} left for {n})", code="codes_exhausted")
    picked: list[str] = []
    while len(picked) < n:
        code = str(rng.randrange(space.start, space.stop))
        if code not in used:
            used.add(code)
            picked.append(code)
    return picked


def shift_codes(session: Session, n: int, rng=None) -> list[str]:
    used = set(session.scalars(select(Shift.code).where(Shift.status == ShiftStatus.scheduled)))
    return _pick(used, SHIFT_CODES, n, rng or _random)


def swap_code(session: Session, rng=None) -> str:
    used = set(session.scalars(select(ShiftSwap.code).where(ShiftSwap.status == SwapStatus.proposed)))
    return _pick(used, SWAP_CODES, 1, rng or _random)[0]
