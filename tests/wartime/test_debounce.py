"""The match debounce follows the matching policy (issue 15): short when placing at once (speed is the point),
longer with the hold-back (smaller batches walked people farther at district scale); MATCH_DEBOUNCE_S wins."""
from __future__ import annotations

import pytest

from mobilize.runtime import Runtime
from mobilize.wartime.after_commit import AT_ONCE_DEBOUNCE_S, MATCH_DEBOUNCE_S, debounce_s, default_debounce_s
from tests.conftest import make_settings


@pytest.mark.parametrize(("extra", "expected"), [
    ({}, MATCH_DEBOUNCE_S),  # the service's default: the hold-back
    ({"hold_max_s": 30.0}, MATCH_DEBOUNCE_S),
    ({"hold_max_s": 0.0}, AT_ONCE_DEBOUNCE_S),
    ({"hold_max_s": 0.0, "match_debounce_s": 3.0}, 3.0),
    ({"match_debounce_s": 0}, 0.0),
])
def test_the_match_debounce_follows_the_matching_policy(tmp_path, extra: dict, expected: float) -> None:
    runtime = Runtime(make_settings(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", extra=extra))
    try:
        assert debounce_s(runtime) == expected
    finally:
        runtime.close()


def test_placing_at_once_batches_for_less_time_than_the_hold_back() -> None:
    assert default_debounce_s(0.0) == AT_ONCE_DEBOUNCE_S < default_debounce_s(60.0) == MATCH_DEBOUNCE_S
