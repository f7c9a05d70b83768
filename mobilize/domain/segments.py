"""SMS segment counting, as carriers (and Twilio) bill it.

GSM-7 text: 160 septets in one segment, 153 per part when concatenated (extension characters such as `{` or `€`
take two septets and are never split). Anything else goes as UCS-2: 70 UTF-16 code units in one segment, 67 per
part, a surrogate pair (an emoji) never split between parts.
"""
from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SegmentCount:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def count_segments(text: str) -> SegmentCount:
    if is_gsm7(text):
        widths = [2 if char in GSM7_EXTENSION else 1 for char in text]
        return SegmentCount("GSM-7", sum(widths), _parts(widths, GSM7_SINGLE, GSM7_PART))
    widths = [2 if ord(char) > 0xFFFF else 1 for char in text]
    return SegmentCount("UCS-2", sum(widths), _parts(widths, UCS2_SINGLE, UCS2_PART))


def segments(text: str) -> int:
    return count_segments(text).segments


def _parts(widths: list[int], single: int, per_part: int) -> int:
    total = sum(widths)
    if total == 0:
        return 1  # an empty message is still one (empty) segment
    if total <= single:
        return 1
    parts, used = 1, 0
    for width in widths:  # a character is never split between two parts
        if used + width > per_part:
            parts += 1
            used = 0
        used += width
    return parts
