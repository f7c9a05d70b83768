"""The stylesheets parse as their authors meant: every block closed, and every section comment at the top level
(a merge once left a small-screen @media block open, and the roster's colours applied only on phones)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "mobilize" / "static"
SHEETS = sorted(path for path in STATIC.glob("*.css"))


def without_comments_and_strings(css: str) -> str:
    css = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), css, flags=re.S)
    return re.sub(r"\"[^\"\n]*\"|'[^'\n]*'", '""', css)


@pytest.mark.parametrize("sheet", SHEETS, ids=[path.name for path in SHEETS])
def test_every_block_is_closed_and_sections_start_at_the_top_level(sheet):
    raw = sheet.read_text(encoding="utf-8")
    sections = {number for number, line in enumerate(raw.splitlines(), 1) if line.startswith("/* ---")}
    depth = 0
    for number, line in enumerate(without_comments_and_strings(raw).splitlines(), 1):
        if number in sections:
            assert depth == 0, f"{sheet.name}:{number}: a section starts inside an open block"
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"{sheet.name}:{number}: a closing brace without its block"
    assert depth == 0, f"{sheet.name}: {depth} block(s) left open"
