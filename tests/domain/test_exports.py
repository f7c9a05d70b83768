"""The pure export module: the same table as CSV and as .xlsx, local naive times to the second, numbers as
numbers, text never a formula, control characters dropped, bad tables refused before any byte is written."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from mobilize.domain.exports import Column, Table, render, sheet_title, to_csv, to_xlsx

COLUMNS = [Column("name", "姓名"), Column("at", "时间", "datetime"), Column("hours", "时长", "number"),
           Column("n", "编号", "integer"), Column("day", "日期", "date")]


def table(rows) -> Table:
    return Table("招募令 [27]: 导出/测试", COLUMNS, rows, "Asia/Shanghai")


def test_xlsx_cells_are_typed_and_local():
    sheet = load_workbook(io.BytesIO(to_xlsx(table([
        ("=1+1", datetime(2025, 5, 6, 0, 30, 15, 987654, tzinfo=UTC), 3.25, 7, date(2025, 5, 6)),
        ("a\x01b", None, None, None, None)])))).active
    name, at, hours, number, day = sheet[2]
    assert (name.value, name.data_type, name.quotePrefix) == ("=1+1", "s", True)
    assert at.value == datetime(2025, 5, 6, 8, 30, 15) and at.is_date
    assert (hours.value, hours.data_type, number.value, day.value) == (3.25, "n", 7, datetime(2025, 5, 6))
    assert sheet["A3"].value == "ab" and sheet["B3"].value is None
    assert sheet.title == "招募令 27 导出 测试"  # Excel refuses []:*?/\ in a sheet's name


def test_csv_is_the_same_table_as_text():
    text = to_csv(table([("@SUM(A1)", datetime(2025, 5, 6, 16, 0, tzinfo=UTC), 0.5, 0, date(2025, 5, 7))]))
    assert text == "\ufeff姓名,时间,时长,编号,日期\r\n'@SUM(A1),2025-05-07 00:00,0.50,0,2025-05-07\r\n"


def test_a_bad_table_or_format_is_refused():
    with pytest.raises(ValueError, match="row 1 has 2 cells"):
        table([("x", None)])
    with pytest.raises(ValueError, match="export format"):
        render(table([]), "pdf")
    assert sheet_title("[]") == "Sheet1"
