"""gunicorn's configuration file for mobilize's web server (`gunicorn -c python:mobilize.web.gunicorn_conf`, as
`mobilize up` and the systemd unit run it): its hooks only. The address, processes and threads stay on the command
line, where each deployment sets them."""
from __future__ import annotations

import os

import structlog

from mobilize.heap import freeze_startup_heap

log = structlog.get_logger(__name__)


def post_worker_init(worker) -> None:
    """A web process has loaded the app: what it built is frozen out of the garbage collector's full collections,
    which otherwise held every request of the process for about 130 ms (see mobilize.heap)."""
    log.info("web.heap_frozen", pid=os.getpid(), objects=freeze_startup_heap())
