"""A small Python client of the simulator's control API (`/_sim/...`), for tests and the drill."""
from __future__ import annotations

import time
from dataclasses import asdict, is_dataclass
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote

import requests


class SimulatorControlError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"simulator control API answered {status}: {message}")
        self.status = status
        self.message = message


class SimulatorControl:
    """Talks to a running simulator: `SimulatorControl("http://127.0.0.1:5010")`."""

    def __init__(self, base_url: str, *, timeout: float = 30.0,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.trust_env = False

    # -- plumbing --------------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, json: Any = None, params: Mapping | None = None,
              timeout: float | None = None) -> Any:
        response = self.session.request(method, f"{self.base_url}/_sim{path}", json=json, params=params,
                                        timeout=timeout or self.timeout)
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:500]
            raise SimulatorControlError(response.status_code, message)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    @staticmethod
    def _number(number: str) -> str:
        return quote(number, safe="")

    # -- simulator -------------------------------------------------------------------------------------------

    def health(self) -> dict:
        return self._call("GET", "/health")

    def config(self) -> dict:
        return self._call("GET", "/config")

    def set_webhook_url(self, url: str | None) -> dict:
        """Where texts from phones go (the service's /twilio/sms); None stops forwarding them."""
        return self._call("POST", "/webhook", json={"url": url})

    def reset(self, keep_phones: bool = False) -> None:
        """Forget messages, pending events, opt-outs, counters; faults back to the configured ones."""
        self._call("POST", "/reset", json={"keep_phones": keep_phones})

    def faults(self) -> dict:
        return self._call("GET", "/faults")

    def set_faults(self, reset: bool = False, **changes: Any) -> dict:
        """Change fault settings: throttle_rate, server_error_rate, latency_ms (ms or [low, high]), accept_latency_ms,
        undelivered_rate, failed_rate, duplicate_webhook_rate, seed. reset=True starts from no faults."""
        body = dict(changes)
        if reset:
            body["reset"] = True
        return self._call("POST", "/faults", json=body)

    def clear_faults(self) -> dict:
        return self._call("DELETE", "/faults")

    def stats(self) -> dict:
        return self._call("GET", "/stats")

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once no status change, callback or phone reply is pending; False if `timeout` passed first."""
        return self._call("POST", "/wait-idle", json={"timeout": timeout}, timeout=timeout + 10)["idle"]

    # -- phones ----------------------------------------------------------------------------------------------

    def register_phones(self, phones: Iterable[str | Mapping], profile: Any = None,
                        responder: str | None = None) -> dict:
        """Register many phones at once: numbers, or {"number", "profile", "responder"} dicts. `profile` (a
        PhoneProfile or a dict of its fields) applies to entries without their own."""
        body: dict = {"phones": [self._phone_entry(item) for item in phones]}
        if profile is not None:
            body["profile"] = _profile_dict(profile)
        if responder is not None:
            body["responder"] = responder
        return self._call("POST", "/phones", json=body)

    @staticmethod
    def _phone_entry(item: str | Mapping) -> str | dict:
        if isinstance(item, str):
            return item
        entry = dict(item)
        if entry.get("profile") is not None:
            entry["profile"] = _profile_dict(entry["profile"])
        return entry

    def register_phone(self, number: str, profile: Any = None, responder: str | None = None) -> dict:
        return self.register_phones([number], profile=profile, responder=responder)

    def update_phone(self, number: str, *, profile: Any = None, responder: str | None = None,
                     opted_out: bool | None = None) -> dict:
        body: dict = {}
        if profile is not None:
            body["profile"] = _profile_dict(profile)
        if responder is not None:
            body["responder"] = responder
        if opted_out is not None:
            body["opted_out"] = opted_out
        return self._call("PATCH", f"/phones/{self._number(number)}", json=body)

    def remove_phone(self, number: str) -> None:
        self._call("DELETE", f"/phones/{self._number(number)}")

    def phones(self, query: str | None = None, *, limit: int = 200, offset: int = 0,
               registered_only: bool = False) -> list[dict]:
        params: dict = {"limit": limit, "offset": offset}
        if query:
            params["q"] = query
        if registered_only:
            params["registered"] = "1"
        return self._call("GET", "/phones", params=params)["phones"]

    def phone(self, number: str) -> dict:
        """{"phone": summary, "messages": conversation, oldest first}."""
        return self._call("GET", f"/phones/{self._number(number)}")

    def conversation(self, number: str) -> list[dict]:
        try:
            return self.phone(number)["messages"]
        except SimulatorControlError as error:
            if error.status == 404:
                return []
            raise

    def send_from_phone(self, number: str, body: str, *, to: str | None = None, wait: bool = False,
                        timeout: float = 30.0) -> dict:
        """The phone texts the service. With wait=True the answer says what the webhook did:
        {"message": ..., "webhook": {"status", "attempts", "error", "replies": [...]}}."""
        payload: dict = {"body": body, "wait": wait, "timeout": timeout}
        if to:
            payload["to"] = to
        return self._call("POST", f"/phones/{self._number(number)}/messages", json=payload,
                          timeout=timeout + 10)

    # -- messages --------------------------------------------------------------------------------------------

    def messages(self, *, to: str | None = None, from_: str | None = None, direction: str | None = None,
                 status: str | None = None, origin: str | None = None, after: int | None = None,
                 limit: int = 1000) -> list[dict]:
        """Messages newest first, each Twilio's JSON plus seq, origin, intent, status_callback and history."""
        params = {key: value for key, value in (("to", to), ("from", from_), ("direction", direction),
                                                ("status", status), ("origin", origin), ("after", after),
                                                ("limit", limit)) if value is not None}
        return self._call("GET", "/messages", params=params)["messages"]

    def wait_for_messages(self, predicate: Callable[[list[dict]], bool] | int, *, timeout: float = 10.0,
                          interval: float = 0.05, **filters: Any) -> list[dict]:
        """Poll messages(**filters) until predicate(messages) holds (an int: at least that many messages)."""
        check = (lambda rows: len(rows) >= predicate) if isinstance(predicate, int) else predicate
        deadline = time.monotonic() + timeout
        while True:
            rows = self.messages(**filters)
            if check(rows):
                return rows
            if time.monotonic() > deadline:
                raise TimeoutError(f"simulator messages {filters} did not match within {timeout}s "
                                   f"({len(rows)} found)")
            time.sleep(interval)


def _profile_dict(profile: Any) -> dict:
    if is_dataclass(profile):
        return asdict(profile)
    return dict(profile)
