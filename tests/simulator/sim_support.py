"""Helpers for the simulator tests (importable by name: conftest modules are not meant to be imported)."""
from __future__ import annotations

import copy
import re
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Callable

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from mobilize.sms.simulator.server import QuietHandler

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
SERVICE_NUMBER = "+15005550006"
OPENAPI = Path(__file__).with_name("twilio_api_v2010_messages.json")
SPEC_URI = "urn:twilio:api_v2010_messages"


# -- a server that catches webhooks --------------------------------------------------------------------------

@dataclass
class Hook:
    path: str
    url: str  # the full URL as requested (what Twilio signs)
    form: dict[str, str]
    headers: dict[str, str]
    at: float


class Receiver:
    """Records every POST; answers per path with handler(hook) -> (status, body, content_type), else 204."""

    def __init__(self) -> None:
        self.hooks: list[Hook] = []
        self.handlers: dict[str, Callable[[Hook], tuple[int, str, str]]] = {}
        self._cond = threading.Condition()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=QuietHandler)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base_url + path

    def _app(self, environ, start_response):
        request = Request(environ)
        hook = Hook(path=request.path, url=request.url, form=request.form.to_dict(),
                    headers=dict(request.headers), at=time.monotonic())
        with self._cond:
            self.hooks.append(hook)
            self._cond.notify_all()
        handler = self.handlers.get(request.path)
        status, body, content_type = handler(hook) if handler else (204, "", "text/plain")
        return Response(body, status=status, content_type=content_type)(environ, start_response)

    def received(self, path: str | None = None) -> list[Hook]:
        with self._cond:
            return [hook for hook in self.hooks if path is None or hook.path == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 5.0,
                 where: Callable[[Hook], bool] | None = None) -> list[Hook]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                hooks = [hook for hook in self.hooks
                         if (path is None or hook.path == path) and (where is None or where(hook))]
                if len(hooks) >= count:
                    return hooks
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} webhook(s) to {path or 'any path'}, "
                                         f"got {len(hooks)}")
                self._cond.wait(remaining)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_until(predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.01):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


# -- Twilio's Message schema ---------------------------------------------------------------------------------

def _nullable_to_json_schema(node):
    """OpenAPI 3.0 says `nullable: true`; JSON Schema says `type: [..., "null"]`."""
    if isinstance(node, dict):
        node = {key: _nullable_to_json_schema(value) for key, value in node.items()}
        if node.pop("nullable", False) and "type" in node:
            node["type"] = [node["type"], "null"]
        return node
    if isinstance(node, list):
        return [_nullable_to_json_schema(item) for item in node]
    return node


_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
formats = FormatChecker()


@formats.checks("date-time-rfc-2822", raises=(TypeError, ValueError))
def _rfc2822(value) -> bool:
    return not isinstance(value, str) or parsedate_to_datetime(value).tzinfo is not None


@formats.checks("phone-number")
def _phone(value) -> bool:
    return not isinstance(value, str) or bool(_E164.match(value))



def make_message_validator(openapi: dict) -> Draft202012Validator:
    """Validates a Message against `api.v2010.account.message`, $refs resolved within the OpenAPI document."""
    document = _nullable_to_json_schema(copy.deepcopy(openapi))
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource(SPEC_URI, resource)
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/api.v2010.account.message"}
    return Draft202012Validator(schema, registry=registry, format_checker=formats)
