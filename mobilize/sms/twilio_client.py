"""The one place that builds the `twilio` REST client, for real Twilio or for the simulator.

The simulator is reached by pointing the Api domain at another base URL (`client.api.base_url`): every
Messages call (create, fetch, list and its next pages, which follow `next_page_uri` through the same domain)
goes there, and nothing else about the client changes. The HTTP session keeps its connections alive, with a
pool big enough for the service's sending threads.
"""
from __future__ import annotations

import logging

from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

HTTP_LOGGER = "mobilize.sms.twilio_http"


def make_twilio_client(account_sid: str, auth_token: str, base_url: str | None = None, *,
                       timeout: float | None = 30.0, pool_size: int = 32) -> Client:
    """A `twilio.rest.Client`; base_url None talks to real Twilio, otherwise e.g. `http://127.0.0.1:5010`."""
    # twilio-python logs each request's URL, query (phone numbers!) and headers at INFO: give it a logger of
    # ours that stays quiet unless someone sets it to INFO/DEBUG on purpose.
    http_log = logging.getLogger(HTTP_LOGGER)
    if http_log.level == logging.NOTSET:
        http_log.setLevel(logging.WARNING)
    http_client = TwilioHttpClient(pool_connections=True, timeout=timeout, logger=http_log)
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
    http_client.session.mount("https://", adapter)
    http_client.session.mount("http://", adapter)
    client = Client(account_sid, auth_token, http_client=http_client)
    if base_url:
        client.api.base_url = base_url.rstrip("/")
        http_client.session.trust_env = False  # no proxy/netrc lookups in os.environ on every request
        client.edge = None  # else TWILIO_EDGE / TWILIO_REGION from the environment would rewrite the host
        client.region = None
    return client
