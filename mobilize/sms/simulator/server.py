"""Serving the simulator, state in-process either way.

- `serve()` (the `mobilize simulator` command) blocks and runs gunicorn with ONE gthread worker (one process
  holds the state) and a pool of request threads, with HTTP keep-alive, which the twilio client's pooled
  session uses. Measured on 2 cores, simulator and client in separate processes, a bare loop of
  `client.messages.create`: ~500-540 msg/s from one thread, ~800 msg/s from 4 threads.
- `SimulatorServer` runs werkzeug's threaded server on a background thread of the calling process (tests, an
  in-process `mobilize up`, the drill) and hands out its URL and the live `Simulator` (to install Python
  responders). Werkzeug 3 closes the connection after every response (no keep-alive): ~350-440 msg/s from one
  client thread, ~500-700 msg/s from 8. `serve(..., server="werkzeug")` serves the same way in the foreground.
"""
from __future__ import annotations

import logging
import threading

from gunicorn.app.base import BaseApplication
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from mobilize.sms.simulator.app import create_simulator_app, get_simulator
from mobilize.sms.simulator.configuration import SimulatorConfig
from mobilize.sms.simulator.engine import Simulator

log = logging.getLogger(__name__)


class QuietHandler(WSGIRequestHandler):
    """No access log per request (it costs more than the request at 500/s) and TCP_NODELAY."""

    disable_nagle_algorithm = True

    def log_request(self, code="-", size="-") -> None:
        pass

    def log(self, type: str, message: str, *args) -> None:
        if type == "error":
            log.warning("simulator http: " + message, *args)


class SimulatorServer:
    """The simulator on a real socket (port 0: any free port), served from a daemon thread."""

    def __init__(self, config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.app = create_simulator_app(config)
        self.simulator: Simulator = get_simulator(self.app)
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True,
                                                   request_handler=QuietHandler)
        self._server.daemon_threads = True
        self.host = host
        self.port = self._server.server_port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> "SimulatorServer":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sms-simulator-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever(poll_interval=0.5)
        finally:
            self.simulator.close()
            self._server.server_close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.simulator.close()

    def __enter__(self) -> "SimulatorServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(config: SimulatorConfig, host: str = "127.0.0.1", port: int = 5010, *, server: str = "gunicorn",
          threads: int = 32) -> None:
    """Serve the simulator until interrupted (Ctrl-C / SIGTERM)."""
    if server == "werkzeug":
        running = SimulatorServer(config, host, port)
        try:
            running.serve_forever()
        except KeyboardInterrupt:
            pass
        return
    if server != "gunicorn":
        raise ValueError(f"server must be gunicorn or werkzeug, not {server!r}")
    GunicornSimulator(config, {
        "bind": f"{host}:{port}",
        "workers": 1,  # the state is in this one process
        "worker_class": "gthread",
        "threads": threads,
        "keepalive": 120,  # the twilio client keeps its connections; don't drop them between bursts
        "backlog": 2048,
        "timeout": 60,
        "graceful_timeout": 2,
        "accesslog": None,
        "loglevel": "warning",
        "proc_name": "mobilize-sms-simulator",
    }).run()


class GunicornSimulator(BaseApplication):
    """gunicorn's BaseApplication serving create_simulator_app(config); the app is built in the worker."""

    def __init__(self, config: SimulatorConfig, options: dict) -> None:
        self.simulator_config = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return create_simulator_app(self.simulator_config)
