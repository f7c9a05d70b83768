"""The text of a volunteer CSV file, line by line, streaming: a binary stream is checked as UTF-8 (byte
offsets and line numbers in the errors, a hint for GBK), the BOM dropped, and spreadsheets, archives, UTF-16
and binary junk refused as `ImportFileError`; a text stream is taken as it is (NUL characters refused)."""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Union

from mobilize.registry.csv_contract import ImportFileError

READ_CHUNK = 1 << 20

Source = Union[str, os.PathLike, IO[bytes], IO[str]]
# progress(phase, done, total): phase "read" counts bytes (total 0 if unknown); "geocode", "write" count rows
ProgressCallback = Callable[[str, int, int], None]


_MAGIC = (
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook?): save it as \"CSV UTF-8\" first"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook: save it as \"CSV UTF-8\" first"),
    (b"%PDF", "a PDF document, not a CSV file"),
    (b"\x1f\x8b", "a gzip archive, not a CSV file"),
    (b"\xff\xfe", "UTF-16 text: save it again as UTF-8 (\"CSV UTF-8\" in Excel)"),
    (b"\xfe\xff", "UTF-16 text: save it again as UTF-8 (\"CSV UTF-8\" in Excel)"),
)


def _utf8_error(data: bytes, error: UnicodeDecodeError, offset: int, lines_before: int) -> ImportFileError:
    position = offset + error.start
    line = lines_before + data.count(b"\n", 0, error.start) + 1
    byte = data[error.start:error.start + 1]
    hint = "save the file again as UTF-8 (\"CSV UTF-8\" in Excel, or iconv -f GBK -t UTF-8)"
    sample = data[max(0, error.start - 200):error.start + 200]
    try:
        decoded = sample.decode("gb18030")
    except UnicodeDecodeError:
        decoded = ""
    if decoded and re.search(r"[\u4e00-\u9fff]", decoded):
        hint = ("it looks like GBK/GB18030, the usual encoding of Chinese Excel and Windows: " + hint)
    return ImportFileError(f"not UTF-8: invalid byte 0x{byte.hex().upper()} at byte offset {position} "
                           f"(line {line}); {hint}")


def decoded_lines(chunks: Iterable[bytes], progress: ProgressCallback | None, total: int) -> Iterator[str]:
    """Lines of UTF-8 text (ends kept, BOM dropped) from raw chunks; NUL bytes and invalid UTF-8 raise."""
    offset = 0  # bytes before `pending`
    lines_before = 0
    pending = b""
    tail = ""
    first = True
    for chunk in chunks:
        if not chunk:
            continue
        data = pending + chunk if pending else chunk
        if first:
            for magic, what in _MAGIC:
                if data.startswith(magic):
                    raise ImportFileError(f"not a CSV file: this is {what}")
        nul = data.find(b"\0")
        if nul >= 0:
            head = data[:40]
            if first and head.count(b"\0") * 3 >= len(head) and head.replace(b"\0", b"").isascii():
                raise ImportFileError("not UTF-8: this looks like UTF-16 text; save it again as UTF-8 "
                                      "(\"CSV UTF-8\" in Excel)")
            line = lines_before + data.count(b"\n", 0, nul) + 1
            raise ImportFileError(f"not a CSV text file: binary data (NUL byte) at byte offset "
                                  f"{offset + nul} (line {line}); export the sheet as \"CSV UTF-8\"")
        try:
            text = data.decode("utf-8")
            pending = b""
        except UnicodeDecodeError as error:
            if error.reason == "unexpected end of data" and error.end == len(data):
                text = data[:error.start].decode("utf-8")
                pending = data[error.start:]
            else:
                raise _utf8_error(data, error, offset, lines_before) from None
        consumed = len(data) - len(pending)
        lines_before += data.count(b"\n", 0, consumed)
        offset += consumed
        if first:
            if text.startswith("\ufeff"):
                text = text[1:]
            first = False
        if progress is not None:
            progress("read", offset, total)
        text = tail + text if tail else text
        parts = text.split("\n")
        tail = parts.pop()
        for part in parts:
            yield part + "\n"
    if pending:
        try:
            pending.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _utf8_error(pending, error, offset, lines_before) from None
    if tail:
        yield tail


def raw_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while True:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            return
        yield chunk


def text_lines(stream: IO[str], progress: ProgressCallback | None) -> Iterator[str]:
    done = 0
    first = True
    for line in stream:
        if first:
            line = line.lstrip("\ufeff")
            first = False
        if "\0" in line:
            raise ImportFileError("not a CSV text file: binary data (NUL character); export the sheet as "
                                  "\"CSV UTF-8\"")
        done += len(line)
        if progress is not None and done % 65536 < len(line):
            progress("read", done, 0)
        yield line

