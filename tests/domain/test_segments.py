"""SMS segment counting as carriers bill it: GSM-7 160/153 with two-septet extension characters, UCS-2 70/67.
"""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mobilize.domain.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SegmentCount,
    count_segments,
    is_gsm7,
    segments,
)


def test_empty_text_is_one_empty_gsm7_segment() -> None:
    assert count_segments("") == SegmentCount("GSM-7", 0, 1)
    assert segments("") == 1


@pytest.mark.parametrize(
    ("length", "expected"),
    [(1, 1), (159, 1), (160, 1), (161, 2), (305, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_single_is_160_and_parts_are_153(length: int, expected: int) -> None:
    result = count_segments("a" * length)
    assert result == SegmentCount("GSM-7", length, expected)


def test_gsm7_extension_characters_take_two_septets() -> None:
    assert count_segments("€") == SegmentCount("GSM-7", 2, 1)
    assert count_segments("{}[]~|^\\").units == 16
    assert count_segments("a" * 158 + "€") == SegmentCount("GSM-7", 160, 1)
    assert count_segments("a" * 159 + "€") == SegmentCount("GSM-7", 161, 2)


def test_a_gsm7_extension_character_is_never_split_between_parts() -> None:
    # 306 septets would be two parts, but the escape and the character cannot straddle the 153 boundary.
    text = "a" * 152 + "€" + "a" * 152
    assert count_segments(text) == SegmentCount("GSM-7", 306, 3)
    assert segments("a" * 151 + "€" + "a" * 153) == 2  # the same length, with the € inside the first part


@pytest.mark.parametrize(
    ("length", "expected"),
    [(1, 1), (69, 1), (70, 1), (71, 2), (133, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_single_is_70_and_parts_are_67(length: int, expected: int) -> None:
    assert count_segments("中" * length) == SegmentCount("UCS-2", length, expected)


def test_one_character_outside_gsm7_makes_the_whole_message_ucs2() -> None:
    assert count_segments("a" * 69 + "中") == SegmentCount("UCS-2", 70, 1)
    assert count_segments("a" * 70 + "中").segments == 2
    assert count_segments("It’s").encoding == "UCS-2"  # a curly apostrophe
    assert count_segments("It's").encoding == "GSM-7"


def test_emoji_are_surrogate_pairs_of_two_utf16_units() -> None:
    assert count_segments("😀") == SegmentCount("UCS-2", 2, 1)
    assert count_segments("😀" * 35) == SegmentCount("UCS-2", 70, 1)
    assert count_segments("😀" * 36) == SegmentCount("UCS-2", 72, 2)


def test_a_surrogate_pair_is_never_split_between_parts() -> None:
    text = "中" * 66 + "😀" + "中" * 66  # 134 units: two parts if it could be cut anywhere
    assert count_segments(text) == SegmentCount("UCS-2", 134, 3)
    assert segments("中" * 65 + "😀" + "中" * 67) == 2


def test_is_gsm7() -> None:
    assert is_gsm7("Reply Y27 to join, N27 if you can't. @£$¥èé\n")
    assert is_gsm7("{€}")
    assert not is_gsm7("回复Y27")
    assert not is_gsm7("“quoted”")
    assert not is_gsm7("—")
    assert is_gsm7("")


_PLAIN_GSM = sorted(GSM7_BASIC - {"\x1b"})


@given(st.text(alphabet=st.sampled_from(_PLAIN_GSM), max_size=700))
def test_plain_gsm7_text_counts_like_the_formula(text: str) -> None:
    expected = 1 if len(text) <= 160 else math.ceil(len(text) / 153)
    assert count_segments(text) == SegmentCount("GSM-7", len(text), expected)


@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=300))
def test_chinese_text_counts_like_the_formula(text: str) -> None:
    expected = 1 if len(text) <= 70 else math.ceil(len(text) / 67)
    assert count_segments(text) == SegmentCount("UCS-2", len(text), expected)


@given(st.text(max_size=400))
def test_any_text_gets_a_consistent_count(text: str) -> None:
    result = count_segments(text)
    assert result.encoding in ("GSM-7", "UCS-2")
    assert segments(text) == result.segments >= 1
    single, part = (160, 153) if result.encoding == "GSM-7" else (70, 67)
    if result.units <= single:
        assert result.segments == 1
    else:  # never fewer parts than the units need, and at most one more per unsplittable character
        assert math.ceil(result.units / part) <= result.segments <= result.units // (part - 1) + 1
    assert set(text) <= GSM7_BASIC | GSM7_EXTENSION or result.encoding == "UCS-2"
