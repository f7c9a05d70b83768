"""Security headers on every response of the app: pages, the JSON API, health and metrics, webhooks, streams.

Pages get a policy that lets them load this site's own scripts and styles (nothing inline, no CDN); every
other response gets one that allows nothing at all, since JSON, CSV or Prometheus text has nothing to load:
were it opened in a browser tab, or a proxy's error turned it into a document, it could run no script and sit
in no frame. A view that serves a document of its own (the printable certificate) sets its own policy, which
is kept.
"""
from __future__ import annotations

from flask import Flask, Response, request

from mobilize.web.errors import is_api_request

# Applied to every HTML page (not to the API, the webhooks or static files): scripts and styles only from this
# site (nothing inline, no CDN), no framing.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
# Everything else (JSON, CSV, text, event streams, TwiML): nothing to load, no framing.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
NO_LOGIN_CACHE_BLUEPRINTS = ("ui", "auth")


def register(app: Flask) -> None:
    app.after_request(add_security_headers)


def add_security_headers(response: Response) -> Response:
    # Headers.setdefault scans every header for each name (and set() once more): one scan for the four here, a
    # visible share of a webhook's CPU (two status callbacks per message sent).
    headers = response.headers
    present = {name.lower() for name in headers.keys()}
    api = is_api_request()
    is_page = response.mimetype == "text/html" and not api
    for name, value in (("Content-Security-Policy", PAGE_POLICY if is_page else DATA_POLICY),
                        ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"),
                        # Pages link to each other (same origin keeps the path for the server's own use); data
                        # responses have nothing to link to, and their URLs name people and orders.
                        ("Referrer-Policy", "same-origin" if is_page else "no-referrer")):
        if name.lower() not in present:
            headers.add(name, value)
    if is_page and request.blueprint in NO_LOGIN_CACHE_BLUEPRINTS:
        headers["Cache-Control"] = "no-store"  # no page of a logged-out user from the back button
    elif api and "cache-control" not in present:
        # Phone numbers and names: no copy on disk in a browser or a proxy.
        headers.add("Cache-Control", "no-store")
    return response
