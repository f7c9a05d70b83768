"""Signed outgoing webhooks and everything else that happens later, run by one scheduler and a few senders.

One scheduler thread keeps a heap of due events (status transitions, a phone's delayed reply, a webhook
retry); when one falls due it goes to a small pool of worker threads, each with its own keep-alive
connections (http.client, one per host). No thread sleeps per message. `reset()` drops what is pending: an
event scheduled before a reset never runs.

Webhooks are form-encoded POSTs signed like Twilio signs them: `X-Twilio-Signature` is the base64 HMAC-SHA1,
keyed by the auth token, of the URL followed by the sorted parameter names and values
(`twilio.request_validator.RequestValidator.compute_signature`). Connection errors and 5xx answers are retried
a few times with growing pauses; the final answer (or None) goes to the caller's `on_done`.
"""
from __future__ import annotations

import heapq
import http.client
import itertools
import logging
import queue
import select
import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)

USER_AGENT = "TwilioProxy/1.1"
# What a kept-alive connection that the server closed looks like when it is used again.
_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle keep-alive socket that is readable has been closed by the server (or answered unasked)."""
    poller = select.poll()  # not select.select: a busy process has descriptors above FD_SETSIZE
    try:
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


@dataclass
class WebhookResult:
    url: str
    status: int | None  # None: no answer (connection error or timeout) after the last attempt
    body: str
    content_type: str
    attempts: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Dispatcher:
    def __init__(self, auth_token: str, *, workers: int = 8, timeout: float = 15.0, retries: int = 3,
                 retry_delay: float = 0.5) -> None:
        self.validator = RequestValidator(auth_token)
        self.workers = workers
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay  # real seconds before the first retry; doubles each time
        self._heap: list[tuple[float, int, int, Callable, tuple]] = []
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # the scheduler waits on it for the next due event
        self._idle = threading.Condition(lock)  # wait_idle() waits on it for pending to reach 0
        self._seq = itertools.count()
        self._epoch = 0
        self._pending = 0  # scheduled + running events of the current epoch
        self._thread: threading.Thread | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._local = threading.local()
        self._closed = False
        self.counters = {"webhooks_sent": 0, "webhooks_failed": 0, "webhook_retries": 0,
                         "webhook_duplicates": 0, "events_run": 0, "event_errors": 0}
        self._counter_lock = threading.Lock()

    # -- scheduling ------------------------------------------------------------------------------------------

    def _start(self) -> None:
        # Daemon threads (not a ThreadPoolExecutor, whose exit hook would wait for a hanging webhook).
        if self._thread is None:
            for index in range(self.workers):
                worker = threading.Thread(target=self._work, name=f"sms-sim-worker-{index}", daemon=True)
                worker.start()
                self._workers.append(worker)
            self._thread = threading.Thread(target=self._run, name="sms-sim-scheduler", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        self._local.is_worker = True
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._execute(*item)

    def call_later(self, delay: float, fn: Callable, *args) -> None:
        """Run fn(*args) on a worker thread after `delay` real seconds (0: as soon as possible)."""
        with self._cond:
            if self._closed:
                return
            self._start()
            due = time.monotonic() + max(0.0, delay)
            heapq.heappush(self._heap, (due, next(self._seq), self._epoch, fn, args))
            self._pending += 1
            if self._heap[0][0] == due:
                self._cond.notify_all()

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                _due, _seq, epoch, fn, args = heapq.heappop(self._heap)
                if epoch != self._epoch:
                    continue
                self._queue.put((epoch, fn, args))

    def _execute(self, epoch: int, fn: Callable, args: tuple) -> None:
        try:
            if epoch == self._epoch:
                fn(*args)
                self._count("events_run")
        except Exception:  # one bad event must not stop the others
            self._count("event_errors")
            log.exception("simulator event %s failed", getattr(fn, "__name__", fn))
        finally:
            with self._cond:
                if epoch == self._epoch:
                    self._pending -= 1
                    if self._pending <= 0:
                        self._pending = 0
                        self._idle.notify_all()

    @property
    def epoch(self) -> int:
        return self._epoch

    def pending(self) -> int:
        with self._cond:
            return self._pending

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is scheduled or running: status changes, callbacks, retries, and the replies
        phones are still 'thinking' about (with a long delay_median and time_scale 1 that can be minutes)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending > 0:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
            return True

    def reset(self) -> None:
        """Forget every pending event; events already running finish but schedule nothing that survives."""
        with self._cond:
            self._epoch += 1
            self._heap.clear()
            self._pending = 0
            self._idle.notify_all()
        with self._counter_lock:
            for key in self.counters:
                self.counters[key] = 0

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._epoch += 1
            self._heap.clear()
            self._pending = 0
            self._cond.notify_all()
        for _worker in self._workers:
            self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _count(self, key: str, amount: int = 1) -> None:
        with self._counter_lock:
            self.counters[key] += amount

    def stats(self) -> dict:
        with self._counter_lock:
            data = dict(self.counters)
        data["pending_events"] = self.pending()
        return data

    # -- webhooks --------------------------------------------------------------------------------------------

    def _connection(self, scheme: str, netloc: str) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's keep-alive connection to `netloc`, and whether it served a request before."""
        connections = getattr(self._local, "connections", None)
        if connections is None:
            connections = self._local.connections = {}
        connection = connections.get((scheme, netloc))
        if connection is not None and connection.sock is not None and _closed_by_peer(connection.sock):
            connection.close()  # the server dropped it while idle (gunicorn's keep-alive timeout)
        if connection is None:
            factory = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            connection = connections[(scheme, netloc)] = factory(netloc, timeout=self.timeout)
        return connection, connection.sock is not None

    def sign(self, url: str, params: dict[str, str]) -> str:
        return self.validator.compute_signature(url, params)

    def post(self, url: str, params: dict[str, str], on_done: Callable[[WebhookResult], None] | None = None,
             *, idempotency_token: str | None = None) -> None:
        """A signed webhook POST now; retries run through the scheduler, not by sleeping. Posted at once from a
        worker thread (an event such as a status transition posting its callback: it waits for the answer
        anyway, and a trip through the scheduler to another worker cost as much CPU as the signing), else
        scheduled (an HTTP request thread must not wait for it)."""
        if getattr(self._local, "is_worker", False) and not self._closed:
            self._attempt(url, params, on_done, idempotency_token, 1)
        else:
            self.call_later(0.0, self._attempt, url, params, on_done, idempotency_token, 1)

    def post_now(self, url: str, params: dict[str, str], *, idempotency_token: str | None = None,
                 attempt: int = 1) -> WebhookResult:
        """One signed POST from the calling thread (no retry but the one below).

        Straight through http.client on a kept-alive connection per thread and host: requests cost ~0.5 ms
        of CPU a POST here (preparing, its adapters, urllib3's pool), which at two status callbacks per
        message was a third of the simulator's CPU in the send benchmark (docs/benchmarks.md)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return WebhookResult(url, None, "", "", attempt, error=f"InvalidURL: {url!r}")
        headers = {
            "X-Twilio-Signature": self.sign(url, params),
            "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
            "Accept": "*/*",
            "User-Agent": USER_AGENT,
        }
        if idempotency_token:
            headers["I-Twilio-Idempotency-Token"] = idempotency_token
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        body = urlencode(params).encode()
        while True:
            connection, reused = self._connection(parts.scheme, parts.netloc)
            try:
                connection.request("POST", target, body, headers)
                response = connection.getresponse()
                text = response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                if reused and isinstance(error, _STALE_CONNECTION):
                    continue  # closed under us between the check and the request: once more, on a new one
                return WebhookResult(url, None, "", "", attempt, error=f"{type(error).__name__}: {error}")
            content_type = response.getheader("Content-Type", "")
            # TwiML is XML: UTF-8 unless declared
            charset = response.headers.get_content_charset() or "utf-8"
            return WebhookResult(url, response.status, text.decode(charset, errors="replace"), content_type,
                                 attempt)

    def _attempt(self, url: str, params: dict[str, str], on_done, token: str | None, attempt: int) -> None:
        result = self.post_now(url, params, idempotency_token=token, attempt=attempt)
        retryable = result.status is None or result.status >= 500
        if retryable and attempt <= self.retries:
            self._count("webhook_retries")
            pause = self.retry_delay * (2 ** (attempt - 1))
            self.call_later(pause, self._attempt, url, params, on_done, token, attempt + 1)
            return
        self._count("webhooks_sent" if result.ok else "webhooks_failed")
        if not result.ok:
            log.warning("webhook to %s failed after %d attempt(s): %s", url, attempt,
                        result.error or f"HTTP {result.status}")
        if on_done is not None:
            on_done(result)

    def count_duplicate(self) -> None:
        self._count("webhook_duplicates")


@dataclass(frozen=True)
class TwimlMessage:
    body: str
    to: str | None = None
    from_: str | None = None
    action: str | None = None  # status callback URL for this reply


class TwimlError(ValueError):
    """The webhook answered something that is not TwiML (Twilio logs error 12100)."""


def parse_twiml_messages(text: str) -> list[TwimlMessage]:
    """The `<Message>` verbs of a TwiML `<Response>` (an empty body or `<Response/>` means: no reply)."""
    text = (text or "").strip()
    if not text:
        return []
    try:
        root = ElementTree.fromstring(text.encode("utf-8"))
    except ElementTree.ParseError as error:
        raise TwimlError(f"the webhook's answer is not XML: {error}") from None
    if root.tag != "Response":
        raise TwimlError(f"TwiML must be a <Response>, not <{root.tag}>")
    messages = []
    for element in root.iter("Message"):
        body_element = element.find("Body")
        body = body_element.text if body_element is not None else element.text
        messages.append(TwimlMessage(
            body=(body or "").strip(),
            to=element.get("to"),
            from_=element.get("from"),
            action=element.get("action") or element.get("statusCallback"),
        ))
    return messages
