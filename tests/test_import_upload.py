"""Uploaded volunteer files (issue 16, `mobilize.registry.upload`): GBK/GB18030, UTF-8 with or without BOM and
.xlsx become the CSV text the importer reads; everything else is refused with a message naming the problem."""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from mobilize.registry.csv_contract import ImportFileError
from mobilize.registry.upload import decode_text, read_upload, workbook_to_csv

TEXT = "name,phone,street\n张伟,13905321001,八大关街道\n𠀋 (GB18030 four-byte),13905321002,湛山\n"


@pytest.mark.parametrize("encoding,expected", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"),
                                               ("gb18030", "gb18030")])
def test_each_encoding_decodes_to_the_same_text(encoding, expected):
    uploaded = read_upload("v.csv", TEXT.encode(encoding))
    assert (uploaded.text, uploaded.encoding, uploaded.kind) == (TEXT, expected, "csv")


def test_gbk_bytes_are_read_as_gbk_not_mistaken_for_utf8():
    gbk = "name,phone,street\n欧阳娜娜,13905321001,八大关\n".encode("gbk")
    assert decode_text(gbk) == (gbk.decode("gbk"), "gb18030")


def test_bytes_neither_utf8_nor_gb18030_name_the_offset_and_line():
    data = b"name,phone,street\nJos\xe9,13905321001,x\n"
    with pytest.raises(ImportFileError, match=r"neither UTF-8 nor GBK/GB18030: invalid byte 0xE9 at byte "
                                              r"offset 21 \(line 2\)"):
        read_upload("v.csv", data)


@pytest.mark.parametrize("filename,data,message", [
    ("v.csv", b"", "empty"),
    ("v.xlsx", b"name,phone,street\n", "named like an Excel workbook but is not one"),
    ("v.csv", b"PK\x03\x04garbage", "not a readable .xlsx workbook"),
    ("v.csv", b"\xd0\xcf\x11\xe0\x00\x00", "old Excel .xls"),
    ("v.csv", b"%PDF-1.4", "PDF"),
    ("v.csv", b"\xff\xfen\x00a\x00", "UTF-16"),
    ("v.csv", b"name,phone\x00\n", "NUL byte"),
])
def test_refusals(filename, data, message):
    with pytest.raises(ImportFileError, match=message):
        read_upload(filename, data)


def test_the_size_limit():
    with pytest.raises(ImportFileError, match="too large"):
        read_upload("v.csv", b"x" * 101, limit=100)


def test_a_workbook_keeps_row_numbers_and_writes_numbers_as_digits():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["name", "phone", "street", "lat"])
    sheet.append(["张伟", 13905321001, "八大关", 36.0531])
    sheet.append([None, None, None, None])  # a blank row keeps its line
    sheet.append(["多行\n姓名", 1.3905321002e10, "湛山", 36])
    stream = io.BytesIO()
    workbook.save(stream)
    assert workbook_to_csv(stream.getvalue()).splitlines() == [
        "name,phone,street,lat", "张伟,13905321001,八大关,36.0531", ",,,", "多行 姓名,13905321002,湛山,36"]
