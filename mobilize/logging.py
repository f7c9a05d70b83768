"""Structured logs (structlog): key=value on a terminal, one JSON object a line with LOG_FORMAT=json."""
from __future__ import annotations

import logging
import sys

import structlog

from mobilize.domain.phones import mask_phone_numbers_in


def _mask_phones(_logger, _method, event_dict):
    # Phone numbers never reach the logs in clear (DESIGN section 7).
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = mask_phone_numbers_in(value)
    return event_dict


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    renderer = (structlog.processors.JSONRenderer(ensure_ascii=False) if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=False))
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_phones,
    ]
    structlog.configure(
        processors=shared + [structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
