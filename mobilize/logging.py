"""Structured logs (structlog): key=value on a terminal, one JSON object a line with LOG_FORMAT=json."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TextIO

import structlog

from mobilize.domain.phones import mask_phone_numbers_in


def _mask_phones(_logger, _method, event_dict):
    # Phone numbers never reach the logs in clear (DESIGN section 7).
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = mask_phone_numbers_in(value)
    return event_dict


def configure_logging(level: str = "INFO", fmt: str = "console", log_file: Path | None = None,
                      console_level: str = "WARNING") -> None:
    """Logs at `level` and above to stderr; with `log_file`, all of them to that file instead and only
    `console_level` and above on stderr as well (`mobilize up` keeps the terminal for what a person must read)."""
    renderer = (structlog.processors.JSONRenderer(ensure_ascii=False) if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=False))
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_phones,
    ]
    if log_file is None:
        factory = structlog.PrintLoggerFactory(sys.stderr)
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        stream = log_file.open("a", encoding="utf-8", buffering=1)  # line-buffered: `tail -f` sees each line
        factory = _SplitLoggerFactory(stream, logging.getLevelName(console_level))
    structlog.configure(
        processors=shared + [structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    formatter = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    if log_file is None:
        logging.basicConfig(level=level, stream=sys.stderr, format=formatter)
        return
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(console_level)
    logging.basicConfig(level=level, format=formatter, handlers=[console, logging.StreamHandler(stream)],
                        force=True)  # the CLI configured stderr at INFO before the command knew of the file


class _SplitLogger:
    """structlog's final logger for `log_file`: every line to the file, the important ones to stderr too."""

    def __init__(self, stream: TextIO, console_level: int) -> None:
        self._stream, self._console_level = stream, console_level

    def _write(self, level: int, message: str) -> None:
        self._stream.write(message + "\n")
        if level >= self._console_level:
            print(message, file=sys.stderr, flush=True)

    def debug(self, message: str) -> None:
        self._write(logging.DEBUG, message)

    def info(self, message: str) -> None:
        self._write(logging.INFO, message)

    msg = info

    def warning(self, message: str) -> None:
        self._write(logging.WARNING, message)

    warn = warning

    def error(self, message: str) -> None:
        self._write(logging.ERROR, message)

    exception = error

    def critical(self, message: str) -> None:
        self._write(logging.CRITICAL, message)

    fatal = critical


class _SplitLoggerFactory:
    def __init__(self, stream: TextIO, console_level: int) -> None:
        self._logger = _SplitLogger(stream, console_level)

    def __call__(self, *_args) -> _SplitLogger:
        return self._logger
